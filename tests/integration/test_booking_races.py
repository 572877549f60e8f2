"""Holds, cancels, expiries and reschedules racing each other on real MySQL and Redis."""

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import SlotState
from app.domain.orders import OrderStatus
from app.errors import AppError
from app.extensions import db, redis_store
from app.infra import gate
from app.models import Order, Slot
from app.services import cancellation
from app.services.booking import holds, lifecycle, reschedule
from tests.factories import make_doctor, make_schedule
from tests.integration.committed import make_patients, see_committed

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def hold_all(app, schedule_id, pairs, workers=50):
    """Fire one hold per (account, patient) at once; returns the codes ("ok" or error code)."""
    start = threading.Barrier(min(workers, len(pairs)))

    def hold(pair):
        account_id, patient_id = pair
        with app.app_context():
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=10)
            try:
                holds.hold_slot(
                    account_id, schedule_id, patient_id, f"key-{account_id}-{patient_id}"
                )
                return "ok"
            except AppError as error:
                return error.code

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(hold, pairs))


def active_seqs(schedule_id):
    return sorted(
        db.session.scalars(
            sa.select(Order.seq).where(Order.schedule_id == schedule_id, Order.active.is_(True))
        )
    )


def slot_states(schedule_id):
    return dict(
        db.session.execute(
            sa.select(Slot.state, sa.func.count())
            .where(Slot.schedule_id == schedule_id)
            .group_by(Slot.state)
        ).all()
    )


def five_number_schedule():
    schedule = make_schedule(on=TOMORROW, capacity=5)
    db.session.commit()
    return schedule.id


def test_100_holds_on_5_numbers_give_exactly_5(committed):
    schedule_id = five_number_schedule()
    codes = hold_all(committed, schedule_id, make_patients(100))
    assert codes.count("ok") == 5
    assert codes.count("slot_sold_out") == 95
    see_committed()
    assert active_seqs(schedule_id) == [1, 2, 3, 4, 5]
    assert slot_states(schedule_id) == {SlotState.HELD: 5}
    assert gate.peek(schedule_id) == 0


def test_the_same_with_redis_down(committed, monkeypatch):
    schedule_id = five_number_schedule()
    pairs = make_patients(100)
    dead = redis_store.connect("redis://127.0.0.1:1/0", committed.config)
    monkeypatch.setitem(committed.extensions, "redis", dead)
    codes = hold_all(committed, schedule_id, pairs)
    assert codes.count("ok") == 5 and codes.count("slot_sold_out") == 95
    see_committed()
    assert active_seqs(schedule_id) == [1, 2, 3, 4, 5]


def test_two_holds_by_one_patient_at_once_give_one(committed):
    schedule_id = five_number_schedule()
    ((account_id, patient_id),) = make_patients(1)
    barrier = threading.Barrier(2)

    def hold(key):
        with committed.app_context():
            barrier.wait(timeout=10)
            try:
                holds.hold_slot(account_id, schedule_id, patient_id, key)
                return "ok"
            except AppError as error:
                return error.code

    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = sorted(pool.map(hold, ["attempt-one", "attempt-two"]))
    assert codes == ["duplicate_booking", "ok"]
    see_committed()
    assert active_seqs(schedule_id) == [1]


def test_a_retried_hold_returns_the_same_order_even_when_sold_out(committed):
    schedule = make_schedule(on=TOMORROW, capacity=1)
    db.session.commit()
    (account_id, patient_id), (other_account, other_patient) = make_patients(2)
    first, created = holds.hold_slot(account_id, schedule.id, patient_id, "retry-key-1")
    assert created
    with pytest.raises(AppError) as sold_out:
        holds.hold_slot(other_account, schedule.id, other_patient, "retry-key-2")
    assert sold_out.value.code == "slot_sold_out"
    again, created = holds.hold_slot(account_id, schedule.id, patient_id, "retry-key-1")
    assert (again.id, created) == (first.id, False)


def test_released_numbers_are_reused_lowest_first(committed):
    schedule_id = five_number_schedule()
    pairs = make_patients(4)
    orders = [holds.hold_slot(a, schedule_id, p, f"k-{a}")[0] for a, p in pairs[:3]]
    assert [o.seq for o in orders] == [1, 2, 3]
    cancellation.cancel_order(pairs[1][0], orders[1].id)
    fourth, _ = holds.hold_slot(pairs[3][0], schedule_id, pairs[3][1], "k-fourth")
    assert fourth.seq == 2


