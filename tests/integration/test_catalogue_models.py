"""Catalogue tables on MariaDB: constraints hold, values round-trip."""

from datetime import UTC, datetime, time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from app.domain.enums import Period, SlotState
from app.extensions import db
from app.models import Schedule, Slot
from tests.factories import make_department, make_doctor, make_hospital, make_schedule


def _raises_constraint(session, statement):
    savepoint = session.begin_nested()
    with pytest.raises((IntegrityError, OperationalError)):
        session.execute(statement)
        session.flush()
    savepoint.rollback()


def test_emoji_and_chinese_text_round_trip(session):
    hospital = make_hospital(name="和睦家医院😀", intro="急诊 24 小时 🚑")
    session.expire_all()
    assert session.get(type(hospital), hospital.id).intro == "急诊 24 小时 🚑"


def test_release_at_round_trips_as_aware_utc(session):
    moment = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    schedule = make_schedule(release_at=moment)
    session.expire_all()
    stored = session.get(Schedule, schedule.id).release_at
    assert stored == moment and stored.tzinfo is not None


def test_enums_are_stored_by_string_value(session):
    schedule = make_schedule(capacity=2)
    raw = session.execute(
        sa.text("SELECT period, status FROM schedule WHERE id = :id"), {"id": schedule.id}
    ).one()
    assert tuple(raw) == ("morning", "open")


def test_a_seq_appears_once_per_schedule(session):
    schedule = make_schedule(capacity=2)
    _raises_constraint(
        session,
        sa.insert(Slot).values(
            schedule_id=schedule.id,
            seq=1,
            state="free",
            suggested_time=time(8),
            updated_at=sa.func.now(),
        ),
    )


def test_one_schedule_per_doctor_date_and_period(session):
    schedule = make_schedule(capacity=1)
    with pytest.raises(IntegrityError), session.begin_nested():
        make_schedule(
            session.get(type(schedule.doctor), schedule.doctor_id),
            on=schedule.date,
            period=Period.MORNING,
            capacity=1,
        )


@pytest.mark.parametrize(
    "column, value",
    [("capacity", 0), ("fee_fen", -1), ("minutes_per_patient", 0), ("end_time", time(7, 0))],
)
def test_schedule_checks(session, column, value):
    schedule = make_schedule(capacity=1)
    _raises_constraint(
        session, sa.update(Schedule).where(Schedule.id == schedule.id).values({column: value})
    )


def test_department_age_range_must_be_ordered(session):
    department = make_department()
    _raises_constraint(
        session,
        sa.text("UPDATE department SET min_age = 15, max_age = 14 WHERE id = :id").bindparams(
            id=department.id
        ),
    )


def test_slot_state_counts_use_the_state_index(session):
    schedule = make_schedule(capacity=4, booked=3)
    free = session.scalar(
        sa.select(sa.func.count()).where(
            Slot.schedule_id == schedule.id, Slot.state == SlotState.FREE
        )
    )
    assert free == 1
    plan = " ".join(
        str(row)
        for row in session.execute(
            sa.text("EXPLAIN SELECT count(*) FROM slot WHERE schedule_id = :s AND state = 'free'"),
            {"s": schedule.id},
        )
    )
    assert "ix_slot_schedule_state_seq" in plan


def test_doctor_fee_cannot_be_negative(session):
    doctor = make_doctor()
    _raises_constraint(session, sa.text(f"UPDATE doctor SET fee_fen = -5 WHERE id = {doctor.id}"))
    assert db.session.get(type(doctor), doctor.id).fee_fen == 2000
