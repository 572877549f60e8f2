"""The browsable API docs' assets (Swagger UI), served from a pinned package: the docs page
works on a hospital network without internet access."""

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/api/v1/docs/assets/"

bp = Blueprint("docs_assets", __name__)


@bp.get(ASSETS + "<path:filename>")
def asset(filename):
    """One file of Swagger UI's distribution, cached by the browser for a day."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
