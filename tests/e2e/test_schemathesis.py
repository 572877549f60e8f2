"""schemathesis against the served app's OpenAPI document, as a signed-in patient.

Every operation of the document is called with requests generated from it — its examples, the
coverage phase's boundary and malformed values, and fuzzed ones — and every answer goes through
all of schemathesis's checks: no server error, status codes, content types, headers and bodies as
documented, malformed requests refused, well-formed ones accepted, authentication enforced; then
the stateful phase chains operations through the links it infers. On top, no 2xx answer carries
an error envelope.

The run is bounded and repeatable: a fixed seed, derandomized Hypothesis, no example database,
MAX_EXAMPLES fuzzed requests per operation. It runs against an app of its own (database and Redis
db), served on 127.0.0.1 with its stand-ins, so its thousands of requests (rate limits, accounts,
patients) touch no other test's state.

What a schema cannot say, and how this test is told (the one check set aside, for the one case):

- A calendar or a doctor's schedules from a past ``start``, or from over a year ahead: the
  document says in the parameter's description that ``start`` cannot be before today nor more
  than 366 days after it (a static schema cannot compare with today), and the API answers
  ``422 validation_error`` naming ``start``. For a generated ``start`` out of that range,
  "valid data accepted" gives way to that exact answer.
- A login or phone code made up by the generator (``/auth/wechat``, ``/auth/phone``,
  ``/auth/sms/login``): well formed, yet no provider issued it, so the answer is the documented
  ``400 invalid_code``; when it is, "valid data accepted" is set aside.
- A patient's ID number that has the document's form (5–18 letters and digits) but not its
  type's format, check digit or birth date, or a sex or birth date it contradicts, or a document
  that does not carry them without them typed, or a typed birth date after today or before 1900:
  rules across fields, checksums and today, which the fields' descriptions state; the answer is
  ``422 invalid_id_number`` (or ``validation_error`` on ``sex``/``birth_date``), and when it is,
  "valid data accepted" is set aside.

Requests sent as the patient must never be answered 401: that would be this test failing to sign
in, which every check would otherwise pass as "authentication enforced".
"""

import json
from datetime import date, timedelta

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

import config
from app import create_app
from app.domain import clock
from app.domain.schedule import MAX_DAYS_AHEAD
from app.extensions import db, redis_store
from app.services.demo import seed_demo
from tests import support
from tests.e2e.clients import AppClient
from tests.e2e.wechat_helpers import WeChatPhone, new_openid

MAX_EXAMPLES = 15
SEED = 20261203
CONFIG = {
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "checks": {"enabled": True},
}
STATEFUL = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    stateful_step_count=6,
    derandomize=True,
    database=None,
    deadline=None,
    # Every step is a request to a server: slow, and the links' data is drawn with filters.
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much],
)

# Operations whose start query parameter may be neither before today nor over a year after it.
WINDOWED = {
    "GET /api/v1/departments/{department_id}/calendar",
    "GET /api/v1/doctors/{doctor_id}/schedules",
}
# Operations that take a code only a provider can issue.
CODE_TAKING = {
    "POST /api/v1/auth/wechat",
    "POST /api/v1/auth/phone",
    "POST /api/v1/auth/sms/login",
}
# Operations after whose success the patient's tokens no longer work.
REVOKING = {"DELETE /api/v1/me", "POST /api/v1/auth/logout"}


def _document():
    """The OpenAPI document as the app serves it, built by an app of the test configuration
    (operations are parametrized when the module is collected, before any server runs)."""
    response = create_app(config.TestingConfig()).test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


class Patient:
    """The signed-in patient: signs in through the WeChat stand-in whenever it has no token, as
    after a generated ``DELETE /me`` or ``POST /auth/logout`` revoked the last one."""

    def __init__(self, url):
        self.http = AppClient(url)
        self.phone = WeChatPhone(url)
        self.openid = new_openid()
        self._token = None

    @property
    def token(self):
        if self._token is None:
            code = self.phone.login_code(self.openid)
            response = self.http.post("/api/v1/auth/wechat", json={"code": code})
            assert response.status_code == 200, response.text
            self._token = response.json()["token"]
        return self._token

    def saw(self, case, response):
        """Forget the token once an answer says it no longer works."""
        revoked = case.operation.label in REVOKING and response.status_code == 204
        if revoked or response.status_code == 401:
            self._token = None


# Credentials are put in when schemathesis builds a case, some at collection, before any patient
# has signed in: a placeholder marks the cases to send signed in, replaced when they are sent.
SIGNED_IN = "Bearer signed-in-patient"


