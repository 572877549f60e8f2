"""The visit day's queues as patients' phones read them, kept in Redis.

On a visit day thousands of phones poll their place in the queue. MySQL is the truth; after each
committed change to a schedule's queue (a check-in, a call, a skip, a completion) the service
writes the schedule's whole queue here at once, and a phone's question is then one round trip:
the order's entry, how many wait in front of it, who is with the doctor and the pace.

Keys (all expire after a day and a half):
- ``waiting:s:<schedule>`` hash: order id → "account|status|rank|called_at" of the day's orders;
- ``waiting:s:<schedule>:ranks`` sorted set: the waiting (checked-in) orders by rank;
- ``waiting:s:<schedule>:meta`` hash: ``with_doctor`` (patients called, not yet done), ``pace``
  (expected minutes per patient);
- ``waiting:i:<order id // 1000>`` hash: order id → schedule id, so that the order id alone
  finds its queue.
"""

import logging
from dataclasses import dataclass

import redis

from app.extensions import redis_store

log = logging.getLogger(__name__)

TTL_SECONDS = 36 * 3600
_PREFIX = "waiting:"
_BUCKET = 1000

# KEYS[1] the order's index bucket, KEYS[2] a key read along (or ''); ARGV[1] the order id.
# → {false, along} when the order is not kept here, else {entry, along, ahead, with_doctor, pace}.
_READ = """
local along = false
if KEYS[2] ~= '' then along = redis.call('GET', KEYS[2]) end
local schedule = redis.call('HGET', KEYS[1], ARGV[1])
if not schedule then return {false, along} end
local base = 'waiting:s:' .. schedule
local entry = redis.call('HGET', base, ARGV[1])
if not entry then return {false, along} end
local rank = string.match(entry, '^[^|]*|[^|]*|([^|]*)|')
local ahead = 0
if rank and rank ~= '' then
  ahead = redis.call('ZCOUNT', base .. ':ranks', '-inf', '(' .. rank)
end
local meta = redis.call('HMGET', base .. ':meta', 'with_doctor', 'pace')
return {entry, along, ahead, meta[1] or '0', meta[2] or '0'}
"""


@dataclass(frozen=True)
class Entry:
    """One order of a schedule's day, as the queue keeps it."""

    order_id: int
    account_id: int
    status: str
    rank: int | None
    called_at: str | None  # ISO 8601, China time


@dataclass(frozen=True)
class Seen:
    """An order's place as a phone asks for it."""

    entry: Entry
    ahead: int  # waiting orders ranked before it
    with_doctor: int  # called and not yet done
    pace: float  # expected minutes per patient


def _client():
    return redis_store.client


def _bucket(order_id) -> str:
    return f"{_PREFIX}i:{int(order_id) // _BUCKET}"


def _pack(entry: Entry) -> str:
    return "|".join(
        (
            str(entry.account_id),
            entry.status,
            "" if entry.rank is None else str(entry.rank),
            entry.called_at or "",
        )
    )


def _unpack(order_id, text) -> Entry:
    account_id, status, rank, called_at = text.split("|", 3)
    return Entry(
        int(order_id), int(account_id), status, int(rank) if rank else None, called_at or None
    )


def publish(schedule_id, entries: list[Entry], with_doctor: int, pace: float):
    """Replace a schedule's queue with ``entries`` (after the commit that changed it)."""
    base = f"{_PREFIX}s:{schedule_id}"
    waiting = {str(e.order_id): e.rank for e in entries if e.status == "checked_in" and e.rank}
    try:
        with _client().pipeline(transaction=True) as pipe:
            pipe.delete(base, base + ":ranks", base + ":meta")
            if entries:
                pipe.hset(base, mapping={str(e.order_id): _pack(e) for e in entries})
            if waiting:
                pipe.zadd(base + ":ranks", waiting)
            pipe.hset(base + ":meta", mapping={"with_doctor": with_doctor, "pace": f"{pace:.4f}"})
            for key in (base, base + ":ranks", base + ":meta"):
                pipe.expire(key, TTL_SECONDS)
            buckets: dict[str, dict] = {}
            for e in entries:
                buckets.setdefault(_bucket(e.order_id), {})[str(e.order_id)] = schedule_id
            for bucket, mapping in buckets.items():
                pipe.hset(bucket, mapping=mapping)
                pipe.expire(bucket, TTL_SECONDS)
            pipe.execute()
    except redis.RedisError as error:
        # The next read misses and rebuilds it from MySQL.
        log.warning("queue of schedule %s not published: %s", schedule_id, error)


def read(order_id, along="") -> tuple[Seen | None, bytes | None]:
    """An order's place (None when its queue is not kept here, or Redis is away), and the value
    at key ``along`` read in the same round trip (None when missing or not asked for)."""
    try:
        found = _client().eval(_READ, 2, _bucket(order_id), along, str(int(order_id)))
    except redis.RedisError as error:
        log.warning("queue read from MySQL, Redis unavailable: %s", error)
        return None, None
    entry, value = found[0], found[1] or None
    if not entry:
        return None, value
    text = entry.decode() if isinstance(entry, bytes) else entry
    ahead, with_doctor, pace = found[2:]
    return Seen(_unpack(order_id, text), int(ahead), int(with_doctor), float(pace)), value
