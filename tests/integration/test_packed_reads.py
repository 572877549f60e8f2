"""app/infra/packedsql.py: the packed reads (the hold group's, the account pages') give the rows
of their plain statements, value for value and type for type (aware datetimes, enums, dates,
times, booleans, conditions, NULLs), on
MariaDB and on SQLite, which `make run` serves on by default; read together (one round trip on
MariaDB), they give what they give one by one."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from app.domain import clock
from app.domain.accounts import AccountStatus, Sex
from app.domain.enums import ScheduleStatus
from app.extensions import db
from app.infra import sqlbatch
from app.infra.packedsql import PackedSelect, read_together
from app.models import Account, Patient
from app.services import accounts, cancellation, catalogue, patients
from app.services.booking import checks, holds, queries, slots
from tests.factories import make_schedule
from tests.integration.committed import make_patients
from tests.support import SentQueries

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _rows_of_every_kind():
    """A schedule with free and held numbers; accounts with an active order, a cancelled one,
    one blocked until a date and one never blocked. The reads' parameters."""
    schedule = make_schedule(on=TOMORROW, capacity=4)
    db.session.commit()
    schedule_id, department_id, doctor_id = schedule.id, schedule.department_id, schedule.doctor_id
    pairs = make_patients(3)
    keys = []
    for n, (account_id, patient_id) in enumerate(pairs[:2]):
        order, _ = holds.hold_slot(account_id, schedule_id, patient_id, f"packed-read-{n}")
        keys.append(order.idempotency_key)
        if n == 1:
            cancellation.cancel_order(account_id, order.id)
    db.session.get(Account, pairs[0][0]).blocked_until = clock.now() + timedelta(days=3)
    # Text that JSON must escape, or that looks like JSON itself.
    db.session.get(Patient, pairs[2][1]).name = 'O\'Brien "小\\明" {"a": [1]} \t😀'
    db.session.commit()
    account_ids = [account_id for account_id, _ in pairs]
    return {
        holds._LOCK_ACCOUNTS: {
            "account_ids": account_ids,
            "patient_ids": [patient_id for _, patient_id in pairs],
        },
        checks.ACCOUNT_ORDERS: {
            "account_ids": account_ids,
            # Text the driver must escape when it writes the values into a query of several.
            "idempotency_keys": [*keys, "no-such-key", "x'; DROP TABLE orders; -- %s %(a)s \\"],
            "day_start": clock.now() - timedelta(days=1),
        },
        checks.SCHEDULES: {"schedule_ids": [schedule_id, 10**9]},
        slots.FREE_SLOTS: {"schedule_id": schedule_id, "count": 4},
        # The account pages: an order with neither payment nor refund (conditions packed as
        # false), a patient.
        queries._PAGE: {"account_id": account_ids[0], "limit": 20, "offset": 0},
        patients._PAGE: {"account_id": account_ids[2], "limit": 20, "offset": 0},
        accounts._PROFILE: {"account_id": account_ids[0]},
        # The catalogue's schedules with their numbers left.
        catalogue._DEPARTMENT_WINDOW: {
            "department_id": department_id,
            "start": TOMORROW,
            "end": TOMORROW + timedelta(days=6),
        },
        catalogue._DEPARTMENT_DAY: {"department_id": department_id, "date": TOMORROW},
        catalogue._DOCTOR_WINDOW: {"doctor_id": doctor_id, "start": TOMORROW, "end": TOMORROW},
    }


def _same_rows_read_together(reads):
    """Every read sent together, in one query on MariaDB, gives the rows it gives alone; an
    empty result among them included. How many queries reached the database."""
    connection = sqlbatch.connection()
    together = [*reads.items()]
    together.insert(2, (checks.SCHEDULES, {"schedule_ids": [10**9]}))  # no row
    # The cancelled order is found by its creation time only, in China time: right only if the
    # value is made naive UTC (its type's bind processing) before it is written into the query.
    since = (clock.now() - timedelta(minutes=5)).astimezone(clock.CHINA_TZ)
    by_time = {**reads[checks.ACCOUNT_ORDERS], "idempotency_keys": ["none"], "day_start": since}
    together.append((checks.ACCOUNT_ORDERS, by_time))
    alone = [[tuple(row) for row in packed.rows(connection, params)] for packed, params in together]
    assert all(alone[:2]) and alone[2] == [] and all(alone[3:])
    assert len(alone[-1]) == 2  # the active order and the cancelled one
    with SentQueries(connection.engine) as queries:
        rows = read_together(connection, together)
    assert [[tuple(row) for row in found] for found in rows] == alone
    for (packed, _), found in zip(together, rows, strict=True):
        assert all(row._fields == tuple(packed.plain.selected_columns.keys()) for row in found)
    db.session.rollback()
    return len(queries.sent)


