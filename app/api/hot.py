"""The requests that come by the thousand at once, answered before Flask dispatches them.

At 07:00 nearly every request is one of two: a hold (most of them refused ``slot_sold_out`` by
the Redis gate, a few hundred booked) or a look at the catalogue (a department's tree, its
calendar, the day's schedules: cached documents); on a visit day, the waiting room's phones
poll their place in the queue. Through Flask, flask-smorest and webargs each costs several
times its own work, so this WSGI layer answers exactly those cases itself, with the services'
own functions and the same schemas, and hands every other request, unchanged, to the app:

- ``POST /api/v1/orders`` whose header and body pass the endpoint's schemas and whose bearer
  token has a valid signature: decided by ``holds.hold_slot`` as the endpoint decides it, and
  answered as the endpoint answers (the order and 201, the refusal's envelope, a replay's
  header, the 500 envelope for anything unexpected).
- ``GET`` of a public catalogue read (hospitals, department trees, calendars, schedules,
  doctors, search), or of a page of the caller's own (``/me``, ``/patients``, ``/orders``) for
  a token that is admitted: the cached document, computed and cached on a miss, as the endpoint
  sends it (app/api/public.py).
- ``GET /api/v1/orders/<id>/queue`` with no query, a validly signed token whose account state
  and the order's queue entry Redis holds (one round trip, ``visits.cached_place``): the place,
  as the endpoint answers it.

Anything else, any doubt before the hold is decided or the read is answered (a body it cannot
read, a failed check, a refusal, an error) goes to Flask, which gives the full answer, errors
included.
tests/e2e/test_hot_paths.py holds the paths' answers equal to the endpoints'.
"""

import io
import json
import re

import marshmallow as ma

from app import errors
from app.api import public
from app.api.answers import JSON, Answer
from app.api.observed import ENDPOINT, PRIVATE
from app.api.orders import hold_headers
from app.api.security import bearer_token
from app.errors import AppError
from app.infra.groupcommit import arrivals
from app.schemas import orders as order_schemas
from app.services import auth, visits
from app.services.booking import holds

_HOLD = "/api/v1/orders"
_QUEUE = re.compile(r"/api/v1/orders/([1-9][0-9]{0,17})/queue")
_QUEUE_RULE = "/api/v1/orders/<int:order_id>/queue"
_API = "/api/v1/"
_MAX_HOLD_BODY = 1024  # a hold's body is ~40 bytes; anything bigger is Flask's to judge


class HotPaths:
    """WSGI middleware around ``app.wsgi_app``: see the module's docstring."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.header_schema = order_schemas.IdempotencyHeader()
        self.body_schema = order_schemas.OrderCreateSchema()
        self.order_schema = order_schemas.OrderSchema()
        self.place_schema = order_schemas.QueuePlaceSchema()
        self.cached_reads = public.CachedReads(app)

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        answer = None
        if method == "POST" and path == _HOLD:
            answer = self._hold(environ)
        else:
            # Not a hold: a hold group's leader need not wait for this thread
            # (app/infra/groupcommit.py).
            arrivals.end()
            if method == "GET":
                query = environ.get("QUERY_STRING", "")
                if not query and (match := _QUEUE.fullmatch(path)):
                    answer = self._queue(int(match[1]), environ.get("HTTP_AUTHORIZATION"))
                    rule = _QUEUE_RULE
                elif path.startswith(_API):
                    read = self.cached_reads.cached_answer(path, query, environ)
                    if read is not None:
                        answer, rule = read
        if answer is None:
            return self.wsgi_app(environ, start_response)
        # Answered here: named as Flask's routing names the same endpoint.
        environ[ENDPOINT] = _HOLD if method == "POST" else rule
        return answer(environ, start_response)

    def _queue(self, order_id, authorization) -> Answer | None:
        token = bearer_token(authorization)
        if not token:
            return None
        with self.app.app_context():
            try:
                place = visits.cached_place(auth.verify_signature(token), order_id)
            except AppError:
                return None
            if place is None:
                return None
            return _answer(200, self._dumps(self.place_schema.dump(place)), {})

    def _hold(self, environ) -> Answer | None:
        body = _read_json_body(environ)
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if body is None or key is None or not token:
            return None
        hold = _plain_hold(key, body)
        if hold is None:  # not the usual shape: the schemas judge it
            try:
                self.header_schema.load({"Idempotency-Key": key})
                hold = self.body_schema.load(body)
            except ma.ValidationError:
                return None
        with self.app.app_context():
            try:
                caller = auth.verify_signature(token)
            except AppError:
                return None
            # From here on the hold is decided, so the answer is this path's whatever happens.
            try:
                # REMOTE_ADDR as ProxyFix (outside this layer) left it: the address trusted.
                order, created = holds.hold_slot(
                    caller,
                    hold["schedule_id"],
                    hold["patient_id"],
                    key,
                    client_ip=environ.get("REMOTE_ADDR"),
                )
                document, status = self.order_schema.dump(order), 201
                headers = hold_headers(created)
            except AppError as error:
                document, status, headers = errors.handle_app_error(error)
            except Exception as error:  # as Flask's handler of the unexpected: logged, a 500
                document, status, headers = errors.handle_unexpected(error)
            text = self._dumps(document)
        return _answer(status, text, headers)

    def _dumps(self, document) -> str:
        """The document as the app's JSON provider writes a response (compact unless debug)."""
        if self.app.debug:
            return self.app.json.response(document).get_data(as_text=True)
        return self.app.json.dumps(document, separators=(",", ":")) + "\n"


def _answer(status: int, text: str, headers: dict) -> Answer:
    """A JSON answer of the API's own, kept by no client or proxy (~40 µs less per hold than a
    Response)."""
    return Answer.json(status, text.encode(), ("Cache-Control", PRIVATE), *headers.items())


_KEY = re.compile(r"[A-Za-z0-9_\-]{8,64}")
_MAX_ID = 2**63 - 1


def _plain_hold(key, body) -> dict | None:
    """The hold, when the key and body have the one shape clients send (two positive integer ids
    and a key of the allowed characters): what the schemas would load, without them (~35 µs).
    None for anything else, which the schemas then judge."""
    if type(body) is not dict or len(body) != 2 or not _KEY.fullmatch(key):
        return None
    hold = {"schedule_id": body.get("schedule_id"), "patient_id": body.get("patient_id")}
    if all(type(value) is int and 0 < value <= _MAX_ID for value in hold.values()):
        return hold
    return None


def _read_json_body(environ):
    """The request's JSON document, or None; the body stays readable for the app either way."""
    content_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if content_type != JSON:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None  # chunked or missing: Flask reads it
    if not 0 < length <= _MAX_HOLD_BODY:
        return None
    try:
        raw = environ["wsgi.input"].read(length)
    except OSError:  # the client went away: Flask finds the body short and says so
        raw = b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        return json.loads(raw.decode())
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep: Flask's answer
        return None
