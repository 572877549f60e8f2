"""The hold's fast paths against real MySQL and Redis: admission, retries, and Redis failing
after the commit."""

import logging
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from app.domain import clock
from app.domain.orders import OrderStatus
from app.errors import AppError
from app.extensions import db, redis_store
from app.infra import gate, queue
from app.models import Order, Slot
from app.services import expiry
from app.services.booking import holds, lifecycle
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed
from tests.support import run_queued_jobs

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _schedule(capacity=2):
    schedule = make_schedule(on=TOMORROW, capacity=capacity)
    db.session.commit()
    return schedule.id


def test_the_gate_admits_counts_down_then_says_sold_out(committed):
    gate.reset(7001, 1)
    assert gate.admit(1, "key-00000001", 7001) is gate.Admission.ADMITTED
    assert gate.peek(7001) == 0
    assert gate.admit(2, "key-00000002", 7001) is gate.Admission.SOLD_OUT
    assert gate.peek(7001) == 0


def test_a_retry_of_a_hold_that_succeeded_is_let_through_without_a_token(committed):
    gate.reset(7002, 0)
    with redis_store.batch("test") as pipe:
        gate.remember(1, "key-00000001", 99, pipe)
    assert gate.admit(1, "key-00000001", 7002) is gate.Admission.REPLAYED
    assert gate.admit(1, "key-00000002", 7002) is gate.Admission.SOLD_OUT
    assert gate.peek(7002) == 0


def test_without_a_counter_or_without_redis_the_gate_does_not_know(committed, monkeypatch):
    assert gate.admit(1, "key-00000001", 7003) is gate.Admission.UNKNOWN
    dead = redis_store.connect("redis://127.0.0.1:1/0", committed.config)
    monkeypatch.setitem(committed.extensions, "redis", dead)
    assert gate.admit(1, "key-00000001", 7003) is gate.Admission.UNKNOWN


def test_admit_on_a_dropped_connection_takes_nothing_and_does_not_know(committed):
    gate.reset(7004, 1)
    own = redis_store.read("CLIENT", "ID")  # admit's connection: this thread's own
    redis_store.client.execute_command("CLIENT", "KILL", "ID", own)
    assert gate.admit(1, "key-00000001", 7004) is gate.Admission.UNKNOWN
    assert gate.peek(7004) == 1  # not sent again: had it been, a token would be gone
    assert gate.admit(1, "key-00000001", 7004) is gate.Admission.ADMITTED
    assert gate.peek(7004) == 0


def test_a_retry_after_a_redis_flush_finds_its_order_in_mysql(committed):
    schedule_id = _schedule(capacity=1)
    ((account_id, patient_id),) = make_patients(1)
    first, _ = holds.hold_slot(account_id, schedule_id, patient_id, "flushed-key")
    redis_store.client.flushdb()
    again, created = holds.hold_slot(account_id, schedule_id, patient_id, "flushed-key")
    assert (again.id, created) == (first.id, False)
    assert again.status == OrderStatus.PENDING_PAYMENT and again.seq == first.seq
    # The counter was rebuilt from MySQL for the retry and its token given back.
    assert gate.peek(schedule_id) == 0


def test_a_retry_gives_its_token_back(committed):
    schedule_id = _schedule(capacity=3)
    ((account_id, patient_id),) = make_patients(1)
    holds.hold_slot(account_id, schedule_id, patient_id, "once-key-1")
    assert gate.peek(schedule_id) == 2
    redis_store.client.delete(gate._REPLAY.format(account_id, "once-key-1"))
    holds.hold_slot(account_id, schedule_id, patient_id, "once-key-1")  # found in MySQL
    assert gate.peek(schedule_id) == 2


def test_a_hold_for_an_account_that_is_gone_books_nothing(committed):
    schedule_id = _schedule()
    ((_, patient_id),) = make_patients(1)
    gate.reset(schedule_id, 2)
    with pytest.raises(AppError) as refused:
        holds.hold_slot(10**12, schedule_id, patient_id, "no-account-key")
    assert refused.value.status == 401
    assert gate.peek(schedule_id) == 2
    see_committed()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_redis_failing_after_the_commit_leaves_the_hold_standing(committed, monkeypatch, caplog):
    """The order is answered; its lost timer is the sweep's, its stale cache lives out its TTL."""
    schedule_id = _schedule()
    ((account_id, patient_id),) = make_patients(1)
    gate.reset(schedule_id, 2)

    def fail(self, *args, **kwargs):
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(redis.client.Pipeline, "execute", fail)
    with caplog.at_level(logging.WARNING, logger="app.extensions"):
        order, created = holds.hold_slot(account_id, schedule_id, patient_id, "late-fail-key")
    monkeypatch.undo()
    assert created and order.status == OrderStatus.PENDING_PAYMENT
    assert f"after holding orders {order.id}" in caplog.text
    registry = ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING))
    assert lifecycle.expire_job_id(order.id) not in registry.get_job_ids()
    see_committed()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    later = order.expires_at + timedelta(seconds=1)
    assert expiry.sweep_expired_holds(now=later) == 1


def test_the_timer_replay_key_and_cache_invalidation_are_written_together(committed):
    schedule = make_schedule(on=TOMORROW, capacity=2)
    db.session.commit()
    schedule_id = schedule.id
    ((account_id, patient_id),) = make_patients(1)
    version_key = f"catalogue:dept:{schedule.department_id}:version"
    before = int(redis_store.client.get(version_key) or 0)
    order, _ = holds.hold_slot(account_id, schedule_id, patient_id, "together-key")
    run_queued_jobs()  # the job that arms the timer came in the same batch
    registry = ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING))
    assert lifecycle.expire_job_id(order.id) in registry.get_job_ids()
    assert int(redis_store.client.get(gate._REPLAY.format(account_id, "together-key"))) == order.id
    assert int(redis_store.client.get(version_key)) == before + 1


def test_idempotency_keys_compare_as_the_unique_key_does(committed):
    """MySQL's collation makes "Key" and "key" one key: the retry finds the order, no 409."""
    schedule_id = _schedule()
    ((account_id, patient_id),) = make_patients(1)
    first, _ = holds.hold_slot(account_id, schedule_id, patient_id, "Mixed-Case-Key")
    again, created = holds.hold_slot(account_id, schedule_id, patient_id, "mixed-case-key")
    assert (again.id, created) == (first.id, False)


def test_a_token_holder_that_finds_no_number_leaves_the_gate_at_zero(committed):
    """MySQL said none left and set the counter to 0; the refused hold's token stays spent
    (giving it back would advertise a number that a tokenless hold took meanwhile)."""
    schedule_id = _schedule(capacity=1)
    ((account_id, patient_id),) = make_patients(1)
    db.session.execute(sa.update(Slot).where(Slot.schedule_id == schedule_id).values(state="held"))
    db.session.commit()
    gate.reset(schedule_id, 1)  # stale: the number went without a token
    with pytest.raises(AppError) as refused:
        holds.hold_slot(account_id, schedule_id, patient_id, "no-number-key")
    assert refused.value.code == "slot_sold_out" and refused.value.status == 409
    assert gate.peek(schedule_id) == 0
