"""The read cache of answers in Redis, with versioned invalidation.

Every public catalogue read (hospitals, department trees, doctors, search, calendars, schedules)
and every page of an account's own (the account, its patients, its orders) is cached here as the
answer's JSON document itself, with its ETag, under a **scope**: one Redis hash of documents per
scope, next to the scope's version counter. A department's scope holds what its slots change
(its calendar windows, schedules per date, its doctors' schedule lists); the catalogue scope
holds what only a change of the catalogue itself changes (hospitals, departments, doctors,
search); an account's scope holds its own pages.

A reader notes the version before it reads MySQL and stores its result only if the version has
not moved since: a change that commits while the read is under way bumps the version, so the
stale result is dropped instead of cached. An entry also stops being served at the moment its
reader said it would change (a release time) and after CATALOGUE_CACHE_SECONDS. Redis is only a
cache here: when it fails, reads go to MySQL and nothing else changes.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from flask import current_app

from app.extensions import per_app, redis_store
from app.infra.groupcommit import OneAtATime

log = logging.getLogger(__name__)

CATALOGUE = "catalogue"  # the scope of what only catalogue edits change

_KEY = "catalogue:{}"
_VERSION_KEY = "catalogue:{}:version"

# Store only if nobody invalidated since the reader took note of the version.
_STORE_IF_CURRENT = """
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


def department(department_id) -> str:
    """The scope of a department's availability: what its slots' changes invalidate."""
    return f"dept:{department_id}"


def account(account_id) -> str:
    """The scope of an account's own pages: what changes of its profile, patients, orders,
    payments and refunds invalidate. Its answers may show catalogue names too (an order's
    hospital, department and doctor), so their fields carry the catalogue scope's version
    (``account_lookup``): a catalogue edit leaves them behind as well."""
    return f"acct:{account_id}"


# An account page in one round trip: the caller's token state (at KEYS[1], if named), the
# page's entry under the catalogue's current version, and both versions (for storing the page on
# a miss).
_ACCOUNT_LOOKUP = """
local state = false
if KEYS[1] ~= '' then state = redis.call('GET', KEYS[1]) end
local catalogue = redis.call('GET', KEYS[3]) or '0'
local version = redis.call('GET', KEYS[4]) or '0'
return {state, redis.call('HGET', KEYS[2], ARGV[1] .. '@' .. catalogue), catalogue, version}
"""


@dataclass(frozen=True, slots=True)
class Document:
    """A cached answer: its JSON body (UTF-8) and the ETag that names that body."""

    body: bytes
    etag: str


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=10).hexdigest()


def cached_document(scope, field, compute, now: datetime) -> Document:
    """The JSON document of ``compute(now)``'s value for ``field`` in ``scope``, from Redis
    while it is still valid: a hit is one HGET, with no decoding, so the answer is sent as it is.

    ``compute`` returns ``(value, valid_until)``: the value in its wire form (what the endpoint's
    schema dumps), and when it stops being true by itself (e.g. the next release time; None for
    never). It is served until then or for CATALOGUE_CACHE_SECONDS, whichever comes first.

    On a miss one thread of the process computes the answer while the others that miss it
    meanwhile wait and read what it stored: at the release time hundreds of phones open the
    same department at once, and each would otherwise make MySQL build the same page.
    """
    key = _KEY.format(scope)
    try:
        document = _valid_entry(key, field, now)
    except redis.RedisError as error:
        log.warning("catalogue cache read failed: %s", error)
        return _computed(compute, now)[0]
    if document is not None:
        return document
    filled = []
    fills = per_app("catalogue_cache_fills", lambda config: OneAtATime())
    if fills.run((scope, field), lambda: filled.append(_fill(scope, field, compute, now))):
        return filled[0]
    # Another thread filled it (or failed to, or raced a change): read it, else compute.
    document = cached_only(scope, field, now)
    return document if document is not None else _fill(scope, field, compute, now)


def computed_document(compute, now: datetime) -> Document:
    """The document of ``compute(now)``'s value, as cached_document would store it, uncached."""
    return _computed(compute, now)[0]


def _computed(compute, now) -> tuple[Document, datetime | None]:
    value, valid_until = compute(now)
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Document(body, _etag(body)), valid_until


def _fill(scope, field, compute, now) -> Document:
    """Compute the document and store it, unless the scope changed meanwhile."""
    key, version_key = _KEY.format(scope), _VERSION_KEY.format(scope)
    try:
        # Noted before MySQL is read: an invalidation from now on moves it.
        version = (redis_store.read("GET", version_key) or b"0").decode()
    except redis.RedisError as error:
        log.warning("catalogue cache read failed: %s", error)
        version = None
    document, valid_until = _computed(compute, now)
    if version is not None:
        _store(key, version_key, version, field, document, valid_until, now)
    return document