def test_gate_is_rebuilt_from_mysql_after_a_flush(committed):
    schedule_id = five_number_schedule()
    pairs = make_patients(3)
    holds.hold_slot(pairs[0][0], schedule_id, pairs[0][1], "flush-1")
    holds.hold_slot(pairs[1][0], schedule_id, pairs[1][1], "flush-2")
    assert gate.peek(schedule_id) == 3
    redis_store.client.flushdb()
    assert gate.peek(schedule_id) is None
    holds.hold_slot(pairs[2][0], schedule_id, pairs[2][1], "flush-3")
    free = db.session.scalar(
        sa.select(sa.func.count()).where(Slot.schedule_id == schedule_id, Slot.state == "free")
    )
    assert gate.peek(schedule_id) == free == 2


def test_a_cold_gate_met_by_many_holds_at_once_is_counted_by_mysql_once(committed):
    """At 07:00 a counter nobody has made yet meets dozens of holds of one process at once: one
    of them counts the free numbers in MySQL, the others wait for its count."""
    schedule_id = five_number_schedule()
    assert gate.peek(schedule_id) is None
    counts = []

    def slow_count(connection, cursor, statement, *args):
        if statement.lower().startswith("select count(*) as count_1, count(case"):
            counts.append(statement)
            time.sleep(0.3)  # every other hold arrives meanwhile

    sa.event.listen(db.engine, "before_cursor_execute", slow_count)
    try:
        codes = hold_all(committed, schedule_id, make_patients(8), workers=8)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", slow_count)
    assert sorted(codes) == ["ok"] * 5 + ["slot_sold_out"] * 3
    assert len(counts) == 1
    see_committed()
    assert active_seqs(schedule_id) == [1, 2, 3, 4, 5]
    assert gate.peek(schedule_id) == 0


def test_expiry_racing_cancel_ends_one_way(committed):
    schedule_id = five_number_schedule()
    ((account_id, patient_id),) = make_patients(1)
    order, _ = holds.hold_slot(account_id, schedule_id, patient_id, "race-expiry")
    later = clock.now() + timedelta(minutes=16)
    barrier = threading.Barrier(2)

    def expire():
        with committed.app_context():
            barrier.wait(timeout=10)
            return "expired" if lifecycle.expire_hold(order.id, now=later) else "noop"

    def cancel():
        with committed.app_context():
            barrier.wait(timeout=10)
            try:
                cancellation.cancel_order(account_id, order.id)
                return "cancelled"
            except AppError as error:
                return error.code

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(expire), pool.submit(cancel)]
        results = sorted(f.result() for f in futures)
    assert results in (["cancelled", "noop"], ["expired", "order_not_cancellable"])
    see_committed()
    final = db.session.get(Order, order.id)
    assert final.status == (
        OrderStatus.CANCELLED if "cancelled" in results else OrderStatus.EXPIRED
    )
    assert slot_states(schedule_id) == {SlotState.FREE: 5}
    assert gate.peek(schedule_id) == 5  # the token came back once, not twice


def test_reschedule_racing_a_hold_on_the_target(committed):
    doctor = make_doctor()
    source = make_schedule(doctor, on=TOMORROW, capacity=3)
    target = make_schedule(doctor, on=TOMORROW + timedelta(days=1), capacity=1)
    db.session.commit()
    source_id, target_id = source.id, target.id
    (mover, mover_patient), (rival, rival_patient) = make_patients(2)
    order, _ = holds.hold_slot(mover, source_id, mover_patient, "mover-key")
    barrier = threading.Barrier(2)

    def move():
        with committed.app_context():
            barrier.wait(timeout=10)
            try:
                reschedule.reschedule_order(mover, order.id, target_id)
                return "moved"
            except AppError as error:
                return error.code

    def take():
        with committed.app_context():
            barrier.wait(timeout=10)
            try:
                holds.hold_slot(rival, target_id, rival_patient, "rival-key")
                return "held"
            except AppError as error:
                return error.code

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(move), pool.submit(take)]
        results = sorted(f.result() for f in futures)
    assert results in (["moved", "slot_sold_out"], ["held", "slot_sold_out"])
    see_committed()
    assert len(active_seqs(target_id)) == 1
    moved = db.session.get(Order, order.id)
    if "moved" in results:
        assert moved.schedule_id == target_id and slot_states(source_id) == {SlotState.FREE: 3}
    else:
        assert moved.schedule_id == source_id
        assert slot_states(source_id) == {SlotState.HELD: 1, SlotState.FREE: 2}
