"""The catalogue read cache in real Redis: answers served from Redis, invalidated by scope."""

import json
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import SlotState
from app.errors import NotFound, ValidationFailed
from app.extensions import db, redis_store
from app.infra import cache
from app.models import Slot
from app.schemas.catalogue import CalendarDaySchema, ScheduleSchema
from app.services import catalogue
from tests.factories import make_schedule
from tests.support import SentQueries

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _take_a_number(session, schedule):
    session.execute(
        sa.update(Slot)
        .where(Slot.schedule_id == schedule.id, Slot.seq == 1)
        .values(state=SlotState.HELD)
    )
    session.commit()  # a savepoint here; the outer transaction is rolled back after the test


def _read(scope, field, compute, now=None, schema=None):
    """What the endpoints do (app/api/public.py): the cached document of ``compute``'s value,
    dumped by the endpoint's schema, decoded."""

    def dumped(now):
        value, valid_until = compute(now)
        return (value if schema is None else schema.dump(value)), valid_until

    return json.loads(cache.cached_document(scope, field, dumped, now or clock.now()).body)


def _calendar(department_id, start, days, now=None):
    return _read(
        cache.department(department_id),
        f"calendar:{start}:{days}",
        lambda now: catalogue.department_calendar(department_id, start, days, now),
        now,
        CalendarDaySchema(many=True),
    )


def _schedules(department_id, on=TOMORROW):
    return _read(
        cache.department(department_id),
        f"schedules:{on}",
        lambda now: catalogue.department_schedules(department_id, on, now),
        schema=ScheduleSchema(many=True),
    )


def _doctor_schedules(doctor_id, start, days):
    return _read(
        cache.department(catalogue.doctor_department_id(doctor_id)),
        f"doctor:{doctor_id}:{start}:{days}",
        lambda now: catalogue.doctor_schedules(doctor_id, start, days, now),
        schema=ScheduleSchema(many=True),
    )


def _remaining(department_id, on=TOMORROW):
    return _calendar(department_id, start=on, days=1)[0]["remaining"]


def test_a_slot_change_shows_on_the_next_read_after_invalidation(session):
    schedule = make_schedule(on=TOMORROW, capacity=5)
    assert _remaining(schedule.department_id) == 5
    _take_a_number(session, schedule)
    cache.invalidate_department(schedule.department_id)
    assert _remaining(schedule.department_id) == 4
    assert _schedules(schedule.department_id)[0]["remaining"] == 4


def test_reads_are_served_from_redis_until_invalidated(session):
    """Without the invalidation hook the cached value stands: the hook is what makes it fresh."""
    schedule = make_schedule(on=TOMORROW, capacity=5)
    assert _remaining(schedule.department_id) == 5
    _take_a_number(session, schedule)
    assert _remaining(schedule.department_id) == 5


def test_invalidation_covers_schedules_and_doctor_pages(session):
    schedule = make_schedule(on=TOMORROW, capacity=3)
    department_id, doctor_id = schedule.department_id, schedule.doctor_id
    assert _schedules(department_id)[0]["remaining"] == 3
    assert _doctor_schedules(doctor_id, start=TOMORROW, days=1)[0]["remaining"] == 3
    _take_a_number(session, schedule)
    cache.invalidate_department(department_id)
    assert _schedules(department_id)[0]["remaining"] == 2
    assert _doctor_schedules(doctor_id, start=TOMORROW, days=1)[0]["remaining"] == 2


def test_a_read_racing_an_invalidation_is_not_cached(session, redis):
    """A result computed before a slot change committed must not be stored after it."""
    schedule = make_schedule(on=TOMORROW, capacity=5)
    department_id = schedule.department_id
    now = clock.now()

    def stale_compute(now):
        # The slot changes (and invalidates) while this read is under way.
        cache.invalidate_department(department_id)
        return [{"remaining": 5}], None

    assert _read(cache.department(department_id), "probe", stale_compute, now) == [{"remaining": 5}]
    assert redis.hget(f"catalogue:dept:{department_id}", "probe") is None


