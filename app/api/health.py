"""Operations' endpoints: liveness, readiness (do the database and Redis answer) and the
metrics, which the public site does not pass through (deploy/nginx)."""

import logging

import redis
from flask import Blueprint, Response, current_app

from app.infra import metrics, queue
from app.services import health

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when every dependency answers, 503 naming the ones that do not."""
    return health.check_dependencies()


@bp.get("/livez")
def livez():
    """200 while the process serves requests; touches no dependency (a liveness probe)."""
    return {"status": "ok"}


@bp.get("/metrics")
def metrics_text():
    """The service's metrics in Prometheus's text format (the job queues' while Redis answers)."""
    try:
        queues = queue.get_queues()
        queues[0].count  # noqa: B018 - Redis answers, or the queues are left out
    except redis.RedisError as error:
        log.warning("job queues left out of the metrics: %s", error)
        queues = []
    text, content_type = metrics.exposition(current_app.config["METRICS_MULTIPROC_DIR"], queues)
    return Response(text, content_type=content_type)
