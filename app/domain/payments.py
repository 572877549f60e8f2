"""Payments and refunds: channels, states, reasons, and the numbers sent to the channels."""

import re
import secrets
from enum import StrEnum

# The merchant order numbers this system makes (new_out_trade_no): BK, order id, W or A, 8 hex.
_OURS = re.compile(r"BK(\d+)([WA])[0-9a-f]{8}")


class PaymentChannel(StrEnum):
    """How a patient pays: WeChat Pay in the mini-program, Alipay on H5."""

    WECHAT = "wechat"
    ALIPAY = "alipay"


class PaymentStatus(StrEnum):
    """A payment attempt: waiting for the payer, paid, or closed unpaid."""

    PENDING = "pending"
    PAID = "paid"
    CLOSED = "closed"


class RefundStatus(StrEnum):
    """A refund: recorded, sent to the channel, done, or given up (staff must act)."""

    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"


class RefundReason(StrEnum):
    """Why money goes back."""

    PATIENT_CANCEL = "patient_cancel"
    LATE_PAYMENT = "late_payment"
    DUPLICATE_PAYMENT = "duplicate_payment"
    HOSPITAL_STOP = "hospital_stop"
    RECONCILIATION = "reconciliation"
    STAFF = "staff"

    @property
    def label(self):
        return _REASON_LABELS[self]


_REASON_LABELS = {
    RefundReason.PATIENT_CANCEL: "患者取消预约",
    RefundReason.LATE_PAYMENT: "支付时挂号单已失效，全额退款",
    RefundReason.DUPLICATE_PAYMENT: "重复支付，全额退款",
    RefundReason.HOSPITAL_STOP: "医生停诊，全额退款",
    RefundReason.RECONCILIATION: "对账发现未入账的支付，全额退款",
    RefundReason.STAFF: "医院工作人员办理退款",
}


def new_out_trade_no(order_id: int, channel: PaymentChannel) -> str:
    """A merchant order number both channels accept ([A-Za-z0-9], 6–32) and never reuse."""
    return f"BK{order_id}{channel.value[0].upper()}{secrets.token_hex(4)}"


def is_ours(out_trade_no: str, channel: PaymentChannel) -> bool:
    """Whether this system made ``out_trade_no`` for ``channel``: a merchant account shared with
    the hospital's other cashiers (windows, kiosks) carries their numbers in the same bill."""
    match = _OURS.fullmatch(out_trade_no or "")
    return bool(match) and match.group(2) == channel.value[0].upper()


def new_out_refund_no(order_id: int) -> str:
    """A merchant refund number, unique across retries of the same refund's creation."""
    return f"RF{order_id}{secrets.token_hex(5)}"
