"""The channels' notifications, verified and applied."""

import logging

from app.domain.payments import (
    PaymentChannel,
)
from app.integrations import alipay, wechatpay
from app.services.payments import outcomes, paying, refunds

log = logging.getLogger(__name__)


def handle_wechatpay_notification(headers, body: bytes) -> outcomes.Applied:
    """Verify, decrypt and apply a WeChat Pay notification (payment or refund)."""
    try:
        notification = wechatpay.parse_notification(headers, body)
    except wechatpay.NotificationInvalid as error:
        log.warning("wechatpay notification refused: %s", error.reason)
        raise outcomes.NotifyRejected(401, error.reason) from None
    if notification.transaction is not None:
        paid = notification.transaction
        if notification.event_type != "TRANSACTION.SUCCESS" or paid.trade_state != "SUCCESS":
            return outcomes.Applied.IGNORED
        if paid.currency != "CNY":
            raise outcomes.NotifyRejected(400, "currency mismatch")
        return paying.confirm_payment(
            PaymentChannel.WECHAT,
            paid.out_trade_no,
            paid.transaction_id,
            paid.amount_fen,
            paid.success_time,
        )
    if notification.refund is not None:
        return refunds.refund_settled(notification.refund.out_refund_no, notification.refund.status)
    return outcomes.Applied.IGNORED


def handle_alipay_notification(form) -> outcomes.Applied:
    """Verify and apply an Alipay async notify."""
    try:
        notification = alipay.verify_notification(form)
    except alipay.NotificationInvalid as error:
        log.warning("alipay notification refused: %s", error.reason)
        raise outcomes.NotifyRejected(400, error.reason) from None
    if notification.trade_status not in (
        alipay.TradeStatus.TRADE_SUCCESS,
        alipay.TradeStatus.TRADE_FINISHED,
    ):
        return outcomes.Applied.IGNORED
    return paying.confirm_payment(
        PaymentChannel.ALIPAY,
        notification.out_trade_no,
        notification.trade_no,
        notification.total_fen,
        notification.gmt_payment,
    )
