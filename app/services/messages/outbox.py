"""The outbox: a message is a row written in the transaction of the change that causes it, and
queued for sending once that transaction commits (never before, never without it)."""

from datetime import timedelta

import sqlalchemy as sa
from rq import Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.domain import clock
from app.domain.messages import MessageKind, MessageStatus
from app.domain.orders import OrderStatus
from app.extensions import db
from app.infra import queue
from app.models import Message, Order
from app.services.transaction import transaction

_NEW = "outbox_new_messages"
# The orders a booking confirmation is still worth sending for.
_CONFIRMED = (OrderStatus.BOOKED, OrderStatus.CHECKED_IN, OrderStatus.CALLED)
# A message WeChat or the SMS gateway could not take for now is tried again after these waits;
# then the backstop (delivery.resend_stuck) picks it up.
SEND_RETRY = Retry(max=4, interval=[10, 60, 300, 900])


def add(kind: MessageKind, account_id, event_key, order_id=None, facts=None) -> Message | None:
    """Record a message for the event ``event_key`` in the current transaction, unless the event
    already has one (the caller holds the lock of the row the event is about, e.g. the order);
    it is queued for sending when the transaction commits."""
    if db.session.scalar(sa.select(Message.id).where(Message.event_key == event_key)):
        return None
    message = Message(
        kind=MessageKind(kind),
        account_id=account_id,
        order_id=order_id,
        event_key=event_key,
        facts=facts or {},
        status=MessageStatus.PENDING,
        attempts=0,
        last_error="",
    )
    db.session.add(message)
    db.session.info.setdefault(_NEW, []).append(message)
    return message


def booking_confirmed(order):
    """预约成功: the order is booked (paid, or moved to another time while booked)."""
    return add(
        MessageKind.BOOKING_CONFIRMED,
        order.account_id,
        f"booking_confirmed:{order.id}:{order.reschedule_count}",
        order_id=order.id,
    )


def confirm_bookings(order_ids) -> int:
    """预约成功 for orders booked at the hold itself (a free clinic's), each once; how many were
    written now."""
    written = 0
    with transaction():
        orders = db.session.scalars(
            sa.select(Order)
            .where(Order.id.in_(list(order_ids)), Order.status.in_(_CONFIRMED))
            .order_by(Order.id)
            .with_for_update()
        ).all()
        for order in orders:
            written += booking_confirmed(order) is not None
    return written


def confirm_missed(now=None, within=timedelta(days=1), settle=timedelta(minutes=2)) -> int:
    """The backstop of confirm_bookings: free orders booked in the last day (and not in the
    last minutes, whose job may still be on its way) without a confirmation get one."""
    now = now or clock.now()
    candidates = db.session.scalars(
        sa.select(Order.id).where(
            Order.amount_fen == 0,
            Order.status.in_(_CONFIRMED),
            Order.created_at > now - within,
            Order.created_at <= now - settle,
        )
    ).all()
    confirmed = set(
        db.session.scalars(
            sa.select(Message.order_id).where(
                Message.kind == MessageKind.BOOKING_CONFIRMED, Message.order_id.in_(candidates)
            )
        )
    )
    db.session.rollback()
    missed = [order_id for order_id in candidates if order_id not in confirmed]
    return confirm_bookings(missed) if missed else 0


def refund_result(refund, account_id):
    """退款结果: a refund of the account's order succeeded or was given up."""
    return add(
        MessageKind.REFUND_RESULT,
        account_id,
        f"refund_result:{refund.id}",
        order_id=refund.order_id,
        facts={"status": str(refund.status), "amount_fen": int(refund.amount_fen)},
    )


def stop_clinic(order, reason, alternatives, refund=None):
    """停诊通知: the order's clinic was stopped; what was refunded and where else to go."""
    return add(
        MessageKind.STOP_CLINIC,
        order.account_id,
        f"stop_clinic:{order.id}",
        order_id=order.id,
        facts={
            "reason": reason,
            "alternatives": list(alternatives),
            "refund_fen": int(refund.amount_fen) if refund is not None else 0,
        },
    )


def queue_called(order_id, account_id, ahead):
    """叫号提醒: few enough patients are ahead in the visit-day queue (once per order)."""
    return add(
        MessageKind.QUEUE_CALLED,
        account_id,
        f"queue_called:{order_id}",
        order_id=order_id,
        facts={"ahead": ahead},
    )


def visit_reminder(order, which):
    """就诊提醒: ``which`` is "evening" (the evening before) or "before" (before arrival)."""
    return add(
        MessageKind.VISIT_REMINDER,
        order.account_id,
        f"visit_reminder:{which}:{order.id}",
        order_id=order.id,
    )


def send_later(message_id):
    """Queue the sending of a message (a stable job id: queued twice, it is sent once)."""
    queue.enqueue_quietly(
        "workers.messages.send_message",
        message_id,
        job_id=f"message-{message_id}",
        retry=SEND_RETRY,
    )


def install():
    """Queue each committed transaction's new messages, and forget those of a rolled back one
    (for every session; create_app calls this once). A savepoint's release or rollback is
    neither: the transaction goes on."""
    if not event.contains(Session, "after_commit", _queue_committed):
        event.listen(Session, "after_commit", _queue_committed)
        event.listen(Session, "after_soft_rollback", _forget_rolled_back)


def _queue_committed(session):
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: nothing is committed yet
    # The ids are known since the flush; reading them from the identity emits no SQL, which
    # the session no longer allows here.
    for message in session.info.pop(_NEW, ()):
        identity = sa.inspect(message).identity
        if identity is not None:
            send_later(identity[0])


def _forget_rolled_back(session, previous_transaction):
    if previous_transaction.parent is None:  # the transaction, not a savepoint within it
        session.info.pop(_NEW, None)
