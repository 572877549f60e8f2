"""Webhooks the payment channels call: verify → one service call → their exact acknowledgement."""

from flask import Blueprint, request

from app.domain.payments import PaymentChannel
from app.services.payments import notifications, outcomes

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/wechatpay")
def wechatpay_notify():
    """WeChat Pay APIv3 notifications: 204 when applied; 4xx/5xx with FAIL makes WeChat retry."""
    try:
        notifications.handle_notification(
            PaymentChannel.WECHAT, request.headers, request.get_data()
        )
    except outcomes.NotifyRejected as error:
        return {"code": "FAIL", "message": error.message}, error.status
    return "", 204


@bp.post("/webhooks/alipay")
def alipay_notify():
    """Alipay async notify: plain ``success`` when applied; anything else makes Alipay retry."""
    try:
        # The form as posted: a field sent twice makes the notify invalid.
        notifications.handle_notification(PaymentChannel.ALIPAY, request.form)
    except outcomes.NotifyRejected as error:
        return f"fail: {error.message}", error.status, {"Content-Type": "text/plain"}
    return "success", 200, {"Content-Type": "text/plain"}