@schema.auth.auth(refresh_interval=None)
class PatientToken:
    """schemathesis's credentials: the signed-in patient's bearer token, when the case is sent."""

    def get(self, case, context):
        return SIGNED_IN

    def set(self, case, placeholder, context):
        case.headers = {**(case.headers or {}), "Authorization": placeholder}


@pytest.fixture(scope="module")
def served():
    # Its own database and Redis db (flushed before and after: other modules' apps share it);
    # no log line for each of its thousands of requests.
    app = support.testing_app("_schemathesis", redis_offset=3, LOG_REQUESTS=False)
    with app.app_context():
        redis_store.client.flushdb()
        seed_demo()
    with support.ServedApp(app) as server:
        server.app = app
        app.config["WECHAT_API_BASE"] = server.url + "/sandbox/wechat/"
        app.config["SMS_API_BASE"] = server.url + "/sandbox/sms/"
        app.config["WECHATPAY_API_BASE"] = server.url + "/sandbox/wechatpay"
        app.config["PUBLIC_BASE_URL"] = server.url
        app.config["ALIPAY_GATEWAY"] = server.url + "/sandbox/alipay/gateway.do"
        yield server
    with app.app_context():
        redis_store.client.flushdb()
        db.engine.dispose()


@pytest.fixture(scope="module")
def patient(served):
    return Patient(served.url)


def _json(response):
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def no_error_inside_a_success(ctx, response, case):
    """A 2xx answer never carries the error envelope."""
    if 200 <= response.status_code < 300:
        body = _json(response)
        assert not (isinstance(body, dict) and {"code", "message"} <= body.keys()), (
            f"an error inside a {response.status_code}: {body}"
        )


def _is_positive(case):
    return case.meta is not None and case.meta.generation.mode.is_positive


def _start_out_of_range(case):
    start = (case.query or {}).get("start")
    today = clock.business_date(clock.now())
    try:
        start = date.fromisoformat(start)
    except (TypeError, ValueError):
        return False
    return not today <= start <= today + timedelta(days=MAX_DAYS_AHEAD)


def _refused_start(response):
    body = _json(response) or {}
    return (
        response.status_code == 422
        and body.get("code") == "validation_error"
        and "start" in body.get("errors", {})
    )


def _refused_unknown_code(response):
    body = _json(response) or {}
    return response.status_code == 400 and body.get("code") == "invalid_code"


def _refused_identity(response):
    body = _json(response) or {}
    if response.status_code != 422:
        return False
    if body.get("code") == "invalid_id_number":
        return True
    # Sex and birth date, read from a 居民身份证, must be typed for other documents.
    return body.get("code") == "validation_error" and set(body["errors"]) <= {"sex", "birth_date"}


def set_aside(case, response):
    """The checks that do not apply to this case, each for a reason the module says."""
    if not _is_positive(case):
        return []
    label = case.operation.label
    if label in WINDOWED and _start_out_of_range(case):
        assert _refused_start(response), response.text
        return [positive_data_acceptance]
    if label in CODE_TAKING and _refused_unknown_code(response):
        return [positive_data_acceptance]
    if label == "POST /api/v1/patients" and _refused_identity(response):
        return [positive_data_acceptance]
    return []


def sign_in(case, patient):
    """Put the patient's token in place of the placeholder; whether the case has it."""
    if (case.headers or {}).get("Authorization") != SIGNED_IN:
        return False
    case.headers["Authorization"] = f"Bearer {patient.token}"
    return True


def check(case, response, url, patient, signed_in):
    """Every check of schemathesis and ours, but those set aside for this case."""
    patient.saw(case, response)
    assert not (signed_in and response.status_code == 401), "the patient is not signed in"
    case.validate_response(
        response,
        additional_checks=[no_error_inside_a_success],
        excluded_checks=set_aside(case, response),
        transport_kwargs={"base_url": url},
    )


def test_the_document_tested_is_the_one_served(served):
    assert AppClient(served.url).get("/api/v1/openapi.json").json() == DOCUMENT


@schema.parametrize()
def test_every_operation_answers_as_the_document_says(case, served, patient):
    signed_in = sign_in(case, patient)
    response = case.call(base_url=served.url)
    check(case, response, served.url, patient, signed_in)


def test_chained_operations_answer_as_the_document_says(served, patient):
    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            self.signed_in = sign_in(case, patient)
            return {"base_url": served.url}

        def validate_response(self, response, case, **kwargs):
            check(case, response, served.url, patient, self.signed_in)

    Workflow.run(settings=STATEFUL)
