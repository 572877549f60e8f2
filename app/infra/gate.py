"""The Redis gate in front of capacity: sold-out answers without MySQL, no convoy on hot rows.

Per schedule, a counter of numbers believed free. A hold takes a token before it touches the
slot rows and gives it back if it fails; a release gives one back after its commit. MySQL stays
the truth: the counter only decides who may *try*, the conditional slot update decides who
gets a number. A missing counter (first use, a Redis flush, its TTL) is rebuilt from MySQL; when
Redis is down every call answers "unknown" and booking runs on MySQL alone.

The gate also remembers which order an idempotency key produced, so a retried hold is answered
with its order even when the schedule has sold out since.
"""

import enum
import logging

import redis

from app.extensions import redis_store

log = logging.getLogger(__name__)

_GATE = "gate:schedule:{}"
_REPLAY = "gate:idempotency:{}:{}"
# A counter lives this long without activity, so any drift (a crash between taking a token and
# giving it back) heals by itself.
GATE_SECONDS = 300
REPLAY_SECONDS = 24 * 3600

# 1 admitted, 0 sold out, -1 no counter.
_COUNTED = """
local left = redis.call('GET', KEYS[1])
if not left then return -1 end
if tonumber(left) <= 0 then return 0 end
"""
_TAKE = (
    _COUNTED
    + """
redis.call('DECR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
)

_GIVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return 1
"""


def _client():
    return redis_store.client


def _quietly(default, call, *args):
    try:
        return call(*args)
    except redis.RedisError as error:
        log.warning("gate unavailable: %s", error)
        return default


def take(schedule_id) -> bool | None:
    """Take a token: True admitted, False sold out, None no counter or Redis down (ask MySQL)."""
    result = _quietly(
        None, lambda: _client().eval(_TAKE, 1, _GATE.format(schedule_id), GATE_SECONDS)
    )
    return None if result in (None, -1) else bool(result)


def give_back(schedule_id):
    """Return a token: a hold that took one failed, or a number was released (after commit)."""
    _quietly(None, lambda: _client().eval(_GIVE, 1, _GATE.format(schedule_id), GATE_SECONDS))


def peek(schedule_id) -> int | None:
    """The counter, or None when there is none or Redis is down."""
    value = _quietly(None, lambda: _client().get(_GATE.format(schedule_id)))
    return None if value is None else int(value)


def rebuild(schedule_id, free: int):
    """Set the counter from MySQL's count of free numbers, unless another process just did."""
    _quietly(None, lambda: _client().set(_GATE.format(schedule_id), free, ex=GATE_SECONDS, nx=True))


def reset(schedule_id, free: int):
    """Overwrite the counter with MySQL's count (MySQL found it wrong, or a sweep re-syncs)."""
    _quietly(None, lambda: _client().set(_GATE.format(schedule_id), free, ex=GATE_SECONDS))


def forget(schedule_id):
    """Drop the counter: a stopped schedule has none, so that a hold meets the rules (which
    say why it is refused) rather than a bare "sold out"."""
    _quietly(None, lambda: _client().delete(_GATE.format(schedule_id)))


def counted_schedules() -> list[int]:
    """The schedules that have a counter now (empty when Redis is down)."""

    def scan():
        prefix = _GATE.format("").encode()
        keys = _client().scan_iter(_GATE.format("*"), count=500)
        return [int(key[len(prefix) :]) for key in keys]

    return _quietly([], scan)


class Admission(enum.Enum):
    """What the gate says to a hold, before any MySQL work."""

    ADMITTED = "admitted"  # a token was taken: give it back if the hold fails
    SOLD_OUT = "sold_out"  # refuse at once
    REPLAYED = "replayed"  # this idempotency key already made an order: find it, take no token
    UNKNOWN = "unknown"  # no counter, or Redis away: ask MySQL


# 2 replayed (KEYS[2] names the idempotency key's order), else as _TAKE.
_REPLAYED = "if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end"
_ADMIT = _REPLAYED + _TAKE
_ADMISSIONS = {
    2: Admission.REPLAYED,
    1: Admission.ADMITTED,
    0: Admission.SOLD_OUT,
    -1: Admission.UNKNOWN,
}


def admit(account_id, idempotency_key, schedule_id) -> Admission:
    """One round trip, no MySQL: is this a retry of a hold that succeeded, else take a token.

    A retry is never refused here (it is answered with its order even once sold out). Every
    hold of a release morning asks this, so it goes on the thread's own connection, and is never
    sent twice: a token must not be taken twice for one hold (a failure answers UNKNOWN).
    """
    gate, replay = _GATE.format(schedule_id), _REPLAY.format(account_id, idempotency_key)
    return _ADMISSIONS[
        _quietly(-1, lambda: redis_store.send("EVAL", _ADMIT, 2, gate, replay, GATE_SECONDS))
    ]


def remember(account_id, idempotency_key, order_id, pipe):
    """Note which order an idempotency key produced, in the after-commit batch ``pipe``."""
    pipe.set(_REPLAY.format(account_id, idempotency_key), order_id, ex=REPLAY_SECONDS)
