"""Public catalogue answers, all served the same way: the answer's JSON document cached in
Redis (app/infra/cache.py) under the scope whose changes invalidate it, sent as it is stored,
with an ETag (a client or proxy that has it gets 304) and a Cache-Control that lets a proxy's
micro-cache help too.

Each public view declares its read once (``Read``): where its answer lives in the cache, named
from the URL's arguments and the validated query, and how long a client may keep it. The view
answers through it, computing the document on a miss; before Flask, app/api/hot.py sends any
declared read's cached document through the same declaration (``PublicReads``), so every public
read costs a cache hit's work, not Flask's."""

from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl

import marshmallow as ma
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_etags
from werkzeug.routing import RequestRedirect
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


class Read:
    """A public read as a view declares it (a class attribute ``public_read`` of its MethodView):

    - ``key(now, **arguments) -> (scope, field)``: where the answer is cached, from the URL's
      arguments and the validated query; it may raise an AppError (a refused query), which the
      view answers;
    - ``max_age``: seconds a client or proxy may reuse the answer;
    - ``query``: the schema the view loads its query with (the same instance), or None for a
      view that takes no query.
    """

    def __init__(self, key: Callable[..., tuple[str, str]], max_age: int, query=None):
        self.key = key
        self.max_age = max_age
        self.query = query

    def answer(self, compute, schema, now: datetime | None = None, **arguments) -> Response:
        """The view's answer: the cached document of its arguments, or ``compute(now) -> (value,
        valid_until)`` dumped by the endpoint's ``schema`` and cached until ``valid_until`` at
        most; errors ``compute`` raises are never cached."""
        now = now or clock.now()
        scope, field = self.key(now, **arguments)

        def dumped(now):
            value, valid_until = compute(now)
            return schema.dump(value), valid_until

        document = cache.cached_document(scope, field, dumped, now)
        return answer(document, self.max_age, request.headers.get("If-None-Match"))


class PublicReads:
    """The declared reads of an app's views, found by Flask's own routing: a GET of one of them
    whose document the cache holds is answered without dispatching it (``cached_answer``)."""

    def __init__(self, app):
        self.app = app
        self._reads = None  # found at the first request, once every view is registered

    @property
    def reads(self) -> dict[str, Read]:
        if self._reads is None:
            self.urls = self.app.url_map.bind("")  # before the reads: other threads may look
            self._reads = {
                endpoint: view.view_class.public_read
                for endpoint, view in self.app.view_functions.items()
                if isinstance(getattr(getattr(view, "view_class", None), "public_read", None), Read)
            }
        return self._reads

    def cached_answer(self, path, query_string, if_none_match) -> tuple[Response, str] | None:
        """The answer of a GET of ``path`` while the cache holds its document, with the URL rule
        it matched; else None (not a declared read, a query its schema refuses, a URL Flask's
        routing would redirect, a miss): the view then answers."""
        reads = self.reads
        try:
            rule, arguments = self.urls.match(path, "GET", return_rule=True)
        except (HTTPException, RequestRedirect):
            return None
        read = reads.get(rule.endpoint)
        if read is None:
            return None
        query = _simple_query(query_string)
        if query is None or (query and read.query is None):
            return None
        if read.query is not None:
            if not query.keys() <= read.query.fields.keys():
                return None  # webargs leaves unknown names out; the view says what it makes of them
            try:
                arguments |= read.query.load(query)
            except ma.ValidationError:
                return None
        now = clock.now()
        with self.app.app_context():
            try:
                scope, field = read.key(now, **arguments)
            except Exception:  # a refused query, MySQL away: the view answers, and says why
                return None
            document = cache.cached_only(scope, field, now)
        if document is None:
            return None
        return answer(document, read.max_age, if_none_match), rule.rule


def _simple_query(query_string: str) -> dict | None:
    """The query's names and values, each name once; None for anything else (a repeated name,
    a malformed pair or encoding), which the view's parser then judges."""
    if not query_string:
        return {}
    try:
        # WSGI gives the query's bytes as Latin-1 text; percent-escapes are UTF-8 too.
        text = query_string.encode("latin-1").decode()
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeError):
        return None
    query = dict(pairs)
    return query if len(query) == len(pairs) else None
