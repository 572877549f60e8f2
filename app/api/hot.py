"""The release morning's two commonest answers, given before Flask dispatches the request.

At 07:00 nearly every request is one of two: a hold of a schedule that has just sold out
(refused ``slot_sold_out`` by the Redis gate) or a look at a department's calendar (one cached
document). Through Flask, flask-smorest and webargs each costs several times its own work, so
this WSGI layer answers exactly those two cases itself, with the services' own functions and
the same schemas, and hands every other request, unchanged, to the app:

- ``POST /api/v1/orders`` whose header and body pass the same schemas, whose bearer token has a
  valid signature, and whose schedule the gate knows is sold out (and whose key made no order):
  the same 409 the endpoint answers. Nothing is taken from the gate, so a request it does not
  answer is decided by the endpoint exactly as before.
- ``GET /api/v1/departments/<id>/calendar`` with no query, while the cache holds it: the cached
  document, as the endpoint sends it.

Anything else, any doubt (a body it cannot read, a failed check, a cache miss, Redis away) goes
to Flask, which gives the full answer, errors included. tests/e2e/test_hot_paths.py holds the
two paths' answers equal to the endpoints'.
"""

import io
import json
import re

import marshmallow as ma
from werkzeug.wrappers import Response

from app.api.security import bearer_token
from app.errors import AppError
from app.schemas import orders as order_schemas
from app.services import auth, booking, catalogue

_HOLD = "/api/v1/orders"
_CALENDAR = re.compile(r"/api/v1/departments/([1-9][0-9]{0,17})/calendar")
_MAX_HOLD_BODY = 1024  # a hold's body is ~40 bytes; anything bigger is Flask's to judge
_JSON = "application/json"


class HotPaths:
    """WSGI middleware around ``app.wsgi_app``: see the module's docstring."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.header_schema = order_schemas.IdempotencyHeader()
        self.body_schema = order_schemas.OrderCreateSchema()

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        answer = None
        if method == "POST" and path == _HOLD:
            answer = self._sold_out(environ)
        elif method == "GET" and not environ.get("QUERY_STRING"):
            match = _CALENDAR.fullmatch(path)
            if match:
                answer = self._calendar(int(match[1]))
        if answer is None:
            return self.wsgi_app(environ, start_response)
        return answer(environ, start_response)

    def _calendar(self, department_id) -> Response | None:
        with self.app.app_context():
            document = catalogue.cached_calendar(department_id)
        return None if document is None else Response(document, mimetype=_JSON)

    def _sold_out(self, environ) -> Response | None:
        body = _read_json_body(environ)
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if body is None or key is None or not token:
            return None
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
            refusal = booking.gate_refusal(caller.id, key, hold["schedule_id"])
            if refusal is None:
                return None
            response = self.app.json.response(refusal.to_dict())
        response.status_code = refusal.status
        return response


def _read_json_body(environ):
    """The request's JSON document, or None; the body stays readable for the app either way."""
    content_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if content_type != _JSON:
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
    except ValueError:  # not UTF-8, not JSON: Flask's answer
        return None
