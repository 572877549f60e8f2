"""The facts a hold or a reschedule gathers, the booking rules applied to them, and the
refusal each rule answers (app/domain/booking.py holds the rules themselves).

Both read the same rows with the same statements (SCHEDULES, ACCOUNT_ORDERS) and ask
``check_booking``: a reschedule is judged as a hold of the same patient would be, but for the
order it moves (which does not count against itself) and the limits on new holds.
"""

import hashlib
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.domain import booking as rules
from app.domain import clock
from app.domain import refunds as refund_rules
from app.errors import AppError, Conflict, NotFound
from app.extensions import db
from app.infra.packedsql import PackedSelect
from app.models import Account, Department, Doctor, Hospital, Order, Schedule
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


_order, _schedule = Order.__table__.c, Schedule.__table__.c
_department, _hospital, _doctor = Department.__table__.c, Hospital.__table__.c, Doctor.__table__.c

# The schedules with their department, hospital and doctor: every column the rules ask about
# and an order's answer shows.
SCHEDULES = PackedSelect(
    sa.select(
        _schedule.id,
        _schedule.doctor_id,
        _schedule.department_id,
        _schedule.date,
        _schedule.period,
        _schedule.end_time,
        _schedule.status,
        _schedule.release_at,
        _schedule.fee_fen,
        _department.hospital_id,
        _department.name.label("department_name"),
        _department.location,
        _department.sex_rule,
        _department.min_age,
        _department.max_age,
        _hospital.name.label("hospital_name"),
        _hospital.booking_window_days,
        _hospital.hold_minutes,
        _hospital.max_holds_per_day,
        _hospital.max_departments_per_patient_per_day,
        _doctor.name.label("doctor_name"),
        _doctor.title.label("doctor_title"),
    )
    .join(Department.__table__, _department.id == _schedule.department_id)
    .join(Hospital.__table__, _hospital.id == _department.hospital_id)
    .join(Doctor.__table__, _doctor.id == _schedule.doctor_id)
    .where(_schedule.id.in_(sa.bindparam("schedule_ids", expanding=True)))
)

# The accounts' orders with one of these idempotency keys, their orders created since the day
# began (the daily limit) and their active ones (duplicates, departments per day).
ACCOUNT_ORDERS = PackedSelect(
    sa.select(
        _order.id,
        _order.account_id,
        _order.idempotency_key,
        _order.request_fingerprint,
        _order.patient_id,
        _order.doctor_id,
        _order.department_id,
        _order.visit_date,
        _order.active,
        _order.created_at,
    ).where(
        _order.account_id.in_(sa.bindparam("account_ids", expanding=True)),
        sa.or_(
            _order.idempotency_key.in_(sa.bindparam("idempotency_keys", expanding=True)),
            _order.created_at >= sa.bindparam("day_start", type_=_order.created_at.type),
            _order.active.is_(True),
        ),
    )
)


def check_booking(*, now, schedule, patient_id, patient, blocked_until, orders, moving=None):
    """Every rule of booking a patient into ``schedule`` at ``now``, in the order the API
    documents, raising the first refusal (an AppError). ``schedule`` is a SCHEDULES row,
    ``patient`` anything with ``sex`` and ``birth_date`` (None: not the caller's patient),
    ``orders`` the account's ACCOUNT_ORDERS rows; ``moving`` is the id of an order being
    rescheduled: it does not count against itself, and the limits of new holds (the daily
    count, the no-show block) do not apply to it."""
    visit_date = schedule.date
    try:
        rules.check_schedule(
            now=now,
            today=clock.business_date(now),
            status=schedule.status,
            release_at=schedule.release_at,
            visit_date=visit_date,
            visit_end=datetime.combine(visit_date, schedule.end_time, tzinfo=clock.CHINA_TZ),
            window_days=schedule.booking_window_days,
        )
        if patient is None:
            raise NotFound("未找到该就诊人")
        rules.check_eligibility(
            sex_rule=schedule.sex_rule,
            min_age=schedule.min_age,
            max_age=schedule.max_age,
            patient_sex=patient.sex,
            birth_date=patient.birth_date,
            visit_date=visit_date,
        )
        that_day = [
            o
            for o in orders
            if o.active
            and o.id != moving
            and o.patient_id == patient_id
            and o.visit_date == visit_date
        ]
        since = day_start(now)
        rules.check_account(
            now=now,
            blocked_until=None if moving else blocked_until,
            duplicate=any(o.doctor_id == schedule.doctor_id for o in that_day),
            holds_today=0 if moving else sum(1 for o in orders if o.created_at >= since),
            departments_that_day=frozenset(o.department_id for o in that_day),
            department_id=schedule.department_id,
            limits=rules.Limits(
                schedule.max_holds_per_day, schedule.max_departments_per_patient_per_day
            ),
        )
    except rules.BookingRefused as refused:
        raise refusal(refused) from None


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
