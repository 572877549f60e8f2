"""app/packedsql.py: the hold group's packed reads give the rows of their plain statements, value
for value and type for type (aware datetimes, enums, dates, times, booleans, NULLs), on MariaDB
and on SQLite, which `make run` serves on by default."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from app.domain import clock
from app.domain.accounts import AccountStatus, Sex
from app.domain.enums import ScheduleStatus
from app.extensions import db
from app.models import Account, Patient
from app.packedsql import PackedSelect
from app.services import booking
from tests.factories import make_schedule
from tests.integration.committed import make_patients

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _rows_of_every_kind():
    """A schedule with free and held numbers; accounts with an active order, a cancelled one,
    one blocked until a date and one never blocked. The reads' parameters."""
    schedule = make_schedule(on=TOMORROW, capacity=4)
    db.session.commit()
    schedule_id = schedule.id
    pairs = make_patients(3)
    keys = []
    for n, (account_id, patient_id) in enumerate(pairs[:2]):
        order, _ = booking.hold_slot(account_id, schedule_id, patient_id, f"packed-read-{n}")
        keys.append(order.idempotency_key)
        if n == 1:
            booking.cancel_order(account_id, order.id)
    db.session.get(Account, pairs[0][0]).blocked_until = clock.now() + timedelta(days=3)
    # Text that JSON must escape, or that looks like JSON itself.
    db.session.get(Patient, pairs[2][1]).name = 'O\'Brien "小\\明" {"a": [1]} \t😀'
    db.session.commit()
    account_ids = [account_id for account_id, _ in pairs]
    return {
        booking._LOCK_ACCOUNTS: {
            "account_ids": account_ids,
            "patient_ids": [patient_id for _, patient_id in pairs],
        },
        booking._ACCOUNT_ORDERS: {
            "account_ids": account_ids,
            "idempotency_keys": [*keys, "no-such-key"],
            "day_start": clock.now() - timedelta(days=1),
        },
        booking._SCHEDULES: {"schedule_ids": [schedule_id, 10**9]},
        booking._FREE_SLOTS: {"schedule_id": schedule_id, "count": 4},
    }


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
    [booking._LOCK_ACCOUNTS, booking._ACCOUNT_ORDERS, booking._SCHEDULES, booking._FREE_SLOTS],
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
    assert _same_rows_as_plain(_rows_of_every_kind()) >= KINDS


def test_on_sqlite(sqlite_app):
    with sqlite_app.app_context():
        assert _same_rows_as_plain(_rows_of_every_kind()) >= KINDS
