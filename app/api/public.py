"""Cached answers, all served the same way: the answer's JSON document cached in Redis
(app/infra/cache.py) under the scope whose changes invalidate it, sent as it is stored.

Two kinds of read are declared on their views:

- a public catalogue read (``Read``, the attribute ``public_read``): sent with an ETag (a client
  or proxy that has it gets 304) and a Cache-Control that lets a proxy's micro-cache help too;
- a page of the caller's own account (``AccountRead``, the attribute ``account_read``): the
  account, its patients, its orders; cached under the account's scope, sent no-store.

Each view declares its read once: where its answer lives in the cache, named from the URL's
arguments and the validated query, and what the answer is (the service's result dumped by the
endpoint's schema). The view answers through it; before Flask, app/api/hot.py answers any
declared read through the same declaration (``CachedReads``), computing and caching it on a
miss, so a read costs its own work, not Flask's. Anything in doubt (a query the schema refuses,
a refusal, an error) is left to the view, which answers it."""

from datetime import datetime
from urllib.parse import parse_qsl

import marshmallow as ma
from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_etags
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from app.api.answers import Answer
from app.api.observed import PRIVATE
from app.api.security import bearer_token, current_account
from app.domain import clock
from app.errors import AppError
from app.infra import cache
from app.services import auth

# Seconds a client or proxy may reuse an answer without asking: numbers left change by the
# second on a release morning; hospitals, departments and doctors change when staff edit them.
AVAILABILITY_MAX_AGE = 5
CATALOGUE_MAX_AGE = 60


def calendar_field(start, days) -> str:
    """The cache field of a department's calendar window."""
    return f"calendar:{start}:{days}"


def answer(document: cache.Document, max_age: int, if_none_match: str | None) -> Answer:
    """The HTTP answer of a cached document: 304 when the client already has it (compared
    weakly, as If-None-Match is: a proxy that compressed the body sent the tag as weak)."""
    headers = [("ETag", f'"{document.etag}"'), ("Cache-Control", f"public, max-age={max_age}")]
    if if_none_match and parse_etags(if_none_match).contains_weak(document.etag):
        return Answer(304, b"", headers)
    return Answer.json(200, document.body, *headers)


class Read:
    """A public read as a view declares it (a class attribute ``public_read`` of its MethodView):

    - ``key(now, **arguments) -> (scope, field)``: where the answer is cached, from the URL's
      arguments and the validated query; it may raise an AppError (a refused query), which the
      view answers;
    - ``compute(now, **arguments) -> (value, valid_until)``: the answer, which ``schema`` (the
      endpoint's) dumps, and when it stops being true by itself (the next release time; None
      for never); errors it raises are never cached;
    - ``max_age``: seconds a client or proxy may reuse the answer;
    - ``query``: the schema the view loads its query with (the same instance), or None for a
      view that takes no query.
    """

    def __init__(self, key, compute, schema, max_age: int, query=None):
        self.key = key
        self.compute = compute
        self.schema = schema
        self.max_age = max_age
        self.query = query

    def document(self, now: datetime, **arguments) -> cache.Document:
        """The cached document of ``arguments``, computed and cached on a miss."""
        scope, field = self.key(now, **arguments)

        def dumped(now):
            value, valid_until = self.compute(now, **arguments)
            return self.schema.dump(value), valid_until

        return cache.cached_document(scope, field, dumped, now)

    def answer(self, **arguments) -> Response:
        """The view's answer."""
        document = self.document(clock.now(), **arguments)
        if_none_match = request.headers.get("If-None-Match")
        return answer(document, self.max_age, if_none_match).response()


# Pages of an account's list past this one are computed for each request, not cached: a client
# stepping through thousands of pages would otherwise fill its account's hash in Redis.
CACHED_PAGES = 5


