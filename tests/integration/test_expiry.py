"""Hold expiry through RQ: the timer, its cancellation, and the sweep for lost timers."""

from datetime import timedelta

import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from app.domain import clock
from app.domain.enums import SlotState
from app.domain.orders import OrderStatus
from app.extensions import db
from app.infra import gate, queue
from app.models import Order, Slot
from app.services import cancellation, expiry
from app.services.booking import holds, lifecycle
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed
from tests.support import run_queued_jobs

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _hold(minutes_ago=0, key="expiry-key"):
    schedule = make_schedule(on=TOMORROW, capacity=2)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    then = clock.now() - timedelta(minutes=minutes_ago)
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, key, now=then)
    run_queued_jobs()  # the worker arms the group's timers
    return order, account_id


def _slot_state(order):
    see_committed()
    return db.session.scalar(sa.select(Slot.state).where(Slot.id == order.slot_id))


def test_a_hold_gets_a_timer_with_a_stable_id_at_its_deadline(committed):
    order, _ = _hold()
    registry = ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING))
    job_id = f"expire-order-{order.id}"
    assert job_id in registry.get_job_ids()
    scheduled = registry.get_scheduled_time(job_id)
    assert abs(scheduled - order.expires_at) < timedelta(seconds=1)


def test_the_timer_expires_an_unpaid_hold_in_a_worker(committed):
    order, _ = _hold(minutes_ago=20)  # its deadline passed 5 minutes ago
    assert _slot_state(order) == SlotState.HELD
    run_queued_jobs(with_scheduler=True)
    see_committed()
    expired = db.session.get(Order, order.id)
    assert expired.status == OrderStatus.EXPIRED and expired.cancel_reason == "超时未支付"
    assert expired.active is None
    assert _slot_state(order) == SlotState.FREE
    assert gate.peek(order.schedule_id) == 2


def test_a_hold_has_no_timer_until_the_worker_arms_it(committed):
    schedule = make_schedule(on=TOMORROW, capacity=2)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, "unarmed-key")
    registry = ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING))
    assert f"expire-order-{order.id}" not in registry.get_job_ids()
    (job,) = queue.get_queue(queue.BOOKING).get_jobs()
    assert job.func_name == "workers.orders.arm_expiry_timers" and job.args == ([order.id],)
    run_queued_jobs()
    assert f"expire-order-{order.id}" in registry.get_job_ids()


def test_an_order_closed_before_its_timer_is_armed_gets_none(committed):
    schedule = make_schedule(on=TOMORROW, capacity=2)
    db.session.commit()
    pairs = make_patients(2)
    orders = [
        holds.hold_slot(account_id, schedule.id, patient_id, f"arm-{account_id}")[0]
        for account_id, patient_id in pairs
    ]
    cancellation.cancel_order(pairs[0][0], orders[0].id)
    assert lifecycle.arm_expiry_timers([order.id for order in orders]) == 1
    registry = ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING))
    assert f"expire-order-{orders[0].id}" not in registry.get_job_ids()
    assert f"expire-order-{orders[1].id}" in registry.get_job_ids()


def test_the_timer_does_nothing_before_the_deadline(committed):
    order, _ = _hold()
    assert lifecycle.expire_hold(order.id) is False
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT


def test_running_the_expiry_twice_has_one_effect(committed):
    order, _ = _hold(minutes_ago=20)
    assert lifecycle.expire_hold(order.id) is True
    assert lifecycle.expire_hold(order.id) is False
    assert gate.peek(order.schedule_id) == 2  # one token back, not two


def test_cancel_removes_the_timer(committed):
    order, account_id = _hold()
    cancellation.cancel_order(account_id, order.id)
    registry = ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING))
    assert f"expire-order-{order.id}" not in registry.get_job_ids()
    assert _slot_state(order) == SlotState.FREE


def test_the_sweep_catches_a_lost_timer(committed):
    order, _ = _hold(minutes_ago=20)
    job = queue.get_queue(queue.BOOKING).fetch_job(f"expire-order-{order.id}")
    job.delete()  # the timer is lost
    assert expiry.sweep_expired_holds() == 1
    see_committed()
    assert db.session.get(Order, order.id).status == OrderStatus.EXPIRED
    assert _slot_state(order) == SlotState.FREE
    assert expiry.sweep_expired_holds() == 0


def test_the_resync_heals_a_counter_that_missed_a_give_back(committed):
    order, account_id = _hold()
    gate.reset(order.schedule_id, 0)  # as if a release happened while Redis was away
    assert lifecycle.resync_gates() >= 1
    assert gate.peek(order.schedule_id) == 1  # capacity 2, one held
    cancellation.cancel_order(account_id, order.id)
    lifecycle.resync_gates()
    assert gate.peek(order.schedule_id) == 2