def cached_only(scope, field, now: datetime) -> Document | None:
    """cached_document's document while Redis holds a valid one, else None (a miss, or Redis
    away, which cached_document then reports): never MySQL."""
    try:
        return _valid_entry(_KEY.format(scope), field, now)
    except redis.RedisError:
        return None


class StaleAnswer(RuntimeError):
    """A cached page of an account differs from the page computed anew (ACCOUNT_CACHE_CHECK):
    a change that did not invalidate the account's scope."""


@dataclass(frozen=True, slots=True)
class AccountLookup:
    """What one round trip found of an account's page (``account_lookup``)."""

    state: bytes | None  # the value at the state key named (the caller's token state)
    document: Document | None  # the page, while valid
    field: str  # the page's field under the catalogue's version
    version: str  # the account scope's version, noted before any MySQL read


def account_lookup(account_id, field, now, state_key="") -> AccountLookup | None:
    """In one round trip, the account's page ``field`` under the catalogue's current version and
    the value at ``state_key`` (if named); None when Redis is away (or the entry unreadable).
    ``account_page`` then gives the page, computing and storing it on a miss."""
    scope = account(account_id)
    try:
        state, raw, catalogue, version = redis_store.read(
            "EVAL",
            _ACCOUNT_LOOKUP,
            4,
            state_key,
            _KEY.format(scope),
            _VERSION_KEY.format(CATALOGUE),
            _VERSION_KEY.format(scope),
            field,
        )
        document = _entry(raw, now)
    except (redis.RedisError, ValueError) as error:
        log.warning("account cache read failed: %s", error)
        return None
    return AccountLookup(state, document, f"{field}@{catalogue.decode()}", version.decode())


def account_page(account_id, lookup: AccountLookup, compute, now: datetime, check=False):
    """The page ``lookup`` found, else computed (as cached_document computes) and stored unless
    the account changed since the lookup. With ``check``, a page found is computed anew as well
    and StaleAnswer raised if the two differ."""
    if lookup.document is not None and not check:
        return lookup.document
    document, valid_until = _computed(compute, now)
    scope = account(account_id)
    if lookup.document is not None:
        if document.body != lookup.document.body:
            raise StaleAnswer(
                f"{scope} {lookup.field}: {lookup.document.body!r}, {document.body!r}"
            )
        return lookup.document
    key, version_key = _KEY.format(scope), _VERSION_KEY.format(scope)
    _store(key, version_key, lookup.version, lookup.field, document, valid_until, now)
    return document


def _valid_entry(key, field, now) -> Document | None:
    return _entry(redis_store.read("HGET", key, field), now)


def _entry(raw, now) -> Document | None:
    if raw is None:
        return None
    until, _, rest = raw.partition(b"|")
    if float(until) <= now.timestamp():
        return None
    etag, _, body = rest.partition(b"|")
    return Document(body, etag.decode())


def _store(key, version_key, version, field, document: Document, valid_until, now):
    ttl = current_app.config["CATALOGUE_CACHE_SECONDS"]
    until = now.timestamp() + ttl
    if valid_until is not None:
        until = min(until, valid_until.timestamp())
    if until <= now.timestamp():
        return
    entry = f"{until:.6f}|{document.etag}|".encode() + document.body
    try:  # on the thread's own connection, like the reads (a store lost is only a miss more)
        redis_store.send(
            "EVAL", _STORE_IF_CURRENT, 2, key, version_key, version, field, entry, ttl * 2
        )
    except redis.RedisError as error:
        log.warning("catalogue cache write failed: %s", error)


def invalidate(scope, pipe=None):
    """Drop every cached answer of a scope; call after the commit that changed what it shows.

    With ``pipe`` (a batch of after-commit effects, see RedisExtension.batch) it happens when
    that batch is sent. Either way a Redis failure is logged, not raised: the entries then live
    at most CATALOGUE_CACHE_SECONDS, and booking always checks MySQL.
    """
    if pipe is not None:
        _invalidate(pipe, scope)
        return
    with redis_store.batch(f"catalogue cache invalidation of {scope}", level=logging.ERROR) as own:
        _invalidate(own, scope)


def invalidate_department(department_id, pipe=None):
    """Drop the cached availability of a department (after its slots changed)."""
    invalidate(department(department_id), pipe)


def _invalidate(pipe, scope):
    pipe.incr(_VERSION_KEY.format(scope))
    pipe.delete(_KEY.format(scope))
