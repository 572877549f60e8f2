"""GET /healthz: can the service serve, i.e. do the database and Redis answer."""

from flask import Blueprint

from app.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when every dependency answers, 503 naming the ones that do not."""
    return health.check_dependencies()


@bp.get("/livez")
def livez():
    """200 while the process serves requests; touches no dependency (a liveness probe)."""
    return {"status": "ok"}