def test_an_entry_stops_being_served_at_the_next_release(session, redis):
    schedule = make_schedule(on=TOMORROW, capacity=2)
    department_id = schedule.department_id
    now = clock.now()
    calls = []

    def compute(now):
        calls.append(now)
        return {"n": len(calls)}, now + timedelta(seconds=30)

    scope = cache.department(department_id)
    assert _read(scope, "probe", compute, now)["n"] == 1
    assert _read(scope, "probe", compute, now)["n"] == 1
    later = now + timedelta(seconds=31)
    assert _read(scope, "probe", compute, later)["n"] == 2


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
    assert schedule.department_id
    with pytest.raises(ValidationFailed) as error:
        catalogue.check_window(TOMORROW, days, clock.now())
    assert "days" in error.value.extra["errors"]


def test_a_document_carries_the_etag_of_its_body_from_the_cache_too(session):
    schedule = make_schedule(on=TOMORROW, capacity=3)
    scope, now = cache.department(schedule.department_id), clock.now()

    def compute(now):
        cells, valid_until = catalogue.department_calendar(schedule.department_id, TOMORROW, 2, now)
        return CalendarDaySchema(many=True).dump(cells), valid_until

    computed = cache.cached_document(scope, "calendar", compute, now)
    cached = cache.cached_document(scope, "calendar", lambda now: pytest.fail("a miss"), now)
    assert cached == computed
    assert cache.cached_only(scope, "calendar", now) == computed
    _take_a_number(session, schedule)
    cache.invalidate_department(schedule.department_id)
    changed = cache.cached_document(scope, "calendar", compute, now)
    assert changed.etag != computed.etag
    assert json.loads(changed.body)[0]["remaining"] == 2


def test_the_catalogue_scope_is_invalidated_by_itself(session):
    """A slot change drops a department's availability, not the hospitals or the trees."""
    schedule = make_schedule(on=TOMORROW, capacity=3)
    now, calls = clock.now(), []

    def compute(now):
        calls.append(now)
        return {"n": len(calls)}, None

    assert _read(cache.CATALOGUE, "hospitals", compute, now) == {"n": 1}
    cache.invalidate_department(schedule.department_id)
    assert _read(cache.CATALOGUE, "hospitals", compute, now) == {"n": 1}
    cache.invalidate(cache.CATALOGUE)
    assert _read(cache.CATALOGUE, "hospitals", compute, now) == {"n": 2}


def test_a_miss_met_by_many_threads_at_once_is_computed_once(committed):
    """At the release time hundreds of phones open the same department at once: one thread
    of the process computes the answer, the others wait and read what it stored."""
    app, calls, answers = committed, [], []
    scope, now = cache.department(10**9), clock.now()
    arrived = threading.Barrier(8)

    def compute(now):
        calls.append(now)
        time.sleep(0.3)  # the others arrive while this one computes
        return {"n": len(calls)}, None

    def read():
        with app.app_context():
            arrived.wait(5)
            answers.append(json.loads(cache.cached_document(scope, "tree", compute, now).body))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1
    assert answers == [{"n": 1}] * 8


def _doctor_reads(sent):
    return [query for query in sent if query.startswith("SELECT doctor.")]


def test_a_process_reads_every_doctors_department_at_its_first_lookup(session, app):
    first, second = make_schedule(on=TOMORROW), make_schedule(on=TOMORROW)
    session.commit()
    app.extensions.pop("doctor_departments", None)  # as in a process just started

    with SentQueries(db.engine) as at_first:
        departments = [catalogue.doctor_department_id(s.doctor_id) for s in (first, second)]
    added = make_schedule(on=TOMORROW)  # a doctor added since: read on its own, then known
    session.commit()
    with SentQueries(db.engine) as later:
        again = [catalogue.doctor_department_id(added.doctor_id) for _ in range(2)]
        with pytest.raises(NotFound):
            catalogue.doctor_department_id(10**9)

    assert departments == [first.department_id, second.department_id]
    assert again == [added.department_id] * 2
    assert len(_doctor_reads(at_first.sent)) == 1
    assert len(_doctor_reads(later.sent)) == 2  # the added doctor's, and the unknown one's
