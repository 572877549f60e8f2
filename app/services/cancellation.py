"""Cancelling an order, paid or not: an unpaid hold is let go at once, a paid order is cancelled
with a refund by its hospital's tiers (app/domain/refunds.py)."""

from app.domain import clock
from app.domain import refunds as tiers
from app.domain.orders import CancelledBy, OrderStatus
from app.domain.payments import RefundReason
from app.errors import Conflict
from app.infra import queue
from app.models import Order
from app.services.booking import checks, lifecycle, queries, slots
from app.services.payments import paying, refunds
from app.services.transaction import transaction


def refund_quote(account_id, order_id, now=None) -> tiers.RefundQuote:
    """What cancelling the order now would give back, by the hospital's tiers."""
    now = now or clock.now()
    order = queries.get_order(account_id, order_id)
    if order.status == OrderStatus.PENDING_PAYMENT:
        return tiers.RefundQuote(True, 0, 0, "unpaid")
    if order.status != OrderStatus.BOOKED:
        return tiers.RefundQuote(False, 0, 0, "not_cancellable")
    return checks.cancellation_quote(order, now)


def cancel_order(account_id, order_id, now=None) -> Order:
    """Cancel one of the account's orders and free its number: an unpaid hold at once (its
    payments closed at the channels, so that no late payment starts), a paid order with a refund
    by the tiers, refused once the tiers give nothing back."""
    now = now or clock.now()
    refund = None
    with transaction():
        order = lifecycle.lock_order(order_id, account_id)
        was_unpaid = order.status == OrderStatus.PENDING_PAYMENT
        if was_unpaid:
            order.close(OrderStatus.CANCELLED, CancelledBy.PATIENT, "患者取消", now)
        elif order.status == OrderStatus.BOOKED:
            quote = checks.cancellation_quote(order, now)
            if not quote.refundable:
                raise Conflict(
                    "距就诊时间过近，已不能取消", code="cancel_window_closed", reason=quote.reason
                )
            order.close(OrderStatus.CANCELLED, CancelledBy.PATIENT, "患者取消", now)
            payment = refunds.booking_payment(order.id)
            if payment is not None and quote.refund_fen > 0:
                refund = refunds.new_refund(
                    payment, quote.refund_fen, quote.fee_fen, RefundReason.PATIENT_CANCEL
                )
        else:
            raise Conflict("该挂号单当前状态不可取消", code="order_not_cancellable")
        slots.release_slot(order)
    slots.released(order)
    if was_unpaid:
        queue.cancel_job(lifecycle.expire_job_id(order.id))
        paying.close_unpaid(order_id)
    if refund is not None:
        refunds.schedule_refund(refund)
    return queries.get_order(account_id, order_id)
