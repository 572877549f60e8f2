"""The production recipe, run: Debian's nginx with the shipped site (deploy/nginx/booking.conf)
over TLS, in front of real gunicorn (gunicorn.conf.py) serving the seeded app on its own MariaDB
database and Redis db, with TRUSTED_PROXIES=1 as docs/deployment.md prescribes.

The test client connects from 127.0.0.2, a phone on the internet as nginx sees it; nginx and
gunicorn talk over 127.0.0.1. The WeChat stand-in is called directly on gunicorn (the phone talks
to WeChat, not through our proxy), since the site refuses /sandbox.
"""

import json
import os
import time
from datetime import timedelta

import pymysql
import pytest
from sqlalchemy.engine import make_url

from app.domain import clock
from app.extensions import db, redis_store
from app.services.demo import seed_demo
from bench.server import Gunicorn, free_port
from tests import support
from tests.e2e.clients import AppClient, User, expect, hold, patient_of
from tests.e2e.nginx_helpers import NGINX, FromAddress, Nginx
from tests.e2e.sms_helpers import new_phone
from tests.e2e.wechat_helpers import WeChatPhone
from tests.factories import make_schedule

CLIENT_ADDRESS = "127.0.0.2"
# Secrets the test process and every gunicorn worker must share (the seeded rows, the stand-ins).
SHARED_SECRETS = (
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "LOOKUP_HASH_KEY",
    "TICKET_SIGNING_KEY",
    "WECHAT_SECRET",
    "SMS_SECRET_KEY",
)


