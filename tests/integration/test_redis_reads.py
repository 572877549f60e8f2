"""RedisExtension.read and .send: commands on a connection of the thread's own."""

import threading

import pytest
import redis as redis_py

from app.extensions import redis_store


def _own_id(app):
    with app.app_context():
        return redis_store.read("CLIENT", "ID")


def test_the_raw_reply_of_the_apps_redis(app, redis):
    redis.hset("h", "f", b"value")
    with app.app_context():
        assert redis_store.read("HGET", "h", "f") == b"value"
        assert redis_store.read("HGET", "h", "missing") is None
        assert redis_store.read("EVAL", "return tonumber(ARGV[1]) + 1", 0, 41) == 42


def test_one_connection_per_thread_kept_between_calls(app, redis):
    first = _own_id(app)
    assert _own_id(app) == first
    other = []
    thread = threading.Thread(target=lambda: other.append(_own_id(app)))
    thread.start()
    thread.join()
    assert other and other[0] != first


def test_each_app_reads_its_own_redis(app, redis, committed):
    # The committed app uses another Redis db: a shared socket would read the wrong one.
    redis.set("which", "integration")
    with committed.app_context():
        redis_store.client.set("which", "committed")
        assert redis_store.read("GET", "which") == b"committed"
    with app.app_context():
        assert redis_store.read("GET", "which") == b"integration"


def test_a_dropped_connection_is_replaced_and_the_read_sent_again(app, redis):
    redis.set("k", "v")
    killed = _own_id(app)
    redis.execute_command("CLIENT", "KILL", "ID", killed)
    with app.app_context():
        assert redis_store.read("GET", "k") == b"v"
    assert _own_id(app) != killed


def test_a_command_that_changes_something_is_never_sent_twice(app, redis):
    redis.set("n", 0)
    killed = _own_id(app)
    redis.execute_command("CLIENT", "KILL", "ID", killed)
    with app.app_context():
        with pytest.raises(redis_py.ConnectionError):
            redis_store.send("INCR", "n")
        assert redis.get("n") == b"0"
        assert redis_store.send("INCR", "n") == 1  # the next call connects anew
    assert _own_id(app) != killed


def test_redis_away_raises_a_redis_error(app, monkeypatch):
    dead = redis_store.connect("redis://127.0.0.1:1/0", app.config)
    monkeypatch.setitem(app.extensions, "redis", dead)
    with app.app_context():
        with pytest.raises(redis_py.RedisError):
            redis_store.read("GET", "k")
        with pytest.raises(redis_py.RedisError):
            redis_store.send("SET", "k", "v")
