"""Paying for orders and giving money back: every fen paid becomes a booking or goes back.

An order is marked paid only by a verified notification or by our own query of the channel,
never by the client. Applying a payment locks the order row first (as expiry and cancel do), then
the payment row, so a payment racing an expiry or a cancel ends one way: booked, or refunded in
full. The same notification applied any number of times changes the books once.
"""

import logging
from datetime import timedelta

import sqlalchemy as sa

from app import cache, queue
from app.domain import clock
from app.domain import refunds as tiers
from app.domain.enums import SlotState
from app.domain.orders import CancelledBy, OrderStatus
from app.domain.payments import (
    PaymentChannel,
    PaymentStatus,
    RefundReason,
    RefundStatus,
    new_out_refund_no,
)
from app.errors import AppError, Conflict
from app.extensions import db
from app.integrations import alipay, wechatpay
from app.models import Account, Order, Payment, Refund, Slot
from app.services import booking
from app.services.transaction import lock_one, transaction

log = logging.getLogger(__name__)

SUBJECT = "挂号费"
# Refund attempts before a refund is handed to staff as failed.
MAX_REFUND_ATTEMPTS = 5
# When to ask the channel ourselves if no notification came (it can be lost).
CHECK_AFTER = timedelta(minutes=5)


class PaymentUnavailable(AppError):
    status = 503
    code = "payment_unavailable"
    message = "支付服务暂时不可用，请稍后再试"


