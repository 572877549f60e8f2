"""The connection pool's habits (app.infra.database.tune_pool) on real MariaDB: no ROLLBACK after a
COMMIT, a ROLLBACK for anything left open, a ping only after idling, a dead connection replaced."""

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from app.infra import database
from tests.support import database_name, fresh_database


@pytest.fixture(scope="module")
def url():
    return fresh_database(database_name("_pool"))


@pytest.fixture
def engine(url):
    engine = sa.create_engine(url, pool_pre_ping=False, pool_reset_on_return=None, pool_size=1)
    database.tune_pool(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def calls(engine, monkeypatch):
    """How often pymysql rolled back and pinged, once the pool has its connection (the first
    connect rolls back after reading the server's settings)."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    counts = {"rollback": 0, "ping": 0}
    for name in counts:
        original = getattr(pymysql.connections.Connection, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(pymysql.connections.Connection, name, spy)
    return counts


def test_a_committed_connection_goes_back_without_a_rollback(engine, calls):
    for _ in range(3):
        with orm.Session(engine) as session:
            session.execute(sa.text("SELECT 1"))
            session.commit()
    assert calls["rollback"] == 0


def test_whatever_is_left_open_is_rolled_back(engine, calls):
    with orm.Session(engine) as session:
        session.execute(sa.text("SELECT 1"))
        session.commit()
        session.execute(sa.text("SELECT 1"))  # a new transaction, never ended
    assert calls["rollback"] == 1
    raw = engine.raw_connection()  # DBAPI use that SQLAlchemy does not follow
    with raw.cursor() as cursor:
        cursor.execute("SELECT 1")
    raw.close()
    assert calls["rollback"] == 2


def test_an_open_transaction_never_reaches_the_next_user(engine, url):
    # READ COMMITTED is the app's level; REPEATABLE READ here makes a leftover snapshot visible.
    with engine.connect() as other:
        other.execute(sa.text("CREATE TABLE IF NOT EXISTS pool_probe (n INT)"))
        other.execute(sa.text("DELETE FROM pool_probe"))
        other.commit()
    raw = engine.raw_connection()
    with raw.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT COUNT(*) FROM pool_probe")  # opens a snapshot
    raw.close()  # back to the pool: rolled back, so the snapshot is gone
    writer = sa.create_engine(url)
    with writer.begin() as connection:
        connection.execute(sa.text("INSERT INTO pool_probe VALUES (1)"))
    writer.dispose()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM pool_probe")).scalar() == 1


def test_a_busy_connection_is_not_pinged(engine, calls, monkeypatch):
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 3600)
    for _ in range(3):
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    assert calls["ping"] == 0


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(engine, calls, url, monkeypatch):
    with engine.connect() as connection:
        first = connection.execute(sa.text("SELECT CONNECTION_ID()")).scalar()
    killer = sa.create_engine(url)
    with killer.connect() as connection:
        connection.execute(sa.text(f"KILL {int(first)}"))
    killer.dispose()
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0)
    with engine.connect() as connection:  # would fail on the killed connection without the ping
        second = connection.execute(sa.text("SELECT CONNECTION_ID()")).scalar()
    assert calls["ping"] >= 1
    assert second != first