class AccountRead:
    """A page of the caller's own account as its view declares it (a class attribute
    ``account_read`` of its MethodView), cached under the account's scope:

    - ``field(**query) -> str``: the page's cache field, from the validated query;
    - ``compute(account_id, **query)``: the page, which ``schema`` (the endpoint's) dumps;
    - ``query``: the schema the view loads its query with (the same instance), or None;
    - ``valid_until(now)``: when a page stops being true by itself (a patient's age at
      midnight), or None for never.
    """

    def __init__(self, field, compute, schema, query=None, valid_until=None):
        self.field = field
        self.compute = compute
        self.schema = schema
        self.query = query
        self.valid_until = valid_until

    def answer(self, **query) -> Response:
        """The view's answer for the signed-in caller (401 or 403 as ``current_account`` says),
        cached until the account's next change."""
        account_id, now, lookup = current_account().id, clock.now(), None
        if query.get("page", 1) <= CACHED_PAGES:
            lookup = cache.account_lookup(account_id, self.field(**query), now)
        return private_answer(self._page(account_id, query, lookup, now)).response()

    def served(self, query, environ, now) -> Answer | None:
        """The page of the caller whose bearer token is admitted: from Redis, or computed and
        cached on a miss; None for anything else (no token or a refused one, Redis away, a
        failure), which the view then answers."""
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if not token or query.get("page", 1) > CACHED_PAGES:
            return None  # the view says 401, or computes the page
        try:
            principal = auth.verify_signature(token)
        except AppError:
            return None
        state_key, field = auth.state_key(principal.id), self.field(**query)
        lookup = cache.account_lookup(principal.id, field, now, state_key)
        if lookup is None:
            return None
        try:
            auth.ensure_read(principal, lookup.state)
            document = self._page(principal.id, query, lookup, now)
        except Exception:  # refused, MySQL away, a stale page: the view answers, and says why
            return None
        return private_answer(document)

    def _page(self, account_id, query, lookup, now) -> cache.Document:
        """The page ``lookup`` found, else computed and cached (checked in the test suite);
        without a lookup (a page past the cached ones, Redis away), computed and not cached."""

        def dumped(now):
            valid_until = self.valid_until(now) if self.valid_until else None
            return self.schema.dump(self.compute(account_id, **query)), valid_until

        if lookup is None:
            return cache.computed_document(dumped, now)
        check = current_app.config["ACCOUNT_CACHE_CHECK"]
        return cache.account_page(account_id, lookup, dumped, now, check)


def private_answer(document: cache.Document) -> Answer:
    """The HTTP answer of an account's cached document: kept by no client or proxy."""
    return Answer.json(200, document.body, ("Cache-Control", PRIVATE))


class CachedReads:
    """The declared reads of an app's views, found by Flask's own routing: a GET of one of them
    whose document the cache holds is answered without dispatching it (``cached_answer``)."""

    def __init__(self, app):
        self.app = app
        self._reads = None  # found at the first request, once every view is registered

    @property
    def reads(self) -> dict[str, Read | AccountRead]:
        if self._reads is None:
            self.urls = self.app.url_map.bind("")  # before the reads: other threads may look
            self._reads = {
                endpoint: read
                for endpoint, view in self.app.view_functions.items()
                if (read := _declared(getattr(view, "view_class", None))) is not None
            }
        return self._reads

    def cached_answer(self, path, query_string, environ) -> tuple[Answer, str] | None:
        """The answer of a GET of ``path`` with the URL rule it matched: a public read's, an
        account page's for a caller the token's cached state admits (either computed and cached
        on a miss); else None (not a declared read, a query its schema refuses, a URL Flask's
        routing would redirect, a refusal or an error, any doubt about the caller): the view
        then answers."""
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
            if isinstance(read, AccountRead):
                response = read.served(arguments, environ, now)
                return None if response is None else (response, rule.rule)
            try:
                document = read.document(now, **arguments)
            except Exception:  # refused, not found, MySQL away: the view answers, and says why
                return None
        return answer(document, read.max_age, environ.get("HTTP_IF_NONE_MATCH")), rule.rule


def _declared(view_class) -> Read | AccountRead | None:
    public_read = getattr(view_class, "public_read", None)
    if isinstance(public_read, Read):
        return public_read
    account_read = getattr(view_class, "account_read", None)
    return account_read if isinstance(account_read, AccountRead) else None


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
