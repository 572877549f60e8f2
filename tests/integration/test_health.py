"""/healthz: 200 when MySQL and Redis answer, 503 naming whichever does not."""

import config
from app import create_app
from app.extensions import redis_store


def test_healthy(app, session):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"] == {"mysql": "ok", "redis": "ok"}


def test_redis_down_is_named(app, session, monkeypatch):
    monkeypatch.setitem(
        app.extensions, "redis", redis_store.connect("redis://127.0.0.1:1/0", app.config)
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.json
    assert body["code"] == "service_unavailable" and body["failed"] == ["redis"]
    assert "redis" in body["message"]
    assert body["checks"]["mysql"] == "ok"


def test_mysql_down_is_named():
    settings = config.TestingConfig()
    settings.SQLALCHEMY_DATABASE_URI = "mysql+pymysql://root@127.0.0.1:1/nothing?charset=utf8mb4"
    response = create_app(settings).test_client().get("/healthz")
    assert response.status_code == 503
    body = response.json
    assert body["failed"] == ["mysql"] and body["checks"]["redis"] == "ok"
