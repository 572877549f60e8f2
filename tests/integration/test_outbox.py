"""The outbox: a message exists only with the change that caused it, is queued only after that
change commits, and an event gives one message however often it is written."""

import pytest
import sqlalchemy as sa

from app.domain.messages import MessageKind
from app.extensions import db
from app.infra import queue
from app.models import Message
from app.services.messages import outbox
from app.services.transaction import transaction
from tests.factories import make_account


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
