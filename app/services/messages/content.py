"""What a message says: its values, read from the order when it is sent, and whether it is
still true."""

from datetime import datetime

from app.domain import clock
from app.domain.messages import MessageKind
from app.domain.orders import OrderStatus
from app.domain.payments import RefundStatus
from app.models import Message, Order

# The orders a message may still be sent for, per kind (None: whatever the order became).
_STILL_TRUE = {
    MessageKind.BOOKING_CONFIRMED: {
        OrderStatus.BOOKED,
        OrderStatus.CHECKED_IN,
        OrderStatus.CALLED,
    },
    MessageKind.VISIT_REMINDER: {OrderStatus.BOOKED},
    MessageKind.QUEUE_CALLED: {OrderStatus.CHECKED_IN},
    MessageKind.STOP_CLINIC: None,
    MessageKind.REFUND_RESULT: None,
}


def still_true(message: Message, order: Order | None) -> bool:
    """Whether the message still says what is so (a reminder for a cancelled order does not)."""
    wanted = _STILL_TRUE[message.kind]
    return wanted is None or (order is not None and order.status in wanted)


def visit_time(order: Order) -> datetime:
    """When the patient is asked to arrive: the visit day at the slot's suggested time."""
    return datetime.combine(order.visit_date, order.suggested_time, tzinfo=clock.CHINA_TZ)


def values(message: Message, order: Order) -> dict:
    """Every value a template of the message's kind may name (see WECHAT_TEMPLATES)."""
    facts = message.facts or {}
    department = order.department
    arrive = visit_time(order)
    found = {
        "patient": order.patient.name,
        "hospital": order.hospital.name,
        "department": department.name,
        "doctor": f"{department.name} {order.doctor.name}",
        "location": department.location or order.hospital.name,
        "visit_time": arrive,
        "number": str(order.seq),
        "time": clock.to_china(clock.now()),
    }
    kind = message.kind
    if kind == MessageKind.BOOKING_CONFIRMED:
        found["note"] = f"请于{arrive:%H:%M}前到达签到"
    elif kind == MessageKind.VISIT_REMINDER:
        found["note"] = f"请于{arrive:%H:%M}前到达并签到"
    elif kind == MessageKind.STOP_CLINIC:
        found["reason"] = facts.get("reason") or "医生停诊"
        first = (facts.get("alternatives") or [None])[0]
        refunded = "已全额退款，" if facts.get("refund_fen") else ""
        found["note"] = f"{refunded}可改约{first}" if first else f"{refunded}请改约其他号源"
    elif kind == MessageKind.REFUND_RESULT:
        succeeded = facts.get("status") == RefundStatus.SUCCESS
        found["amount"] = int(facts.get("amount_fen", 0))
        found["result"] = "退款成功" if succeeded else "退款失败"
        found["note"] = "款项将原路退回" if succeeded else "请联系医院处理退款"
    elif kind == MessageKind.QUEUE_CALLED:
        ahead = int(facts.get("ahead", 0))
        found["ahead"] = ahead
        found["note"] = f"前面还有{ahead}人，请到诊室外候诊" if ahead else "请到诊室就诊"
    return found


# Tencent takes at most 6 characters per variable of a notice template.
SMS_PARAM_MAX = 6


def sms_params(message: Message, order: Order) -> list[str]:
    """The stop-clinic SMS's parameters (SMS_STOP_CLINIC_TEMPLATE_ID): patient, date, period,
    doctor, reason, each cut to Tencent's limit."""
    facts = message.facts or {}
    params = [
        order.patient.name,
        f"{order.visit_date.month}月{order.visit_date.day}日",
        order.schedule.period.label,
        order.doctor.name,
        facts.get("reason") or "临时安排",
    ]
    return [" ".join(str(param).split())[:SMS_PARAM_MAX] for param in params]
