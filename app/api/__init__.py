"""The patient-facing JSON API, /api/v1."""

from app.api import catalogue, health
from app.extensions import api


def register_blueprints(app):
    """Mount every API blueprint; OpenAPI is generated from them."""
    api.register_blueprint(catalogue.blp, url_prefix="/api/v1")
    app.register_blueprint(health.bp)
