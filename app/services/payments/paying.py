"""Paying for an order: the channel's means to pay, and a payment applied once the channel
(or our own query of it) confirms it."""

import logging
from datetime import timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.orders import OrderStatus
from app.domain.payments import PaymentChannel, PaymentStatus, RefundReason
from app.errors import AppError, Conflict
from app.extensions import db, redis_store
from app.infra import cache, queue
from app.integrations import channels
from app.models import Account, Payment
from app.services.booking import lifecycle, slots
from app.services.messages import outbox
from app.services.payments import outcomes, refunds
from app.services.transaction import lock_one, transaction

log = logging.getLogger(__name__)

SUBJECT = "挂号费"
# When to ask the channel ourselves if no notification came (it can be lost).
CHECK_AFTER = timedelta(minutes=5)


class PaymentUnavailable(AppError):
    status = 503
    code = "payment_unavailable"
    message = "支付服务暂时不可用，请稍后再试"


def start_payment(account_id, order_id, channel_code: PaymentChannel, now=None) -> dict:
    """Start paying an unpaid hold through a channel: what the client needs to pay there
    (WeChat's requestPayment params, Alipay's cashier URL).

    Asking again while the hold lasts returns the same prepay; the payment expires with the hold.
    """
    now = now or clock.now()
    channel = channels.channel(channel_code)
    with transaction():
        order = lifecycle.lock_order(order_id, account_id)
        if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at <= now:
            raise Conflict("该挂号单当前不可支付", code="order_not_payable")
        # The payer's openid and the order's pending payment of this channel, in one query.
        openid, payment = db.session.execute(
            sa.select(Account.openid, Payment)
            .outerjoin(
                Payment,
                sa.and_(
                    Payment.order_id == order.id,
                    Payment.channel == channel.code,
                    Payment.status == PaymentStatus.PENDING,
                ),
            )
            .where(Account.id == account_id)
            .limit(1)
        ).one()
        if channel.needs_openid and not openid:
            raise Conflict("请在微信小程序内使用微信支付", code="wechat_login_required")
        if payment is None:
            payment = Payment.pending_for(order, channel.code)
            db.session.add(payment)
    if payment.prepay_id is None and payment.pay_url is None:
        started = _prepay(channel, payment, openid)
    else:
        started = channels.Started(prepay_id=payment.prepay_id, pay_url=payment.pay_url)
    return {
        "channel": channel.code,
        "out_trade_no": payment.out_trade_no,
        **channel.means_to_pay(started),
    }


_SAVE_STARTED = (
    sa.update(Payment.__table__)
    .where(Payment.__table__.c.id == sa.bindparam("payment_id"))
    .values(prepay_id=sa.bindparam("prepay_id"), pay_url=sa.bindparam("pay_url"))
)


def _prepay(channel: channels.Channel, payment: Payment, openid) -> channels.Started:
    """Ask the channel for the means to pay (outside any transaction: it is a network call) and
    keep them on the payment."""
    try:
        started = channel.start(
            payment.out_trade_no, SUBJECT, payment.amount_fen, openid, payment.expires_at
        )
    except channels.ChannelError as error:
        log.warning("prepay of %s failed: %s", payment.out_trade_no, error)
        raise PaymentUnavailable() from None
    # A Core statement: the account's pages show nothing of the means to pay, so this commit has
    # none to drop (app/services/account_pages.py).
    with transaction():
        db.session.execute(
            _SAVE_STARTED,
            {"payment_id": payment.id, "prepay_id": started.prepay_id, "pay_url": started.pay_url},
        )
    # Both checks in one round trip (a payment competes with a release morning's burst for
    # every one it makes); lost with Redis, they are what the deadline's settling catches up on.
    with redis_store.batch(f"payment checks of {payment.out_trade_no}") as pipe:
        for at in (clock.now() + CHECK_AFTER, payment.expires_at + timedelta(minutes=1)):
            queue.enqueue("workers.payments.check_payment", payment.id, at=at, pipe=pipe)
    return started


