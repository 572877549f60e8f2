"""A Redis that hangs (accepts, never answers) costs one call's timeout, then is skipped for a
moment as if it refused: callers fall back at once instead of each waiting out its timeout."""

import socket

import pytest
import redis

from app.errors import AppError
from app.extensions import redis_store
from app.services import health


@pytest.fixture
def hung_redis():
    """A listener the kernel completes connections for, and nobody ever answers on."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    yield listener
    listener.close()


def _attempts(listener) -> int:
    """How many connections reached the hung server since the last look."""
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_a_hung_redis_costs_one_timeout_then_is_skipped_for_a_moment(app, hung_redis):
    url = f"redis://127.0.0.1:{hung_redis.getsockname()[1]}/0"
    settings = {**app.config, "REDIS_SOCKET_TIMEOUT": 0.2, "REDIS_SKIP_SECONDS": 30}
    client = redis_store.connect(url, settings)
    with pytest.raises(redis.RedisError):
        client.get("key")  # waits out its timeout (and its connection's own retry at most)
    assert 1 <= _attempts(hung_redis) <= 2
    for _ in range(20):
        with pytest.raises(redis.ConnectionError, match="skipped"):
            client.get("key")
    with pytest.raises(redis.ConnectionError, match="skipped"):
        client.pipeline().set("a", 1).get("a").execute()
    assert _attempts(hung_redis) == 0  # nothing more went to the hung server
    client.connection_pool.connection_class.breaker.open_until = 0  # the moment has passed
    with pytest.raises(redis.RedisError):
        client.get("key")
    assert 1 <= _attempts(hung_redis) <= 2  # tried again


def test_each_client_has_its_own_breaker(app, hung_redis):
    hung = redis_store.connect(
        f"redis://127.0.0.1:{hung_redis.getsockname()[1]}/0",
        {**app.config, "REDIS_SOCKET_TIMEOUT": 0.2, "REDIS_SKIP_SECONDS": 30},
    )
    with pytest.raises(redis.RedisError):
        hung.get("key")
    healthy = redis_store.connect(app.config["REDIS_URL"], app.config)
    assert healthy.ping() is True


def test_health_names_redis_while_it_is_skipped(app, hung_redis, monkeypatch):
    url = f"redis://127.0.0.1:{hung_redis.getsockname()[1]}/0"
    hung = redis_store.connect(url, {**app.config, "REDIS_SOCKET_TIMEOUT": 0.2})
    with app.app_context():
        monkeypatch.setitem(app.extensions, "redis", hung)
        for _ in range(2):  # the timeout, then the skipped call: both name Redis
            with pytest.raises(AppError) as down:
                health.check_dependencies()
            assert down.value.status == 503 and down.value.extra["failed"] == ["redis"]
