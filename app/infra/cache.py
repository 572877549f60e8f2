"""Catalogue read cache in Redis, with versioned invalidation.

Each department has one hash of cached reads (its calendar windows, its schedules per date, its
doctors' schedule lists) and a version counter. A reader notes the version before it reads MySQL and
stores its result only if the version has not moved since: a slot change that commits while the
read is under way bumps the version, so the stale result is dropped instead of cached. Redis is only
a cache here: when it fails, reads go to MySQL and nothing else changes.
"""

import json
import logging
from datetime import datetime

import redis
from flask import current_app

from app.extensions import redis_store

log = logging.getLogger(__name__)

_KEY = "catalogue:dept:{}"
_VERSION_KEY = "catalogue:dept:{}:version"

# Store only if nobody invalidated since the reader took note of the version.
_STORE_IF_CURRENT = """
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


def _client():
    return redis_store.client


def cached_json(department_id, field, compute, now: datetime) -> bytes:
    """The JSON document (UTF-8) of ``compute(now)``'s value for ``field``, from Redis while it
    is still valid: a hit is one HGET, with no decoding, so an endpoint can send it as it is.

    ``compute`` returns ``(value, valid_until)``: the value stops being served at ``valid_until``
    (e.g. the next release time) or after CATALOGUE_CACHE_SECONDS, whichever comes first.
    """
    key, version_key = _KEY.format(department_id), _VERSION_KEY.format(department_id)
    version = None
    try:
        document = _valid_entry(key, field, now)
        if document is not None:
            return document
        # Noted before MySQL is read: an invalidation from now on moves it.
        version = (_client().get(version_key) or b"0").decode()
    except redis.RedisError as error:
        log.warning("catalogue cache read failed: %s", error)
    value, valid_until = compute(now)
    document = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if version is not None:
        _store(key, version_key, version, field, document, valid_until, now)
    return document


def cached_only(department_id, field, now: datetime) -> bytes | None:
    """cached_json's document while Redis holds a valid one, else None (a miss, or Redis away,
    which cached_json then reports): never MySQL."""
    try:
        return _valid_entry(_KEY.format(department_id), field, now)
    except redis.RedisError:
        return None


def _valid_entry(key, field, now):
    raw = redis_store.read("HGET", key, field)
    if raw is None:
        return None
    until, _, document = raw.partition(b"|")
    return document if float(until) > now.timestamp() else None


def cached_read(department_id, field, compute, now: datetime):
    """cached_json's value, decoded: for a caller that still has work to do on it."""
    return json.loads(cached_json(department_id, field, compute, now))


def _store(key, version_key, version, field, document, valid_until, now):
    ttl = current_app.config["CATALOGUE_CACHE_SECONDS"]
    until = now.timestamp() + ttl
    if valid_until is not None:
        until = min(until, valid_until.timestamp())
    if until <= now.timestamp():
        return
    entry = f"{until:.6f}|".encode() + document
    try:
        _client().eval(_STORE_IF_CURRENT, 2, key, version_key, version, field, entry, ttl * 2)
    except redis.RedisError as error:
        log.warning("catalogue cache write failed: %s", error)


def invalidate_department(department_id, pipe=None):
    """Drop every cached read of a department; call after the commit that changed its slots.

    With ``pipe`` (a batch of after-commit effects, see RedisExtension.batch) it happens when
    that batch is sent. Either way a Redis failure is logged, not raised: the entries then live
    at most CATALOGUE_CACHE_SECONDS, and booking always checks MySQL.
    """
    if pipe is not None:
        _invalidate(pipe, department_id)
        return
    what = f"catalogue cache invalidation for department {department_id}"
    with redis_store.batch(what, level=logging.ERROR) as own:
        _invalidate(own, department_id)


def _invalidate(pipe, department_id):
    pipe.incr(_VERSION_KEY.format(department_id))
    pipe.delete(_KEY.format(department_id))