class NotifyRejected(Exception):
    """A notification we do not apply; ``status`` is the HTTP answer (the channel retries)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# --- Paying -----------------------------------------------------------------------------------


def start_payment(account_id, order_id, channel: PaymentChannel, now=None) -> dict:
    """Start paying an unpaid hold: WeChat requestPayment params, or an Alipay cashier URL.

    Asking again while the hold lasts returns the same prepay; the payment expires with the hold.
    """
    now = now or clock.now()
    with transaction():
        order = booking.lock_order(order_id, account_id)
        if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at <= now:
            raise Conflict("该挂号单当前不可支付", code="order_not_payable")
        openid = db.session.scalar(sa.select(Account.openid).where(Account.id == account_id))
        if channel == PaymentChannel.WECHAT and not openid:
            raise Conflict("请在微信小程序内使用微信支付", code="wechat_login_required")
        payment = db.session.scalar(
            sa.select(Payment).where(
                Payment.order_id == order.id,
                Payment.channel == channel,
                Payment.status == PaymentStatus.PENDING,
            )
        )
        if payment is None:
            payment = Payment.pending_for(order, channel)
            db.session.add(payment)
    if payment.prepay_id is None and payment.pay_url is None:
        _prepay(payment, openid)
    if channel == PaymentChannel.WECHAT:
        params = wechatpay.request_payment_params(payment.prepay_id)
        return {"channel": channel, "out_trade_no": payment.out_trade_no, "params": params}
    return {"channel": channel, "out_trade_no": payment.out_trade_no, "pay_url": payment.pay_url}


def _prepay(payment: Payment, openid):
    """Ask the channel for the means to pay (outside any transaction: it is a network call)."""
    try:
        if payment.channel == PaymentChannel.WECHAT:
            prepay_id = wechatpay.prepay(
                payment.out_trade_no, SUBJECT, payment.amount_fen, openid, payment.expires_at
            )
            pay_url = None
        else:
            prepay_id = None
            pay_url = alipay.wap_pay_url(
                payment.out_trade_no, SUBJECT, payment.amount_fen, payment.expires_at
            )
    except (wechatpay.WeChatPayError, alipay.AlipayError) as error:
        log.warning("prepay of %s failed: %s", payment.out_trade_no, error)
        raise PaymentUnavailable() from None
    with transaction():
        payment.prepay_id, payment.pay_url = prepay_id, pay_url
        db.session.add(payment)
    for at in (clock.now() + CHECK_AFTER, payment.expires_at + timedelta(minutes=1)):
        queue.enqueue_quietly("workers.payments.check_payment", payment.id, at=at)


# --- Applying a payment ----------------------------------------------------------------------


def confirm_payment(channel, out_trade_no, provider_trade_no, amount_fen, paid_at) -> str:
    """Apply a payment the channel confirmed; returns "booked", "refunding" or "already".

    The order is booked if it still waits for payment; otherwise (expired, cancelled, or paid
    through another payment) the money goes back in full, automatically.
    """
    found = db.session.execute(
        sa.select(Payment.id, Payment.order_id).where(Payment.out_trade_no == out_trade_no)
    ).first()
    db.session.rollback()
    if found is None:
        raise NotifyRejected(404, "unknown out_trade_no")
    if found.order_id is None:
        return "already"  # money reconciliation found without an order: it is being refunded
    refund = None
    with transaction():
        order = booking.lock_order(found.order_id)
        payment = lock_one(sa.select(Payment).where(Payment.id == found.id))
        if payment.channel != channel:
            raise NotifyRejected(400, "channel mismatch")
        if amount_fen != payment.amount_fen:
            log.error(
                "payment %s: paid %s fen, expected %s", out_trade_no, amount_fen, payment.amount_fen
            )
            raise NotifyRejected(400, "amount mismatch")
        if payment.status == PaymentStatus.PAID:
            return "already"
        payment.status = PaymentStatus.PAID
        payment.provider_trade_no = provider_trade_no
        payment.paid_at = paid_at or clock.now()
        if order.status == OrderStatus.PENDING_PAYMENT:
            order.set_status(OrderStatus.BOOKED)
            db.session.execute(
                sa.update(Slot)
                .where(Slot.id == order.slot_id, Slot.state == SlotState.HELD)
                .values(state=SlotState.BOOKED, updated_at=clock.now())
            )
            outcome = "booked"
        else:
            reason = (
                RefundReason.LATE_PAYMENT
                if order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
                else RefundReason.DUPLICATE_PAYMENT
            )
            refund = _new_refund(payment, payment.amount_fen, 0, reason)
            outcome = "refunding"
    if outcome == "booked":
        queue.cancel_job(booking.expire_job_id(order.id))
        cache.invalidate_department(order.department_id)
    if refund is not None:
        schedule_refund(refund)
    return outcome


def _unrefunded(payment: Payment) -> int:
    """What of a paid payment is neither refunded nor kept as a fee yet (failed refunds aside)."""
    taken = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen + Refund.fee_fen), 0)).where(
            Refund.payment_id == payment.id, Refund.status != RefundStatus.FAILED
        )
    )
    return payment.amount_fen - taken


def _new_refund(payment: Payment, amount_fen, fee_fen, reason) -> Refund:
    """Record a refund; never more than what is left of the payment (the caller holds its lock)."""
    if amount_fen + fee_fen > _unrefunded(payment):
        raise Conflict("退款金额超过该笔支付的可退金额", code="refund_exceeds_payment")
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        out_refund_no=new_out_refund_no(payment.order_id),
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        reason=reason,
        status=RefundStatus.PENDING,
        attempts=0,
        last_error="",
    )
    db.session.add(refund)
    return refund


def check_payment(payment_id) -> str | None:
    """Ask the channel whether a payment we heard nothing about was made; apply it if so."""
    payment = db.session.get(Payment, payment_id)
    db.session.rollback()
    if payment is None or payment.status != PaymentStatus.PENDING:
        return None
    if payment.channel == PaymentChannel.WECHAT:
        transaction_ = wechatpay.query(payment.out_trade_no)
        # SUCCESS only: a trade in REFUND was refunded by hand at the merchant platform, which is
        # staff's to reconcile, not ours to book.
        if transaction_ is None or transaction_.trade_state != "SUCCESS":
            return None
        return confirm_payment(
            payment.channel,
            payment.out_trade_no,
            transaction_.transaction_id,
            transaction_.amount_fen,
            transaction_.success_time,
        )
    trade = alipay.query(payment.out_trade_no)
    if trade is None or trade.trade_status not in (
        alipay.TradeStatus.TRADE_SUCCESS,
        alipay.TradeStatus.TRADE_FINISHED,
    ):
        return None
    return confirm_payment(
        payment.channel, payment.out_trade_no, trade.trade_no, trade.amount_fen, trade.paid_at
    )


def close_unpaid(order_id):
    """After a hold expired or was cancelled: close its unpaid payments at the channels, so that
    no late payment can start (one that still arrives is refunded)."""
    payments = db.session.scalars(
        sa.select(Payment).where(
            Payment.order_id == order_id, Payment.status == PaymentStatus.PENDING
        )
    ).all()
    db.session.rollback()
    for payment in payments:
        try:
            if payment.channel == PaymentChannel.WECHAT:
                wechatpay.close(payment.out_trade_no)
            elif not alipay.close(payment.out_trade_no):
                # No trade yet: the signed cashier link stays payable until it expires, so the
                # payment stays pending for check_payment (a late payment is then refunded).
                continue
        except (wechatpay.WeChatPayError, alipay.AlipayError) as error:
            log.warning("closing %s failed: %s", payment.out_trade_no, error)
            continue
        with transaction():
            locked = lock_one(sa.select(Payment).where(Payment.id == payment.id))
            if locked.status == PaymentStatus.PENDING:
                locked.status = PaymentStatus.CLOSED


# --- Notifications ---------------------------------------------------------------------------


def handle_wechatpay_notification(headers, body: bytes) -> str:
    """Verify, decrypt and apply a WeChat Pay notification (payment or refund)."""
    try:
        notification = wechatpay.parse_notification(headers, body)
    except wechatpay.NotificationInvalid as error:
        log.warning("wechatpay notification refused: %s", error.reason)
        raise NotifyRejected(401, error.reason) from None
    if notification.transaction is not None:
        paid = notification.transaction
        if notification.event_type != "TRANSACTION.SUCCESS" or paid.trade_state != "SUCCESS":
            return "ignored"
        if paid.currency != "CNY":
            raise NotifyRejected(400, "currency mismatch")
        return confirm_payment(
            PaymentChannel.WECHAT,
            paid.out_trade_no,
            paid.transaction_id,
            paid.amount_fen,
            paid.success_time,
        )
    if notification.refund is not None:
        return refund_settled(notification.refund.out_refund_no, notification.refund.status)
    return "ignored"


def handle_alipay_notification(form) -> str:
    """Verify and apply an Alipay async notify."""
    try:
        notification = alipay.verify_notification(form)
    except alipay.NotificationInvalid as error:
        log.warning("alipay notification refused: %s", error.reason)
        raise NotifyRejected(400, error.reason) from None
    if notification.trade_status not in (
        alipay.TradeStatus.TRADE_SUCCESS,
        alipay.TradeStatus.TRADE_FINISHED,
    ):
        return "ignored"
    return confirm_payment(
        PaymentChannel.ALIPAY,
        notification.out_trade_no,
        notification.trade_no,
        notification.total_fen,
        notification.gmt_payment,
    )


# --- Refunds ---------------------------------------------------------------------------------


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
        done, provider_no = _send_refund(refund, payment)
    except (wechatpay.WeChatPayError, alipay.AlipayError) as error:
        gives_up = (
            isinstance(error, (wechatpay.WeChatPayRejected, alipay.AlipayRejected))
            or refund.attempts >= MAX_REFUND_ATTEMPTS
        )
        with transaction():
            locked = lock_one(sa.select(Refund).where(Refund.id == refund_id))
            locked.last_error = str(error)[:200]
            if gives_up:
                locked.status = RefundStatus.FAILED
        log.error("refund %s failed (attempt %s): %s", refund.out_refund_no, refund.attempts, error)
        if not gives_up:
            raise  # RQ retries it
        return RefundStatus.FAILED
    with transaction():
        locked = lock_one(sa.select(Refund).where(Refund.id == refund_id))
        locked.provider_refund_no = provider_no
        if done and locked.status == RefundStatus.PROCESSING:
            locked.status = RefundStatus.SUCCESS
            locked.succeeded_at = clock.now()
        return locked.status


def _send_refund(refund: Refund, payment: Payment) -> tuple[bool, str]:
    reason = RefundReason(refund.reason).label
    if payment.channel == PaymentChannel.WECHAT:
        result = wechatpay.refund(
            payment.out_trade_no,
            refund.out_refund_no,
            refund.amount_fen,
            payment.amount_fen,
            reason,
        )
        if result.status in ("ABNORMAL", "CLOSED"):
            raise wechatpay.WeChatPayRejected(200, result.status, "the refund did not go through")
        return result.status == "SUCCESS", result.refund_id
    result = alipay.refund(payment.out_trade_no, refund.out_refund_no, refund.amount_fen, reason)
    # Only fund_change Y proves the money moved; otherwise Alipay's refund query must find it
    # (a repeat of a settled refund answers N), else it stays processing for the sweep.
    done = result.fund_change or (
        alipay.query_refund(payment.out_trade_no, refund.out_refund_no) is not None
    )
    return done, result.trade_no


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
            refund = Refund(
                payment_id=payment.id,
                order_id=None,
                out_refund_no=new_out_refund_no(0),  # 0: no order
                amount_fen=payment.amount_fen,
                fee_fen=0,
                reason=RefundReason.RECONCILIATION,
                status=RefundStatus.PENDING,
                attempts=0,
                last_error="",
            )
            db.session.add(refund)
            created = True
    if created:
        schedule_refund(refund)
    return refund


def refund_settled(out_refund_no, channel_status) -> str:
    """Record the channel's final word on a refund (WeChat's REFUND.* notification)."""
    with transaction():
        refund = lock_one(sa.select(Refund).where(Refund.out_refund_no == out_refund_no))
        if refund is None:
            raise NotifyRejected(404, "unknown out_refund_no")
        if refund.status == RefundStatus.SUCCESS:
            return "already"
        if channel_status == "SUCCESS":
            refund.status = RefundStatus.SUCCESS
            refund.succeeded_at = clock.now()
        elif channel_status in ("ABNORMAL", "CLOSED"):
            refund.status = RefundStatus.FAILED
            refund.last_error = f"channel says {channel_status}"
        return refund.status.value


# --- Cancelling a paid order -----------------------------------------------------------------


def refund_quote(account_id, order_id, now=None) -> tiers.RefundQuote:
    """What cancelling the order now would give back, by the hospital's tiers."""
    now = now or clock.now()
    order = booking.get_order(account_id, order_id)
    if order.status == OrderStatus.PENDING_PAYMENT:
        return tiers.RefundQuote(True, 0, 0, "unpaid")
    if order.status != OrderStatus.BOOKED:
        return tiers.RefundQuote(False, 0, 0, "not_cancellable")
    return booking.cancellation_quote(order, now)


