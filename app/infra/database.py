"""Creating the database itself (not its tables: that is the migrations' job), and the
connection pool's habits."""

import re
import time
from pathlib import Path

import pymysql
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def create_database(url: str, recreate: bool = False) -> bool:
    """Make sure the database of ``url`` exists; on MySQL with utf8mb4 (Chinese text, emoji).

    ``recreate`` drops it first (tests and benchmarks only). Returns whether it was created.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return False
    if parsed.get_backend_name() not in ("mysql", "mariadb"):
        raise ValueError(f"cannot create a {parsed.get_backend_name()} database")
    name = parsed.database
    if not name or not _SAFE_NAME.match(name):
        raise ValueError(f"refusing an unusual database name: {name!r}")
    connection = pymysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
    )
    try:
        with connection.cursor() as cursor:
            if recreate:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            created = cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS `{name}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        connection.close()
    return bool(created)


# A connection that sat in the pool this long is pinged before use (a restarted or timed-out
# server is found before a request fails on it); a busy pool's connections are not.
IDLE_PING_SECONDS = 10


def tune_pool(engine):
    """Two round trips fewer per request on a busy pool, where pool_pre_ping and the pool's
    reset would cost one each: ping only connections that were idle IDLE_PING_SECONDS or more,
    and roll back a returned connection only when SQLAlchemy did not just end its transaction.

    The engine must be made with ``pool_pre_ping=False`` and ``pool_reset_on_return=None``.
    A connection is "clean" from the moment SQLAlchemy commits or rolls back until the next
    transaction begins; a checkout makes it unclean, so raw DBAPI use is rolled back as before.
    """

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy):
        record.info["clean"] = False
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned >= IDLE_PING_SECONDS:
            try:
                alive = engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as error:
                alive = not engine.dialect.is_disconnect(error, dbapi_connection, None)
                if alive:
                    raise
            if not alive:
                # The pool discards it and checks out a fresh connection instead.
                raise exc.DisconnectionError("connection lost while idle in the pool")

    @event.listens_for(engine, "checkin")
    def note_return(dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "begin")
    def unclean(connection):
        connection.connection.info["clean"] = False

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def clean(connection):
        connection.connection.info["clean"] = True

    @event.listens_for(engine, "reset")
    def roll_back_unless_clean(dbapi_connection, record, state):
        if state.asyncio_safe and not (record is not None and record.info.get("clean")):
            dbapi_connection.rollback()
