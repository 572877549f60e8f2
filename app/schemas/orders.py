"""Schemas of orders (挂号单) and e-tickets."""

from datetime import datetime

import marshmallow as ma
from marshmallow import validate

from app.domain.clock import CHINA_TZ
from app.domain.enums import DoctorTitle, Period
from app.domain.orders import OrderStatus
from app.domain.payments import PaymentChannel, RefundReason, RefundStatus
from app.schemas.common import ChinaDateTime, PageArgs, page_schema

_ID = {"strict": True, "validate": validate.Range(min=1, max=2**63 - 1)}


class IdempotencyHeader(ma.Schema):
    """``Idempotency-Key``: one per booking attempt; a retry sends the same key and body."""

    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_\-]{8,64}$", error="须为 8–64 位字母、数字、_ 或 -"),
    )


def _alternatives(order) -> list[str]:
    """What the stop-clinic notice offered instead (no query unless the hospital cancelled)."""
    if getattr(order, "cancelled_by", None) != "hospital":
        return []
    notices = getattr(order, "stop_notices", None) or []
    return list(notices[0].facts.get("alternatives", [])) if notices else []


class OrderCreateSchema(ma.Schema):
    """Which schedule, for which of my patients."""

    schedule_id = ma.fields.Integer(required=True, **_ID)
    patient_id = ma.fields.Integer(required=True, **_ID)


class RescheduleSchema(ma.Schema):
    """The schedule to move to: same doctor, same fee."""

    schedule_id = ma.fields.Integer(required=True, **_ID)


class OrderQuery(PageArgs):
    """?status=&page=&per_page="""

    status = ma.fields.Enum(OrderStatus, by_value=True)


def _suggested(order):
    return datetime.combine(order.visit_date, order.suggested_time, tzinfo=CHINA_TZ)


class OrderSchema(ma.Schema):
    """A 挂号单 as its patient sees it."""

    id = ma.fields.Integer()
    status = ma.fields.Enum(OrderStatus, by_value=True)
    status_name = ma.fields.Function(lambda o: OrderStatus(o.status).label)
    seq = ma.fields.Integer(metadata={"description": "就诊序号"})
    suggested_time = ma.fields.Function(
        lambda o: _suggested(o).isoformat(), metadata={"description": "建议到院时间"}
    )
    visit_date = ma.fields.Date()
    period = ma.fields.Function(lambda o: Period(o.schedule.period).value)
    period_name = ma.fields.Function(lambda o: Period(o.schedule.period).label)
    amount_fen = ma.fields.Integer()
    expires_at = ChinaDateTime(metadata={"description": "待支付订单的支付截止时间"})
    schedule_id = ma.fields.Integer()
    hospital = ma.fields.Function(lambda o: {"id": o.hospital.id, "name": o.hospital.name})
    department = ma.fields.Function(
        lambda o: {
            "id": o.department.id,
            "name": o.department.name,
            "location": o.department.location,
        }
    )
    doctor = ma.fields.Function(
        lambda o: {
            "id": o.doctor.id,
            "name": o.doctor.name,
            "title": o.doctor.title.value,
            "title_name": DoctorTitle(o.doctor.title).label,
        }
    )
    patient = ma.fields.Function(
        lambda o: {
            "id": o.patient.id,
            "name": o.patient.name,
            "id_number_masked": o.patient.id_number_masked,
        }
    )
    reschedule_count = ma.fields.Integer()
    out_trade_no = ma.fields.Function(
        lambda o: o.payments[-1].out_trade_no if o.payments else None,
        metadata={"description": "the latest payment's merchant order number, once asked for"},
    )
    paid = ma.fields.Function(lambda o: any(p.status == "paid" for p in o.payments))
    refunds = ma.fields.List(ma.fields.Nested(lambda: OrderRefundSchema()))
    cancelled_by = ma.fields.String(allow_none=True)
    cancel_reason = ma.fields.String()
    alternatives = ma.fields.Function(
        _alternatives,
        metadata={
            "description": "for an order the hospital cancelled (停诊): up to three open "
            "clinics with numbers left that it offered instead, e.g. 12月5日下午 王建国"
        },
    )
    created_at = ChinaDateTime()


OrderPageSchema = page_schema(OrderSchema, "OrderPage")


class TicketSchema(ma.Schema):
    """电子凭证: show the QR code at the hospital; staff verify it offline."""

    order = ma.fields.Nested(OrderSchema)
    qr_payload = ma.fields.String(
        metadata={"description": "Ed25519-signed, see /tickets/public-key"}
    )


class TicketKeySchema(ma.Schema):
    """The public key that verifies e-ticket QR payloads."""

    algorithm = ma.fields.String()
    public_key = ma.fields.String(metadata={"description": "raw 32-byte key, base64"})


class OrderRefundSchema(ma.Schema):
    """Money going back for an order, and why (shown to the patient)."""

    amount_fen = ma.fields.Integer()
    fee_fen = ma.fields.Integer()
    reason = ma.fields.Enum(RefundReason, by_value=True)
    reason_text = ma.fields.Function(lambda r: RefundReason(r.reason).label)
    status = ma.fields.Enum(RefundStatus, by_value=True)
    status_text = ma.fields.Function(lambda r: _REFUND_STATUS_TEXT[RefundStatus(r.status)])


_REFUND_STATUS_TEXT = {
    RefundStatus.PENDING: "退款处理中",
    RefundStatus.PROCESSING: "退款处理中",
    RefundStatus.SUCCESS: "已退款",
    RefundStatus.FAILED: "退款遇到问题，医院将与您联系",
}


class PaymentCreateSchema(ma.Schema):
    """Which channel: wechat (in the mini-program) or alipay (H5)."""

    channel = ma.fields.Enum(PaymentChannel, by_value=True, required=True)


class PaymentStartSchema(ma.Schema):
    """What the client needs to pay: wx.requestPayment params, or the Alipay cashier URL."""

    channel = ma.fields.Enum(PaymentChannel, by_value=True)
    out_trade_no = ma.fields.String()
    params = ma.fields.Dict(metadata={"description": "wechat: for wx.requestPayment"})
    pay_url = ma.fields.String(metadata={"description": "alipay: open in the browser"})


class RefundQuoteSchema(ma.Schema):
    """What cancelling now would give back."""

    refundable = ma.fields.Boolean()
    refund_fen = ma.fields.Integer()
    fee_fen = ma.fields.Integer()
    reason = ma.fields.String()


class QueuePlaceSchema(ma.Schema):
    """Where an order is on its visit day."""

    order_id = ma.fields.Integer()
    status = ma.fields.Enum(OrderStatus, by_value=True)
    status_text = ma.fields.Function(lambda p: OrderStatus(p.status).label)
    position = ma.fields.Integer(
        allow_none=True, metadata={"description": "1 is next; null unless checked in and waiting"}
    )
    ahead = ma.fields.Integer(
        allow_none=True, metadata={"description": "patients waiting in front; null unless waiting"}
    )
    called_at = ChinaDateTime(allow_none=True)
    estimated_wait_minutes = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "at today's pace of this clinic; 0 once called; null otherwise"},
    )
