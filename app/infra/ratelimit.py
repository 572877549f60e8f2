"""Fixed-window rate limits in Redis, shared by every process."""

from dataclasses import dataclass

from app.extensions import redis_store

_PREFIX = "ratelimit:"


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` hits per ``seconds`` for one key."""

    name: str
    limit: int
    seconds: int


def hit(limit: Limit, key: str) -> int | None:
    """Count one hit against ``limit`` for ``key``; None if allowed, else seconds to wait.

    Raises redis.RedisError when Redis is down: callers decide whether to fail open or closed.
    """
    redis_key = f"{_PREFIX}{limit.name}:{key}"
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.incr(redis_key)
    pipe.expire(redis_key, limit.seconds, nx=True)
    pipe.ttl(redis_key)
    count, _, ttl = pipe.execute()
    if count > limit.limit:
        return max(int(ttl), 1)
    return None
