"""E2E tier: the seeded app served over HTTP on 127.0.0.1, called with a real HTTP client."""

import pytest
import requests

from app.extensions import redis_store
from app.services.demo import seed_demo
from tests.e2e.clients import User
from tests.e2e.wechat_helpers import WeChatPhone
from tests.support import ServedApp, testing_app


@pytest.fixture(scope="session")
def served():
    app = testing_app("_e2e", redis_offset=1)
    with app.app_context():
        redis_store.client.flushdb()
        seed_demo()
    with ServedApp(app) as server:
        server.app = app
        # The server listens on a random port: point the adapters at its stand-ins.
        app.config["WECHAT_API_BASE"] = server.url + "/sandbox/wechat/"
        app.config["SMS_API_BASE"] = server.url + "/sandbox/sms/"
        app.config["WECHATPAY_API_BASE"] = server.url + "/sandbox/wechatpay"
        app.config["PUBLIC_BASE_URL"] = server.url
        app.config["ALIPAY_GATEWAY"] = server.url + "/sandbox/alipay/gateway.do"
        yield server


@pytest.fixture(scope="session")
def http(served):
    """GET/POST against the served app: ``http.get("/api/v1/hospitals")``."""

    class Client(requests.Session):
        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", 10)
            return super().request(method, served.url + url, *args, **kwargs)

    with Client() as client:
        yield client


@pytest.fixture(scope="session")
def phone(served):
    """The patient's phone, as the WeChat stand-in sees it."""
    return WeChatPhone(served.url)


@pytest.fixture
def user(http, phone):
    """A new patient account, signed in through WeChat."""
    return User(http, phone)


@pytest.fixture
def other(http, phone):
    """A second, unrelated account."""
    return User(http, phone)