def _same_rows_as_plain(reads):
    """Compare every read with its plain statement; the types of the values compared."""
    connection = db.session.connection()
    seen = set()
    for packed, params in reads.items():
        plain = [tuple(row) for row in connection.execute(packed.plain, params)]
        rows = packed.rows(connection, params)
        assert plain, packed.plain  # the comparison means something
        assert [tuple(row) for row in rows] == plain
        assert [[type(value) for value in row] for row in rows] == [
            [type(value) for value in row] for row in plain
        ]
        assert [row._fields for row in rows[:1]] == [tuple(packed.plain.selected_columns.keys())]
        assert {str(value.tzinfo) for row in rows for value in row if hasattr(value, "tzinfo")} == {
            str(value.tzinfo) for row in plain for value in row if hasattr(value, "tzinfo")
        }
        seen |= {type(value) for row in plain for value in row}
    db.session.rollback()
    return seen


# Every kind of value the reads hold, so that each conversion is compared at least once.
KINDS = {int, str, bool, type(None), date, time, datetime, AccountStatus, Sex, ScheduleStatus}


@pytest.mark.parametrize("dialect", [mysql.dialect(), sqlite.dialect()], ids=["mysql", "sqlite"])
@pytest.mark.parametrize(
    "packed",
    [holds._LOCK_ACCOUNTS, checks.ACCOUNT_ORDERS, checks.SCHEDULES, slots.FREE_SLOTS],
    ids=["lock", "orders", "schedules", "free"],
)
def test_only_the_columns_change(packed, dialect):
    """Joins, conditions, order, limit and locking (FOR UPDATE, SKIP LOCKED) are the plain
    statement's, word for word."""
    plain, packed_sql = (str(s.compile(dialect=dialect)) for s in (packed.plain, packed.statement))
    assert packed_sql.startswith("SELECT json_array(")
    assert packed_sql.split("\nFROM ", 1)[1] == plain.split("\nFROM ", 1)[1]


def test_what_json_cannot_carry_is_refused_at_import():
    table = sa.table("t", sa.column("price", sa.Numeric(10, 2)), sa.column("blob", sa.LargeBinary))
    for column in table.c:
        with pytest.raises(TypeError, match="cannot be packed"):
            PackedSelect(sa.select(column))


def test_on_mariadb(committed):
    reads = _rows_of_every_kind()
    assert _same_rows_as_plain(reads) >= KINDS
    assert _same_rows_read_together(reads) == 1


def test_on_sqlite(sqlite_app):
    with sqlite_app.app_context():
        reads = _rows_of_every_kind()
        assert _same_rows_as_plain(reads) >= KINDS
        assert _same_rows_read_together(reads) == len(reads) + 2  # one by one


def test_an_error_of_a_later_read_is_raised_and_the_connection_stays_usable(committed):
    """MySQL answers a query of several statements one result at a time: an error of the second
    (here a lock it waited for too long) is raised, not taken for an empty result."""
    (account_id, patient_id), *_ = make_patients(1)
    reads = [
        (checks.SCHEDULES, {"schedule_ids": [10**9]}),
        (holds._LOCK_ACCOUNTS, {"account_ids": [account_id], "patient_ids": [patient_id]}),
    ]
    with sqlbatch.engine().connect() as ours, db.engine.connect() as other:
        ours.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
        try:
            other.execute(sa.select(Account.id).where(Account.id == account_id).with_for_update())
            with pytest.raises(sa.exc.OperationalError, match="1205"):
                read_together(ours, reads)
            ours.rollback()
            other.rollback()
            assert ours.scalar(sa.select(sa.literal(1))) == 1
            (_, [locked]) = read_together(ours, reads)
            assert locked.id == account_id
        finally:
            ours.rollback()
            ours.invalidate()  # its short lock wait never goes back to the pool
