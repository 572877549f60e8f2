"""The facts a hold or a reschedule gathers, the booking rules applied to them, and the
refusal each rule answers (app/domain/booking.py holds the rules themselves)."""

import hashlib
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.domain import booking as rules
from app.domain import clock
from app.domain import refunds as refund_rules
from app.errors import AppError, Conflict, NotFound
from app.extensions import db
from app.models import Account, Department, Hospital, Order, Patient, Schedule
from app.services.transaction import lock_one

# HTTP status of each refusal code.
_STATUS = {
    "schedule_stopped": 409,
    "not_released": 409,
    "outside_booking_window": 409,
    "not_eligible": 422,
    "account_blocked": 403,
    "duplicate_booking": 409,
    "booking_limit": 429,
    "slot_sold_out": 409,
}


def refusal(refused: rules.BookingRefused, kind=AppError) -> AppError:
    extra = {
        key: clock.to_china(value).isoformat() if isinstance(value, datetime) else value
        for key, value in refused.extra.items()
    }
    return kind(refused.message, code=refused.code, status=_STATUS[refused.code], **extra)


def fingerprint(schedule_id, patient_id) -> str:
    return hashlib.sha256(f"hold:{schedule_id}:{patient_id}".encode()).hexdigest()


def visit_end(schedule: Schedule) -> datetime:
    return datetime.combine(schedule.date, schedule.end_time, tzinfo=clock.CHINA_TZ)


def load_schedule(schedule_id) -> tuple[Schedule, Department, Hospital]:
    """The schedule with its doctor, department and hospital, in one query."""
    row = db.session.execute(
        sa.select(Schedule, Department, Hospital)
        .join(Department, Department.id == Schedule.department_id)
        .join(Hospital, Hospital.id == Department.hospital_id)
        .options(joinedload(Schedule.doctor))
        .where(Schedule.id == schedule_id)
    ).first()
    if row is None:
        raise NotFound("未找到该出诊安排")
    return tuple(row)


def check_schedule(schedule: Schedule, hospital: Hospital, now: datetime):
    rules.check_schedule(
        now=now,
        today=clock.business_date(now),
        status=schedule.status,
        release_at=schedule.release_at,
        visit_date=schedule.date,
        visit_end=visit_end(schedule),
        window_days=hospital.booking_window_days,
    )


def check_eligibility(department: Department, patient: Patient, visit_date):
    rules.check_eligibility(
        sex_rule=department.sex_rule,
        min_age=department.min_age,
        max_age=department.max_age,
        patient_sex=patient.sex,
        birth_date=patient.birth_date,
        visit_date=visit_date,
    )


def has_active(*criteria) -> bool:
    statement = sa.select(Order.id).where(Order.active.is_(True), *criteria).limit(1)
    return db.session.scalar(statement) is not None


def integrity_refusal(error: IntegrityError) -> AppError:
    text = str(error.orig)
    if "uq_orders_idempotency" in text:
        return Conflict("该请求正在处理，请稍后查看订单", code="idempotency_conflict")
    if "uq_orders_active_slot" in text:
        return refusal(rules.sold_out())
    return refusal(
        rules.BookingRefused("duplicate_booking", "该就诊人当天已预约该医生，请勿重复预约")
    )


def day_start(now) -> datetime:
    return datetime.combine(clock.business_date(now), time.min, clock.CHINA_TZ)


def lock_account(account_id) -> Account:
    return lock_one(sa.select(Account).where(Account.id == account_id))


def cancellation_quote(order: Order, now) -> refund_rules.RefundQuote:
    """What cancelling the paid order at ``now`` would give back, by its hospital's tiers."""
    current = db.session.get(Schedule, order.schedule_id)
    visit_start = datetime.combine(order.visit_date, current.start_time, tzinfo=clock.CHINA_TZ)
    table = refund_rules.parse_tiers(db.session.get(Hospital, order.hospital_id).refund_tiers)
    return refund_rules.quote(order.amount_fen, visit_start, now, table)


def free_to_cancel(order: Order, now) -> bool:
    """Whether cancelling the paid order now would give everything back."""
    quote = cancellation_quote(order, now)
    return quote.refundable and quote.fee_fen == 0