def cancel(account_id, order_id, now=None) -> Order:
    """Cancel an order: an unpaid hold at once; a paid one with a refund by the tiers."""
    now = now or clock.now()
    order = booking.get_order(account_id, order_id)
    if order.status != OrderStatus.BOOKED:
        booking.cancel_order(account_id, order_id, now)
        close_unpaid(order_id)
        return booking.get_order(account_id, order_id)
    refund = None
    with transaction():
        order = booking.lock_order(order_id, account_id)
        if order.status != OrderStatus.BOOKED:
            raise Conflict("该挂号单当前状态不可取消", code="order_not_cancellable")
        quote = booking.cancellation_quote(order, now)
        if not quote.refundable:
            raise Conflict(
                "距就诊时间过近，已不能取消", code="cancel_window_closed", reason=quote.reason
            )
        order.close(OrderStatus.CANCELLED, CancelledBy.PATIENT, "患者取消", now)
        db.session.execute(
            sa.update(Slot)
            .where(Slot.id == order.slot_id, Slot.state == SlotState.BOOKED)
            .values(state=SlotState.FREE, updated_at=now)
        )
        payment = _booking_payment(order.id)
        if payment is not None and quote.refund_fen > 0:
            refund = _new_refund(
                payment, quote.refund_fen, quote.fee_fen, RefundReason.PATIENT_CANCEL
            )
    booking.released(order)
    if refund is not None:
        schedule_refund(refund)
    return booking.get_order(account_id, order_id)


def _booking_payment(order_id) -> Payment | None:
    """The paid payment that still holds the order's money: not the duplicate already sent back."""
    paid = db.session.scalars(
        sa.select(Payment)
        .where(Payment.order_id == order_id, Payment.status == PaymentStatus.PAID)
        .order_by(Payment.paid_at, Payment.id)
        .with_for_update()
    ).all()
    return next((p for p in paid if _unrefunded(p) == p.amount_fen), None)


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
