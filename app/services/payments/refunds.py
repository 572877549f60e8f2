"""Giving money back: refunds recorded, sent to their channel, settled and swept."""

import logging
from datetime import timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.payments import PaymentStatus, RefundReason, RefundStatus, new_out_refund_no
from app.errors import Conflict
from app.extensions import db
from app.infra import queue
from app.integrations import channels
from app.models import Order, Payment, Refund
from app.services.messages import outbox
from app.services.payments import outcomes
from app.services.transaction import lock_one, transaction

log = logging.getLogger(__name__)

# Refund attempts before a refund is handed to staff as failed.
MAX_REFUND_ATTEMPTS = 5


def unrefunded(payment: Payment) -> int:
    """What of a paid payment is neither refunded nor kept as a fee yet (failed refunds aside)."""
    taken = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen + Refund.fee_fen), 0)).where(
            Refund.payment_id == payment.id, Refund.status != RefundStatus.FAILED
        )
    )
    return payment.amount_fen - int(taken)  # SUM gives a DECIMAL on MySQL


def new_refund(payment: Payment, amount_fen, fee_fen, reason) -> Refund:
    """Record a refund; never more than what is left of the payment (the caller holds its lock)."""
    if amount_fen + fee_fen > unrefunded(payment):
        raise Conflict("退款金额超过该笔支付的可退金额", code="refund_exceeds_payment")
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        out_refund_no=new_out_refund_no(payment.order_id or 0),  # 0: money without an order
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        reason=reason,
        status=RefundStatus.PENDING,
        attempts=0,
        last_error="",
    )
    db.session.add(refund)
    return refund


def schedule_refund(refund: Refund):
    """Send a recorded refund to its channel in the background (after the commit)."""
    queue.enqueue_quietly(
        "workers.payments.process_refund", refund.id, job_id=f"refund-{refund.id}"
    )


def process_refund(refund_id) -> RefundStatus | None:
    """Send a refund to the payment's channel; retried by the caller until it succeeds or gives up.

    Safe to run twice: the channel deduplicates by out_refund_no, and a settled refund is skipped.
    """
    with transaction():
        refund = lock_one(sa.select(Refund).where(Refund.id == refund_id))
        if refund is None or refund.status not in (RefundStatus.PENDING, RefundStatus.PROCESSING):
            return None
        refund.attempts += 1
        refund.status = RefundStatus.PROCESSING
        payment = db.session.get(Payment, refund.payment_id)
    try:
        sent = channels.channel(payment.channel).refund(
            payment.out_trade_no,
            payment.amount_fen,
            refund.out_refund_no,
            refund.amount_fen,
            RefundReason(refund.reason).label,
        )
    except channels.ChannelError as error:
        gives_up = (
            isinstance(error, channels.ChannelRejected) or refund.attempts >= MAX_REFUND_ATTEMPTS
        )
        with transaction():
            locked = lock_one(sa.select(Refund).where(Refund.id == refund_id))
            locked.last_error = str(error)[:200]
            if gives_up:
                locked.status = RefundStatus.FAILED
                tell_result(locked)
        log.error("refund %s failed (attempt %s): %s", refund.out_refund_no, refund.attempts, error)
        if not gives_up:
            raise  # RQ retries it
        return RefundStatus.FAILED
    with transaction():
        locked = lock_one(sa.select(Refund).where(Refund.id == refund_id))
        locked.provider_refund_no = sent.provider_refund_no
        if sent.done and locked.status == RefundStatus.PROCESSING:
            locked.status = RefundStatus.SUCCESS
            locked.succeeded_at = clock.now()
            tell_result(locked)
        return locked.status


def refund_unknown_payment(
    channel, out_trade_no, provider_trade_no, amount_fen, paid_at=None
) -> Refund | None:
    """Give back in full money a channel's bill shows for no payment of ours (对账: paid there,
    missing here): record the payment without an order, and its refund, once however often asked.

    None when ``out_trade_no`` is one of our orders' payments after all: its own rules apply.
    """
    created = False
    with transaction():
        payment = lock_one(sa.select(Payment).where(Payment.out_trade_no == out_trade_no))
        if payment is not None and payment.order_id is not None:
            return None
        if payment is None:
            paid_at = paid_at or clock.now()
            payment = Payment(
                order_id=None,
                channel=channel,
                out_trade_no=out_trade_no,
                amount_fen=amount_fen,
                status=PaymentStatus.PAID,
                expires_at=paid_at,
                provider_trade_no=provider_trade_no,
                paid_at=paid_at,
            )
            db.session.add(payment)
            db.session.flush()
        refund = db.session.scalar(sa.select(Refund).where(Refund.payment_id == payment.id))
        if refund is None:
            refund = new_refund(payment, payment.amount_fen, 0, RefundReason.RECONCILIATION)
            created = True
    if created:
        schedule_refund(refund)
    return refund


def refund_settled(settled: channels.RefundSettled) -> outcomes.Applied:
    """Record a channel's final word on a refund (WeChat Pay's REFUND.* notification)."""
    with transaction():
        refund = lock_one(sa.select(Refund).where(Refund.out_refund_no == settled.out_refund_no))
        if refund is None:
            raise outcomes.NotifyRejected(404, "unknown out_refund_no")
        if refund.status == RefundStatus.SUCCESS:
            return outcomes.Applied.ALREADY
        if settled.succeeded:
            refund.status = RefundStatus.SUCCESS
            refund.succeeded_at = clock.now()
        else:
            refund.status = RefundStatus.FAILED
            refund.last_error = f"channel says {settled.status}"
        tell_result(refund)
        return outcomes.Applied.SETTLED


def tell_result(refund: Refund):
    """The patient is told how a refund of their order ended (in the caller's transaction)."""
    if refund.order_id is not None:  # money without an order has no one to tell
        account_id = db.session.scalar(
            sa.select(Order.account_id).where(Order.id == refund.order_id)
        )
        outbox.refund_result(refund, account_id)


def refund_sweep(now=None) -> int:
    """Re-send refunds stuck in pending or processing (a lost job, a lost notification)."""
    now = now or clock.now()
    stuck = db.session.scalars(
        sa.select(Refund.id).where(
            Refund.status.in_([RefundStatus.PENDING, RefundStatus.PROCESSING]),
            Refund.updated_at <= now - timedelta(minutes=5),
        )
    ).all()
    db.session.rollback()
    for refund_id in stuck:
        queue.enqueue_quietly(
            "workers.payments.process_refund", refund_id, job_id=f"refund-{refund_id}"
        )
    return len(stuck)


def booking_payment(order_id) -> Payment | None:
    """The paid payment that still holds the order's money: not the duplicate already sent back."""
    paid = db.session.scalars(
        sa.select(Payment)
        .where(Payment.order_id == order_id, Payment.status == PaymentStatus.PAID)
        .order_by(Payment.paid_at, Payment.id)
        .with_for_update()
    ).all()
    return next((p for p in paid if unrefunded(p) == p.amount_fen), None)
