"""Whether the service's dependencies answer."""

import logging

import sqlalchemy as sa

from app.errors import AppError
from app.extensions import db, redis_store

log = logging.getLogger(__name__)


class DependencyDown(AppError):
    status = 503
    code = "service_unavailable"
    message = "依赖服务不可用"


def _probe(name, call, checks):
    try:
        call()
        checks[name] = "ok"
    except Exception as error:  # any failure of the driver means "down": reported, not raised
        log.warning("health: %s failed: %s", name, error)
        checks[name] = f"error: {type(error).__name__}"


def check_dependencies() -> dict:
    """One cheap round trip to the database and to Redis; 503 naming whichever failed."""
    checks = {}
    try:
        _probe(db.engine.dialect.name, lambda: db.session.execute(sa.text("SELECT 1")), checks)
    finally:
        db.session.rollback()
    _probe("redis", redis_store.client.ping, checks)
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if failed:
        raise DependencyDown("依赖服务不可用：" + "、".join(failed), failed=failed, checks=checks)
    return {"status": "ok", "checks": checks}
