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


def cached_read(department_id, field, compute, now: datetime):
    """Return ``compute(now)``'s JSON-able value for ``field``, from Redis while it is still valid.

    ``compute`` returns ``(value, valid_until)``: the value stops being served at ``valid_until``
    (e.g. the next release time) or after CATALOGUE_CACHE_SECONDS, whichever comes first.
    """
    key, version_key = _KEY.format(department_id), _VERSION_KEY.format(department_id)
    version = None
    try:
        pipe = _client().pipeline(transaction=False)
        pipe.get(version_key)
        pipe.hget(key, field)
        raw_version, raw = pipe.execute()
        version = (raw_version or b"0").decode()
        if raw is not None:
            entry = json.loads(raw)
            if entry["until"] > now.timestamp():
                return entry["value"]
    except redis.RedisError as error:
        log.warning("catalogue cache read failed: %s", error)
    value, valid_until = compute(now)
    if version is not None:
        _store(key, version_key, version, field, value, valid_until, now)
    return value


def _store(key, version_key, version, field, value, valid_until, now):
    ttl = current_app.config["CATALOGUE_CACHE_SECONDS"]
    until = now.timestamp() + ttl
    if valid_until is not None:
        until = min(until, valid_until.timestamp())
    if until <= now.timestamp():
        return
    payload = json.dumps({"until": until, "value": value}, ensure_ascii=False)
    try:
        _client().eval(_STORE_IF_CURRENT, 2, key, version_key, version, field, payload, ttl * 2)
    except redis.RedisError as error:
        log.warning("catalogue cache write failed: %s", error)


def invalidate_department(department_id):
    """Drop every cached read of a department; call after the commit that changed its slots."""
    try:
        pipe = _client().pipeline(transaction=True)
        pipe.incr(_VERSION_KEY.format(department_id))
        pipe.delete(_KEY.format(department_id))
        pipe.execute()
    except redis.RedisError as error:
        # The entries then live at most CATALOGUE_CACHE_SECONDS; booking always checks MySQL.
        log.error("catalogue cache invalidation failed for department %s: %s", department_id, error)