def confirm_payment(
    channel, out_trade_no, provider_trade_no, amount_fen, paid_at
) -> outcomes.Applied:
    """Apply a payment the channel confirmed: BOOKED, REFUNDING or ALREADY.

    The order is booked if it still waits for payment; otherwise (expired, cancelled, or paid
    through another payment) the money goes back in full, automatically.
    """
    found = db.session.execute(
        sa.select(Payment.id, Payment.order_id).where(Payment.out_trade_no == out_trade_no)
    ).first()
    db.session.rollback()
    if found is None:
        raise outcomes.NotifyRejected(404, "unknown out_trade_no")
    if found.order_id is None:
        # Money that reconciliation found without an order: it is being refunded.
        return outcomes.Applied.ALREADY
    refund = None
    with transaction():
        order = lifecycle.lock_order(found.order_id)
        payment = lock_one(sa.select(Payment).where(Payment.id == found.id))
        if payment.channel != channel:
            raise outcomes.NotifyRejected(400, "channel mismatch")
        if amount_fen != payment.amount_fen:
            log.error(
                "payment %s: paid %s fen, expected %s", out_trade_no, amount_fen, payment.amount_fen
            )
            raise outcomes.NotifyRejected(400, "amount mismatch")
        if payment.status == PaymentStatus.PAID:
            return outcomes.Applied.ALREADY
        payment.status = PaymentStatus.PAID
        payment.provider_trade_no = provider_trade_no
        payment.paid_at = paid_at or clock.now()
        if order.status == OrderStatus.PENDING_PAYMENT:
            order.set_status(OrderStatus.BOOKED)
            slots.book_slot(order)
            outbox.booking_confirmed(order)
            outcome = outcomes.Applied.BOOKED
        else:
            reason = (
                RefundReason.LATE_PAYMENT
                if order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
                else RefundReason.DUPLICATE_PAYMENT
            )
            refund = refunds.new_refund(payment, payment.amount_fen, 0, reason)
            outcome = outcomes.Applied.REFUNDING
    if outcome is outcomes.Applied.BOOKED:
        queue.cancel_job(lifecycle.expire_job_id(order.id))
        cache.invalidate_department(order.department_id)
    if refund is not None:
        refunds.schedule_refund(refund)
    return outcome


def check_payment(payment_id) -> outcomes.Applied | None:
    """Ask the channel whether a payment we heard nothing about was made; apply it if so."""
    payment = db.session.get(Payment, payment_id)
    db.session.rollback()
    if payment is None or payment.status != PaymentStatus.PENDING:
        return None
    return _apply_if_paid(payment)


def settle_before_release(order_id) -> outcomes.Applied | None:
    """Before an unpaid hold's number is let go, each of its pending payments is settled with
    its channel: a trade paid in time is applied (BOOKED: the order keeps its number, even
    when the channel's notification was lost); an unpaid one is closed there first, so that it
    can no longer be paid. None when no payment can book the order any more; ChannelUnavailable
    when a channel could not say (the number must not be let go yet)."""
    booked = outcomes.Applied.BOOKED
    for payment in _pending_payments(order_id):
        if _apply_if_paid(payment) is booked:
            return booked
        try:
            closed = channels.channel(payment.channel).close(payment.out_trade_no)
        except channels.ChannelRejected:
            # Paid between the two calls (ORDERPAID), or closed already: ask once more.
            if _apply_if_paid(payment) is booked:
                return booked
            closed = True
        if closed:
            _mark_closed(payment.id)
    return None


def _pending_payments(order_id) -> list[Payment]:
    """The order's payments still waiting for their channel (read outside any transaction)."""
    pending = db.session.scalars(
        sa.select(Payment).where(
            Payment.order_id == order_id, Payment.status == PaymentStatus.PENDING
        )
    ).all()
    db.session.rollback()
    return list(pending)


def _apply_if_paid(payment) -> outcomes.Applied | None:
    """Ask the payment's channel about its trade: applied if it was paid (what that came to),
    else None."""
    paid = channels.channel(payment.channel).paid_trade(payment.out_trade_no)
    if paid is None:
        return None
    return confirm_payment(
        payment.channel, payment.out_trade_no, paid.trade_no, paid.amount_fen, paid.paid_at
    )


def _mark_closed(payment_id):
    with transaction():
        locked = lock_one(sa.select(Payment).where(Payment.id == payment_id))
        if locked.status == PaymentStatus.PENDING:
            locked.status = PaymentStatus.CLOSED


def close_unpaid(order_id):
    """After a hold expired or was cancelled: close its unpaid payments at the channels, so that
    no late payment can start (one that still arrives is refunded)."""
    for payment in _pending_payments(order_id):
        try:
            if not channels.channel(payment.channel).close(payment.out_trade_no):
                # Nothing to close yet: the payment stays pending for check_payment (a late
                # payment is then refunded).
                continue
        except channels.ChannelError as error:
            log.warning("closing %s failed: %s", payment.out_trade_no, error)
            continue
        _mark_closed(payment.id)
