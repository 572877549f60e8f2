"""app/infra/sqlbatch.py: statements sent together give what they give one by one, in one query on
MariaDB (one after another on SQLite); values are bind-processed and escaped as an execution
would send them; a later statement's error is raised as SQLAlchemy raises any other; the
engine of batches is the only one whose connections take a text of several statements, and
they keep SQLAlchemy's own client flags beside that one."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pymysql.constants import CLIENT

from app.domain import clock
from app.extensions import db
from app.infra import sqlbatch
from app.infra.sqlbatch import InsertRows, run_together
from app.models.types import UTCDateTime
from tests.support import SentQueries

_metadata = sa.MetaData()
_probe = sa.Table(
    "batch_probe",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    sa.Column("score", sa.Integer, nullable=False, server_default=sa.text("0")),
)
_insert = InsertRows(_probe, ("name", "seen_at"), (_probe.c.id, _probe.c.name))
# Integers and text: columns that need no result processing (see run_together).
_by_name = sa.select(_probe.c.name, _probe.c.score).order_by(_probe.c.name)
_score = (
    sa.update(_probe)
    .where(_probe.c.name.in_(sa.bindparam("names", expanding=True)))
    .values(score=sa.bindparam("score"))
)
# Text the driver must escape when it writes the values into a query of several.
_NAMES = ["plain", "x'; DROP TABLE batch_probe; -- %s %(a)s \\", "引号”与'反斜杠\\"]


@pytest.fixture
def probe_table():
    _metadata.create_all(db.engine)
    try:
        yield
    finally:
        db.session.rollback()
        _metadata.drop_all(db.engine)


def _together_as_one_by_one():
    """Insert, update and read in one batch; what it gave, and the queries it took."""
    # China time in, naive UTC stored (UTCDateTime's bind processing), aware UTC back.
    seen_at = (clock.now() - timedelta(hours=1)).replace(microsecond=0)
    rows = [{"name": name, "seen_at": seen_at.astimezone(clock.CHINA_TZ)} for name in _NAMES]
    connection = sqlbatch.connection()
    with SentQueries(connection.engine) as queries:
        inserted, scored, read, missing = run_together(
            connection,
            [
                _insert.of(rows),
                (_score, {"names": _NAMES[1:], "score": 7}),
                (_by_name, {}),
                (_by_name.where(_probe.c.name == "nobody"), {}),
            ],
        )
    ids = {name: row_id for row_id, name in inserted}
    assert sorted(ids) == sorted(_NAMES) and len(set(ids.values())) == 3
    assert scored == 2 and missing == []
    assert read == [(name, 0 if name == "plain" else 7) for name in sorted(_NAMES)]
    # One by one, the same.
    alone = [tuple(row) for row in connection.execute(_by_name)]
    assert alone == read
    stored = connection.execute(sa.text("SELECT seen_at FROM batch_probe LIMIT 1")).scalar()
    naive_utc = seen_at.astimezone(UTC).replace(tzinfo=None)
    assert str(stored).startswith(naive_utc.isoformat(sep=" "))  # a datetime, or SQLite's text
    return len(queries.sent)


def test_on_mariadb_in_one_query(committed, probe_table):
    assert _together_as_one_by_one() == 1


def test_on_sqlite_one_by_one(sqlite_app):
    with sqlite_app.app_context():
        _metadata.create_all(db.engine)
        assert _together_as_one_by_one() >= 4  # SQLite: an INSERT … RETURNING per row


def test_a_later_statements_error_is_raised_as_sqlalchemy_raises_it(committed, probe_table):
    rows = [{"name": "twice", "seen_at": datetime.now(UTC)}]
    run_together(sqlbatch.connection(), [_insert.of(rows), (_by_name, {})])
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError, match="Duplicate entry"):
        run_together(sqlbatch.connection(), [(_by_name, {}), _insert.of(rows)])
    db.session.rollback()
    # The connection goes on; the first statement of the failed batch changed nothing.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(_probe)) == 1


def test_what_cannot_go_together_is_refused_before_anything_is_sent(committed, probe_table):
    connection = sqlbatch.connection()
    with SentQueries(connection.engine) as queries:
        # The first statement must return rows (SQLAlchemy closes a cursor that has none).
        with pytest.raises(ValueError, match="must return rows"):
            run_together(connection, [(_score, {"names": ["x"], "score": 1}), (_by_name, {})])
        # A value that only an execution would make (a Python-side onupdate) is not left out.
        touched = sa.Table(
            "batch_probe",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("score", sa.Integer),
            sa.Column("touched", sa.Integer, onupdate=42),
        )
        with pytest.raises(TypeError, match="every value"):
            run_together(connection, [(_by_name, {}), (sa.update(touched).values(score=1), {})])
    assert queries.sent == []


def test_a_text_of_several_statements_is_refused_by_every_engine(committed, probe_table):
    """Only the engine of batches takes several statements in one query, and there only from
    run_together: any other such text would run them all and report the first one's outcome."""
    two = sa.text("UPDATE batch_probe SET score = 1; SELECT 1")
    batches = sqlbatch.connection()
    assert batches.engine is not db.engine
    with pytest.raises(sa.exc.ArgumentError, match="one statement per execution"):
        batches.execute(two)
    db.session.rollback()
    with pytest.raises(sa.exc.ProgrammingError, match="1064"):  # MariaDB: a syntax error
        db.session.execute(two)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).where(_probe.c.score == 1)) == 0
    assert db.session.execute(sa.text("SELECT 1")).scalar() == 1


def test_only_the_batch_engines_connections_take_batches_and_all_keep_sqlalchemys_flags(
    committed, probe_table
):
    connection = sqlbatch.connection()
    flags = connection.connection.dbapi_connection.client_flag
    assert flags & CLIENT.MULTI_STATEMENTS
    usual = db.session.connection().connection.dbapi_connection.client_flag
    assert not usual & CLIENT.MULTI_STATEMENTS
    # FOUND_ROWS (SQLAlchemy's): an UPDATE that changes nothing still counts the row it matched,
    # which the ORM takes for "the row is there".
    assert flags & CLIENT.FOUND_ROWS and usual & CLIENT.FOUND_ROWS
    run_together(connection, [_insert.of([{"name": "same", "seen_at": datetime.now(UTC)}])])
    again = connection.execute(_score, {"names": ["same"], "score": 0})
    assert again.rowcount == 1
