"""E2E tier: the seeded app served over HTTP on 127.0.0.1, called with a real HTTP client."""

from datetime import timedelta

import pytest

from app.api.hot import HotPaths
from app.domain import clock
from app.extensions import db, redis_store
from app.models import Account, Doctor
from app.services.demo import seed_demo
from tests.e2e.clients import AppClient, User
from tests.e2e.wechat_helpers import WeChatPhone
from tests.factories import make_department, make_doctor, make_hospital, make_schedule
from tests.support import ServedApp, testing_app

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


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
    with AppClient(served.url) as client:
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


@pytest.fixture
def world(served):
    """Builds committed catalogue rows in the served app's database."""

    class World:
        def __call__(self, factory, *args, **kwargs):
            with served.app.app_context():
                row = factory(*args, **kwargs)
                db.session.commit()
                return row.id

        def doctor(self, **department):
            with served.app.app_context():
                doctor = make_doctor(make_department(make_hospital(), **department))
                db.session.commit()
                return doctor.id

        def schedule(self, doctor_id=None, **fields):
            with served.app.app_context():
                doctor = db.session.get(Doctor, doctor_id) if doctor_id else None
                schedule = make_schedule(doctor, **({"on": TOMORROW} | fields))
                db.session.commit()
                return schedule.id

        def block(self, account_id, until):
            with served.app.app_context():
                db.session.get(Account, account_id).blocked_until = until
                db.session.commit()

    return World()


@pytest.fixture
def flask_calls(served):
    """How many requests went past the hot paths to Flask (a list, one entry per path)."""
    hot = served.app.wsgi_app.wsgi_app  # inside the observing layer (app/api/observed.py)
    assert isinstance(hot, HotPaths)
    behind, calls = hot.wsgi_app, []

    def counted(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return behind(environ, start_response)

    hot.wsgi_app = counted
    yield calls
    hot.wsgi_app = behind


@pytest.fixture
def without_hot_paths(served):
    """Call ``without_hot_paths(request)`` to make a request go straight to Flask (still
    observed, as every request is)."""
    observed = served.app.wsgi_app
    hot = observed.wsgi_app

    def call(request):
        observed.wsgi_app = hot.wsgi_app
        try:
            return request()
        finally:
            observed.wsgi_app = hot

    return call
