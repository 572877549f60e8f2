"""Public catalogue answers, all served the same way: the answer's JSON document cached in
Redis (app/infra/cache.py) under the scope whose changes invalidate it, sent as it is stored,
with an ETag (a client or proxy that has it gets 304) and a Cache-Control that lets a proxy's
micro-cache help too."""

from datetime import datetime

from flask import request
from werkzeug.http import parse_etags
from werkzeug.wrappers import Response

from app.domain import clock
from app.infra import cache

# Seconds a client or proxy may reuse an answer without asking: numbers left change by the
# second on a release morning; hospitals, departments and doctors change when staff edit them.
AVAILABILITY_MAX_AGE = 5
CATALOGUE_MAX_AGE = 60


def calendar_field(start, days) -> str:
    """The cache field of a department's calendar window."""
    return f"calendar:{start}:{days}"


def answer(document: cache.Document, max_age: int, if_none_match: str | None) -> Response:
    """The HTTP answer of a cached document: 304 when the client already has it."""
    if if_none_match and parse_etags(if_none_match).contains(document.etag):
        response = Response(status=304)
    else:
        response = Response(document.body, mimetype="application/json")
    response.set_etag(document.etag)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def cached(scope, field, compute, schema, max_age, now: datetime | None = None) -> Response:
    """The answer of ``field`` in ``scope``: from the cache, or ``compute(now) -> (value,
    valid_until)`` dumped by the endpoint's ``schema`` and cached until ``valid_until`` at most;
    errors ``compute`` raises are never cached."""

    def dumped(now):
        value, valid_until = compute(now)
        return schema.dump(value), valid_until

    document = cache.cached_document(scope, field, dumped, now or clock.now())
    return answer(document, max_age, request.headers.get("If-None-Match"))
