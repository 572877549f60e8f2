"""seed-demo: what the demo must contain, and running it twice changes nothing."""

from datetime import timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import ScheduleStatus
from app.models import Department, Doctor, Hospital, Schedule, Slot
from app.services.demo import seed_demo


def _count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_demo_catalogue(session):
    today = clock.business_date(clock.now())
    seed_demo(today)
    hospitals = session.scalars(sa.select(Hospital)).all()
    assert len(hospitals) >= 3
    assert len({h.region for h in hospitals}) >= 2 and len({h.level for h in hospitals}) >= 2
    for hospital in hospitals:
        names = {
            d.name
            for d in session.scalars(sa.select(Department).filter_by(hospital_id=hospital.id))
        }
        assert {"妇科", "儿科"} <= names
    gynaecology = session.scalars(sa.select(Department).filter_by(name="妇科")).all()
    assert all(d.sex_rule == "female" for d in gynaecology)
    paediatrics = session.scalars(sa.select(Department).filter_by(name="儿科")).all()
    assert all(d.max_age == 14 for d in paediatrics)
    doctors = session.scalars(sa.select(Doctor)).all()
    assert len(doctors) >= 20 and all(d.title and d.specialty for d in doctors)

    schedules = session.scalars(sa.select(Schedule)).all()
    assert {s.date for s in schedules} == {today + timedelta(days=n) for n in range(8)}
    now = clock.now()
    released = [s for s in schedules if s.release_at <= now]
    assert len(released) > len(schedules) / 2
    assert any(s.release_at > now for s in schedules)
    assert any(s.status == ScheduleStatus.STOPPED for s in schedules)
    assert any(s.capacity == 5 for s in schedules)
    assert _count(session, Slot) == sum(s.capacity for s in schedules)


def test_seeding_twice_adds_nothing(session):
    today = clock.business_date(clock.now())
    seed_demo(today)
    before = {
        model: _count(session, model) for model in (Hospital, Department, Doctor, Schedule, Slot)
    }
    counts = seed_demo(today)
    assert set(counts.values()) == {0}
    assert {model: _count(session, model) for model in before} == before


def test_seeding_the_next_day_adds_only_the_new_day(session):
    today = clock.business_date(clock.now())
    seed_demo(today)
    first = _count(session, Schedule)
    counts = seed_demo(today + timedelta(days=1))
    assert counts["hospitals"] == counts["doctors"] == 0
    assert 0 < counts["schedules"] < first
    last_day = today + timedelta(days=8)
    assert (
        session.scalar(sa.select(sa.func.count()).where(Schedule.date == last_day))
        == counts["schedules"]
    )
