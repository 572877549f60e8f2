"""The calendar/schedule cache in real Redis: served from Redis, invalidated on slot change."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import SlotState
from app.errors import ValidationFailed
from app.extensions import redis_store
from app.infra import cache
from app.models import Slot
from app.schemas.catalogue import CalendarDaySchema
from app.services import catalogue
from tests.factories import make_schedule

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _take_a_number(session, schedule):
    session.execute(
        sa.update(Slot)
        .where(Slot.schedule_id == schedule.id, Slot.seq == 1)
        .values(state=SlotState.HELD)
    )
    session.commit()  # a savepoint here; the outer transaction is rolled back after the test


def _calendar(department_id, **window):
    return json.loads(catalogue.department_calendar(department_id, **window))


def _remaining(department_id, on=TOMORROW):
    return _calendar(department_id, start=on, days=1)[0]["remaining"]


def test_a_slot_change_shows_on_the_next_read_after_invalidation(session):
    schedule = make_schedule(on=TOMORROW, capacity=5)
    assert _remaining(schedule.department_id) == 5
    _take_a_number(session, schedule)
    cache.invalidate_department(schedule.department_id)
    assert _remaining(schedule.department_id) == 4
    items = catalogue.department_schedules(schedule.department_id, TOMORROW)
    assert items[0]["remaining"] == 4


def test_reads_are_served_from_redis_until_invalidated(session):
    """Without the invalidation hook the cached value stands: the hook is what makes it fresh."""
    schedule = make_schedule(on=TOMORROW, capacity=5)
    assert _remaining(schedule.department_id) == 5
    _take_a_number(session, schedule)
    assert _remaining(schedule.department_id) == 5


def test_invalidation_covers_schedules_and_doctor_pages(session):
    schedule = make_schedule(on=TOMORROW, capacity=3)
    department_id, doctor_id = schedule.department_id, schedule.doctor_id
    assert catalogue.department_schedules(department_id, TOMORROW)[0]["remaining"] == 3
    assert catalogue.doctor_schedules(doctor_id, start=TOMORROW, days=1)[0]["remaining"] == 3
    _take_a_number(session, schedule)
    cache.invalidate_department(department_id)
    assert catalogue.department_schedules(department_id, TOMORROW)[0]["remaining"] == 2
    assert catalogue.doctor_schedules(doctor_id, start=TOMORROW, days=1)[0]["remaining"] == 2


def test_a_read_racing_an_invalidation_is_not_cached(session, redis):
    """A result computed before a slot change committed must not be stored after it."""
    schedule = make_schedule(on=TOMORROW, capacity=5)
    department_id = schedule.department_id
    now = clock.now()

    def stale_compute(now):
        # The slot changes (and invalidates) while this read is under way.
        cache.invalidate_department(department_id)
        return [{"remaining": 5}], None

    assert cache.cached_read(department_id, "probe", stale_compute, now) == [{"remaining": 5}]
    assert redis.hget(f"catalogue:dept:{department_id}", "probe") is None


def test_an_entry_stops_being_served_at_the_next_release(session, redis):
    schedule = make_schedule(on=TOMORROW, capacity=2)
    department_id = schedule.department_id
    now = clock.now()
    calls = []

    def compute(now):
        calls.append(now)
        return {"n": len(calls)}, now + timedelta(seconds=30)

    assert cache.cached_read(department_id, "probe", compute, now)["n"] == 1
    assert cache.cached_read(department_id, "probe", compute, now)["n"] == 1
    later = now + timedelta(seconds=31)
    assert cache.cached_read(department_id, "probe", compute, later)["n"] == 2


def test_not_released_turns_available_at_release_time_despite_the_cache(session):
    now = clock.now()
    schedule = make_schedule(on=TOMORROW, capacity=2, release_at=now + timedelta(minutes=5))
    before = _calendar(schedule.department_id, start=TOMORROW, days=1, now=now)
    assert before[0]["status"] == "not_released"
    after = _calendar(
        schedule.department_id, start=TOMORROW, days=1, now=now + timedelta(minutes=5)
    )
    assert after[0]["status"] == "available"


def test_reads_work_when_redis_is_down(session, app, monkeypatch):
    schedule = make_schedule(on=TOMORROW, capacity=4)
    dead = redis_store.connect("redis://127.0.0.1:1/0", app.config)
    monkeypatch.setitem(app.extensions, "redis", dead)
    assert _remaining(schedule.department_id) == 4
    cache.invalidate_department(schedule.department_id)  # logs, does not raise


@pytest.mark.parametrize("days", [0, 15])
def test_the_service_refuses_windows_outside_1_to_14_days(session, days):
    schedule = make_schedule(on=TOMORROW, capacity=1)
    with pytest.raises(ValidationFailed) as error:
        catalogue.department_calendar(schedule.department_id, start=TOMORROW, days=days)
    assert "days" in error.value.extra["errors"]


def test_the_calendar_document_is_what_its_schema_would_dump(session):
    """The calendar is sent as cached, without the schema: it must be the schema's dump."""
    schedule = make_schedule(on=TOMORROW, capacity=3)
    schema = CalendarDaySchema(many=True)
    for _ in range(2):  # computed, then from the cache
        cells = _calendar(schedule.department_id, start=TOMORROW, days=3)
        assert [set(cell) for cell in cells] == [set(schema.fields)] * 3
        assert schema.dump(schema.load(cells)) == cells