def _drop_database(url):
    parsed = make_url(url)
    connection = pymysql.connect(
        host=parsed.host, port=parsed.port or 3306, user=parsed.username, password=parsed.password
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{parsed.database}`")
    finally:
        connection.close()


@pytest.fixture(scope="module")
def app():
    """The app's database (TEST_DATABASE_URL's name + "_deploy", migrated, demo data) and Redis
    db (3 below TEST_REDIS_URL's), dropped and flushed afterwards."""
    app = support.testing_app("_deploy", redis_offset=3)
    with app.app_context():
        redis_store.client.flushdb()
        seed_demo()
    yield app
    with app.app_context():
        redis_store.client.flushdb()
        db.engine.dispose()
    _drop_database(app.config["SQLALCHEMY_DATABASE_URI"])


@pytest.fixture(scope="module")
def stack(app, tmp_path_factory):
    """gunicorn (2 workers) behind nginx; both stopped at the end, whatever happened."""
    assert NGINX.exists(), "Debian's nginx is missing: scripts/services.sh nginx installs it"
    directory = tmp_path_factory.mktemp("deploy")
    port = free_port()
    environment = {
        **os.environ,
        "APP_ENV": "development",
        "FLASK_DEBUG": "0",
        "PORT": str(port),  # the stand-ins' base URLs: gunicorn itself
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "TRUSTED_PROXIES": "1",
        **{name: app.config[name] for name in SHARED_SECRETS},
    }
    gunicorn = Gunicorn(port, 2, 4, environment, directory / "gunicorn.log")
    proxy = Nginx(directory / "nginx", free_port(), free_port(), f"127.0.0.1:{port}")
    try:
        gunicorn.start().wait_ready(timeout=60)
        proxy.start()
        yield gunicorn, proxy
    finally:
        proxy.stop()
        gunicorn.stop()


@pytest.fixture(scope="module")
def web(stack):
    """A phone's HTTPS client of the public site, connecting from 127.0.0.2."""
    _, proxy = stack
    with AppClient(proxy.url) as client:
        client.mount("https://", FromAddress(CLIENT_ADDRESS))
        client.trust_env = False  # REQUESTS_CA_BUNDLE would override the verify below
        client.verify = str(proxy.cert)
        yield client


@pytest.fixture(scope="module")
def direct(stack):
    """A client of gunicorn itself, behind the proxy's back."""
    gunicorn, _ = stack
    with AppClient(gunicorn.url) as client:
        yield client


@pytest.fixture(scope="module")
def user(stack, web):
    gunicorn, _ = stack
    return User(web, WeChatPhone(gunicorn.url))


def test_health_passes_through(web):
    live = web.get("/livez")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert live.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert web.get("/healthz").status_code == 200


def test_plain_http_is_sent_to_https(stack):
    _, proxy = stack
    with AppClient(proxy.http_url) as client:
        response = client.get("/api/v1/hospitals?q=1", allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/api/v1/hospitals?q=1"


def test_the_sandbox_and_metrics_stop_at_the_proxy(web, direct):
    openid = "o-deploy-probe"
    # The app serves its stand-ins off production; the public site never does.
    assert direct.get("/sandbox/wechat/messages", params={"openid": openid}).status_code == 200
    for response in (
        web.get("/sandbox/wechat/messages", params={"openid": openid}),
        web.post("/sandbox/wechat/login-code", json={"openid": openid}),
        web.get("/sandbox"),
        web.get("/metrics"),
        web.get("/metrics/anything"),
    ):
        assert response.status_code == 404
        # nginx's own page, not the app's JSON envelope: the request never went upstream.
        assert response.headers["Content-Type"].startswith("text/html"), response.text


def test_a_body_over_the_limit_is_refused_by_the_proxy(web, user):
    too_big = {"schedule_id": 1, "patient_id": 1, "padding": "x" * (70 * 1024)}
    for response in (
        user.call("POST", "/api/v1/orders", json=too_big, headers={"Idempotency-Key": "big-001"}),
        web.post("/webhooks/wechatpay", data=b"{" + b" " * (70 * 1024) + b"}"),
    ):
        assert response.status_code == 413
        assert response.json() == {"code": "payload_too_large", "message": "请求内容过大"}
    # Under the limit a notify reaches the app, which judges it (an unsigned one is refused).
    small = web.post("/webhooks/wechatpay", data=b"{" + b" " * (32 * 1024) + b"}")
    assert small.status_code not in (413, 502, 503, 504)
    assert small.headers["Content-Type"].startswith("application/json")


def test_public_catalogue_reads_are_micro_cached_but_never_with_a_token(web, user):
    hospital_id = web.get("/api/v1/hospitals").json()["items"][0]["id"]
    url = f"/api/v1/hospitals/{hospital_id}/departments"
    first = web.get(url)
    second = web.get(url)  # well within the second the answer stays fresh
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cache-Status"] == "MISS"
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.json() == first.json()

    # nginx keeps time in whole seconds: "valid 1s" lasts until the next second but one.
    time.sleep(2.2)
    signed = user.call("GET", url)
    assert signed.status_code == 200 and signed.headers["X-Cache-Status"] == "BYPASS"
    # The signed answer was not stored: the next anonymous read finds the stale one, not a fresh.
    assert web.get(url).headers["X-Cache-Status"] in ("EXPIRED", "MISS")

    search = web.get("/api/v1/search", params={"q": "内科"})
    assert search.status_code == 200 and search.headers["X-Cache-Status"] == "MISS"
    for private in ("/api/v1/me", "/api/v1/patients", "/api/v1/orders"):
        for response in (web.get(private), user.call("GET", private)):
            assert response.status_code in (200, 401), response.text
            assert "X-Cache-Status" not in response.headers, private


def test_a_booking_through_the_proxy(app, web, user):
    with app.app_context():
        schedule = make_schedule(on=clock.business_date(clock.now()) + timedelta(days=1))
        db.session.commit()
        schedule_id = schedule.id
    patient_id = patient_of(user)
    order = expect(hold(user, schedule_id, patient_id), 201)
    assert order["status"] == "pending_payment" and order["seq"] == 1
    orders = user.call("GET", "/api/v1/orders")
    assert orders.status_code == 200 and "X-Cache-Status" not in orders.headers
    assert [item["id"] for item in orders.json()["items"]] == [order["id"]]


def test_the_app_sees_the_client_address_nginx_saw(app, web):
    """TRUSTED_PROXIES=1: the per-IP SMS limit counts the phone's address, which nginx appends
    to X-Forwarded-For, and not an address the phone wrote there itself."""
    with app.app_context():
        for key in redis_store.client.scan_iter("ratelimit:sms-ip-hour:*"):
            redis_store.client.delete(key)
    sent = web.post(
        "/api/v1/auth/sms/send",
        json={"phone": new_phone()},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert sent.status_code == 200, sent.text
    with app.app_context():
        keys = set(redis_store.client.scan_iter("ratelimit:sms-ip-hour:*"))
    assert keys == {f"ratelimit:sms-ip-hour:{CLIENT_ADDRESS}".encode()}


def _metric(text, name, **labels) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_add_up_every_workers_requests_and_only_gunicorn_serves_them(direct, web):
    def livez_count():
        text = direct.get("/metrics").text
        return _metric(
            text,
            "booking_http_request_duration_seconds_count",
            endpoint="/livez",
            method="GET",
            status="200",
        )

    before = livez_count()
    for _ in range(40):  # over two workers: each counts its own, the scrape adds them up
        assert web.get("/livez").status_code == 200
    assert livez_count() - before == 40
    scraped = direct.get("/metrics")
    assert scraped.headers["Content-Type"].startswith("text/plain; version=")
    assert 'booking_jobs_queued{queue="default"}' in scraped.text
    assert web.get("/metrics").status_code == 404


def test_logs_are_json_lines_with_the_request_id_nginx_gave(stack, web):
    gunicorn, _ = stack
    answer = web.get("/api/v1/hospitals/999999999")
    request_id = answer.headers["X-Request-Id"]
    assert len(request_id) == 32  # nginx's $request_id, passed on and sent back
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in gunicorn.log_path.read_text().splitlines() if line]
        mine = [line for line in lines if line.get("request_id") == request_id]
        if mine:
            break
        time.sleep(0.05)
    (access,) = [line for line in mine if line["logger"] == "access"]
    assert (access["status"], access["endpoint"]) == (404, "/api/v1/hospitals/<int:hospital_id>")
    assert access["client"] == CLIENT_ADDRESS
    assert all("time" in line and "level" in line for line in lines)
