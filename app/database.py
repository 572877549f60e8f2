"""Creating the database itself (not its tables: that is the migrations' job)."""

import re
from pathlib import Path

import pymysql
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
