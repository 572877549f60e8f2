"""The channels' notifications, verified and applied."""

import logging

from app.domain.payments import PaymentChannel
from app.infra import metrics
from app.integrations import channels
from app.services.payments import outcomes, paying, refunds

log = logging.getLogger(__name__)


def handle_notification(channel_code: PaymentChannel, *payload) -> outcomes.Applied:
    """Verify and apply a channel's notification (a payment, or a refund's settlement);
    ``payload`` is what the channel posted, as its adapter reads it."""
    try:
        outcome = _apply(channel_code, payload)
    except outcomes.NotifyRejected:
        metrics.notification(channel_code, "rejected")
        raise
    metrics.notification(channel_code, outcome)
    return outcome


def _apply(channel_code, payload) -> outcomes.Applied:
    try:
        notice = channels.channel(channel_code).read_notification(*payload)
    except channels.NoticeRefused as refused:
        log.warning("%s notification refused: %s", channel_code, refused.reason)
        raise outcomes.NotifyRejected(refused.status, refused.reason) from None
    if notice.paid is not None:
        paid = notice.paid
        return paying.confirm_payment(
            channel_code, paid.out_trade_no, paid.trade_no, paid.amount_fen, paid.paid_at
        )
    if notice.refund is not None:
        return refunds.refund_settled(notice.refund)
    return outcomes.Applied.IGNORED
