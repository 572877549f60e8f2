"""The outbox: a message exists only with the change that caused it, is queued only after that
change commits, and an event gives one message however often it is written."""

import contextlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.messages import MessageKind
from app.extensions import db, redis_store
from app.infra import queue
from app.models import Message
from app.services.booking import holds
from app.services.messages import outbox
from app.services.transaction import transaction
from tests.factories import make_account, make_schedule
from tests.integration.committed import make_patients, see_committed
from tests.support import run_queued_jobs


def _queued():
    return set(queue.get_queue(queue.NOTIFICATIONS).get_job_ids())


def test_a_committed_message_is_queued_after_the_commit(app, session):
    account = make_account()
    with transaction():
        message = outbox.add(MessageKind.STOP_CLINIC, account.id, "stop_clinic:test:1")
        db.session.flush()
        assert _queued() == set()  # not before the commit
    assert _queued() == {f"message-{message.id}"}


def test_a_rolled_back_message_leaves_no_row_and_no_job(app, session):
    account = make_account()
    db.session.commit()
    with pytest.raises(RuntimeError), transaction():
        outbox.add(MessageKind.STOP_CLINIC, account.id, "stop_clinic:test:2")
        db.session.flush()
        raise RuntimeError("the change failed")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
    assert _queued() == set()
    with transaction():
        pass  # a later commit queues nothing left over from the rolled back one
    assert _queued() == set()


def test_a_message_made_in_a_savepoint_is_queued_after_the_commit(app, session):
    account = make_account()
    with transaction():
        with db.session.begin_nested():
            message = outbox.add(MessageKind.STOP_CLINIC, account.id, "stop_clinic:test:4")
        assert _queued() == set()  # the savepoint is released, the transaction goes on
    assert _queued() == {f"message-{message.id}"}


def test_a_savepoint_rolled_back_keeps_the_messages_made_before_it(app, session):
    account = make_account()
    with transaction():
        message = outbox.add(MessageKind.STOP_CLINIC, account.id, "stop_clinic:test:5")
        db.session.flush()
        with contextlib.suppress(RuntimeError), db.session.begin_nested():
            raise RuntimeError("the savepoint is rolled back")
    assert _queued() == {f"message-{message.id}"}


def test_an_event_written_twice_is_one_message(app, session):
    account = make_account()
    with transaction():
        first = outbox.add(MessageKind.VISIT_REMINDER, account.id, "visit_reminder:test:3")
    with transaction():
        assert outbox.add(MessageKind.VISIT_REMINDER, account.id, "visit_reminder:test:3") is None
    assert db.session.scalars(sa.select(Message.id)).all() == [first.id]


def test_each_job_goes_to_the_queue_of_its_urgency():
    assert queue.queue_of("workers.orders.expire_order") == queue.BOOKING
    assert queue.queue_of("workers.payments.process_refund") == queue.BOOKING
    assert queue.queue_of("workers.messages.send_message") == queue.NOTIFICATIONS
    assert queue.queue_of("workers.reconciliation.reconcile_yesterday") == queue.DEFAULT
    assert queue.QUEUES == (queue.BOOKING, queue.NOTIFICATIONS, queue.DEFAULT)


def _free_booking(key):
    schedule = make_schedule(on=clock.business_date(clock.now()) + timedelta(days=1), fee_fen=0)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, key)
    return order


def test_a_free_clinics_booking_is_confirmed_by_a_job_after_the_hold(committed):
    order = _free_booking("free-confirm-1")
    (job,) = queue.get_queue(queue.NOTIFICATIONS).get_jobs()
    assert (job.func_name, job.args) == ("workers.messages.confirm_bookings", ([order.id],))
    run_queued_jobs()
    see_committed()
    kinds = db.session.scalars(sa.select(Message.kind).where(Message.order_id == order.id)).all()
    assert kinds == [MessageKind.BOOKING_CONFIRMED]


def test_a_lost_confirmation_job_is_made_good_by_the_backstop(committed):
    order = _free_booking("free-confirm-2")
    redis_store.client.flushdb()  # the job is lost with Redis
    later = clock.now() + timedelta(minutes=3)
    assert outbox.confirm_missed(now=clock.now()) == 0  # too early: the job may be on its way
    assert outbox.confirm_missed(now=later) == 1
    assert outbox.confirm_missed(now=later) == 0
    see_committed()
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Message).where(Message.order_id == order.id)
        )
        == 1
    )
