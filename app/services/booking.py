"""Booking: hold a numbered slot, let it expire, cancel it, move it, show it.

Capacity is decided in MySQL. A hold takes the lowest free slot of the schedule with
``SELECT … FOR UPDATE SKIP LOCKED`` and marks it held in the same transaction as the order insert,
so concurrent holds never wait on each other's rows and never share a slot; unique keys on active
orders (one per slot, one per patient, doctor and day) back it up. The Redis gate (app/gate.py)
only keeps the hopeless away from MySQL. Holds of one account are serialised by a lock on the
account row, which is what makes the per-account limits exact.

Side effects (the expiry timer, gate tokens, cache invalidation) happen after the commit.
"""

import hashlib
import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import cache, gate, queue
from app.crypto import TicketSigner
from app.domain import booking as rules
from app.domain import clock
from app.domain import refunds as refund_rules
from app.domain.enums import SlotState
from app.domain.orders import ACTIVE_STATUSES, CancelledBy, OrderStatus
from app.errors import AppError, Conflict, NotFound
from app.extensions import db, per_app
from app.models import Account, Department, Hospital, Order, Patient, Schedule, Slot
from app.services import auth, patients
from app.services.pagination import Page, paginate
from app.services.transaction import lock_one, transaction

log = logging.getLogger(__name__)

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


def _refusal(refused: rules.BookingRefused) -> AppError:
    extra = {
        key: clock.to_china(value).isoformat() if isinstance(value, datetime) else value
        for key, value in refused.extra.items()
    }
    return AppError(refused.message, code=refused.code, status=_STATUS[refused.code], **extra)


def _fingerprint(schedule_id, patient_id) -> str:
    return hashlib.sha256(f"hold:{schedule_id}:{patient_id}".encode()).hexdigest()


def expire_job_id(order_id) -> str:
    """The stable id of an order's expiry timer."""
    return f"expire-order-{order_id}"


def _visit_end(schedule: Schedule) -> datetime:
    return datetime.combine(schedule.date, schedule.end_time, tzinfo=clock.CHINA_TZ)


def _load_schedule(schedule_id) -> tuple[Schedule, Department, Hospital]:
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


def _check_schedule(schedule: Schedule, hospital: Hospital, now: datetime):
    rules.check_schedule(
        now=now,
        today=clock.business_date(now),
        status=schedule.status,
        release_at=schedule.release_at,
        visit_date=schedule.date,
        visit_end=_visit_end(schedule),
        window_days=hospital.booking_window_days,
    )


def _check_eligibility(department: Department, patient: Patient, visit_date):
    rules.check_eligibility(
        sex_rule=department.sex_rule,
        min_age=department.min_age,
        max_age=department.max_age,
        patient_sex=patient.sex,
        birth_date=patient.birth_date,
        visit_date=visit_date,
    )


def _has_active(*criteria) -> bool:
    statement = sa.select(Order.id).where(Order.active.is_(True), *criteria).limit(1)
    return db.session.scalar(statement) is not None


def _admit(schedule_id) -> bool:
    """Take a gate token before any MySQL work; whether one was taken (False: no gate to ask).

    Sold out per the gate → slot_sold_out at once (the issue allows it before the other rules).
    A missing counter is built from MySQL first, unless the schedule has no slots at all
    (an unknown id, which the rules then answer with not_found).
    """
    admitted = gate.take(schedule_id)
    if admitted is None:
        total, free = db.session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(sa.case((Slot.state == SlotState.FREE, 1))),
            ).where(Slot.schedule_id == schedule_id)
        ).one()
        db.session.rollback()
        if total:
            gate.rebuild(schedule_id, free)
            admitted = gate.take(schedule_id)
    if admitted is False:
        raise _refusal(rules.sold_out())
    return bool(admitted)


def _take_number(schedule_id) -> Slot:
    """The lowest free slot, locked; slot_sold_out (and the gate told so) when none is left."""
    slot = _take_free_slot(schedule_id)
    if slot is None:
        gate.reset(schedule_id, 0)
        raise _refusal(rules.sold_out())
    return slot


def _take_free_slot(schedule_id) -> Slot | None:
    """Lock the lowest free slot nobody else is taking; None when none is left."""
    return db.session.scalar(
        sa.select(Slot)
        .where(Slot.schedule_id == schedule_id, Slot.state == SlotState.FREE)
        .order_by(Slot.seq)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _free_count(schedule_id) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Slot)
        .where(Slot.schedule_id == schedule_id, Slot.state == SlotState.FREE)
    )


def _lock_account(account_id) -> Account:
    return lock_one(sa.select(Account).where(Account.id == account_id))


def hold_slot(caller, schedule_id, patient_id, idempotency_key, now=None) -> tuple[Order, bool]:
    """Hold the lowest free number of a schedule for one of the caller's patients.

    ``caller`` is an account id, or an auth.Principal whose token is checked against revocation
    here, after the sold-out fast path. Returns the order (pending_payment, expiring after the
    hospital's hold minutes) and whether it was created now; a retry with the same idempotency
    key and body returns the first order.
    """
    now = now or clock.now()
    account_id = getattr(caller, "id", caller)
    fingerprint = _fingerprint(schedule_id, patient_id)
    # The fast path, one Redis round trip and no MySQL: a schedule the gate knows is sold out is
    # refused (unless this retries a hold that succeeded). A revoked token may be told "sold
    # out" here; it is refused before anything is booked for it.
    replayed, sold_out = gate.first_look(account_id, idempotency_key, schedule_id)
    if sold_out and not replayed:
        raise _refusal(rules.sold_out())
    if isinstance(caller, auth.Principal):
        auth.ensure_current(caller)
    # A token before any MySQL work, so that once the numbers are spoken for, everyone else is
    # answered at once instead of after the rule queries. A retry needs none: it finds its order.
    token = False if replayed else _admit(schedule_id)
    try:
        with transaction(on_conflict=_integrity_refusal):
            account = _lock_account(account_id)
            if isinstance(caller, auth.Principal):
                # The locked row is the truth: a token revoked, or an account frozen, since the
                # (cached) check above books nothing.
                auth.ensure_state(caller, account.token_version, account.status)
            existing = db.session.scalar(
                sa.select(Order).where(
                    Order.account_id == account_id, Order.idempotency_key == idempotency_key
                )
            )
            if existing is not None:
                _give_back(token, schedule_id)
                token = False
                if existing.request_fingerprint != fingerprint:
                    raise Conflict(
                        "该请求编号已用于另一笔预约，请勿重复使用", code="idempotency_conflict"
                    )
                return existing, False
            order = _hold(account, schedule_id, patient_id, now)
            order.idempotency_key = idempotency_key
            order.request_fingerprint = fingerprint
            db.session.add(order)
    except Exception:
        _give_back(token, schedule_id)
        raise
    _after_hold(order, token)
    gate.remember(account_id, idempotency_key, order.id)
    return order, True


def _give_back(token, schedule_id):
    if token:
        gate.give_back(schedule_id)


def _integrity_refusal(error: IntegrityError) -> AppError:
    text = str(error.orig)
    if "uq_orders_idempotency" in text:
        return Conflict("该请求正在处理，请稍后查看订单", code="idempotency_conflict")
    if "uq_orders_active_slot" in text:
        return _refusal(rules.sold_out())
    return _refusal(
        rules.BookingRefused("duplicate_booking", "该就诊人当天已预约该医生，请勿重复预约")
    )


def _hold(account: Account, schedule_id, patient_id, now) -> Order:
    """Check every rule in order, then take the lowest free slot for a new order."""
    schedule, department, hospital = _load_schedule(schedule_id)
    try:
        _check_schedule(schedule, hospital, now)
        patient = patients.get_patient(account.id, patient_id)
        _check_eligibility(department, patient, schedule.date)
        day_start = datetime.combine(clock.business_date(now), datetime.min.time(), clock.CHINA_TZ)
        holds_today = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Order)
            .where(Order.account_id == account.id, Order.created_at >= day_start)
        )
        # The patient's active orders that day answer both "duplicate" and "which departments".
        that_day = db.session.execute(
            sa.select(Order.doctor_id, Order.department_id).where(
                Order.patient_id == patient.id,
                Order.visit_date == schedule.date,
                Order.active.is_(True),
            )
        ).all()
        rules.check_account(
            now=now,
            blocked_until=account.blocked_until,
            duplicate=any(doctor_id == schedule.doctor_id for doctor_id, _ in that_day),
            holds_today=holds_today,
            departments_that_day=frozenset(department_id for _, department_id in that_day),
            department_id=department.id,
            limits=rules.Limits(
                hospital.max_holds_per_day, hospital.max_departments_per_patient_per_day
            ),
        )
    except rules.BookingRefused as refused:
        raise _refusal(refused) from None
    slot = _take_number(schedule.id)
    slot.state = SlotState.HELD
    # Relationships from the rows already loaded: the response needs no further query.
    order = Order(
        account_id=account.id,
        patient=patient,
        schedule=schedule,
        slot_id=slot.id,
        doctor=schedule.doctor,
        department=department,
        hospital=hospital,
        visit_date=schedule.date,
        seq=slot.seq,
        suggested_time=slot.suggested_time,
        amount_fen=schedule.fee_fen,
        expires_at=now + timedelta(minutes=hospital.hold_minutes),
        reschedule_count=0,
    )
    if schedule.fee_fen == 0:
        # A free clinic (义诊): nothing to pay, so the number is booked at once.
        slot.state = SlotState.BOOKED
        order.set_status(OrderStatus.BOOKED)
    else:
        order.set_status(OrderStatus.PENDING_PAYMENT)
    return order


def _after_hold(order: Order, token: bool):
    if not token:
        # No counter was there (Redis away at admission, or back from the dead): rebuild it.
        gate.rebuild(order.schedule_id, _free_count(order.schedule_id))
        db.session.rollback()
    if order.status == OrderStatus.PENDING_PAYMENT:
        schedule_timer(order)  # a free clinic's order is booked: nothing expires
    cache.invalidate_department(order.department_id)


def schedule_timer(order: Order):
    """The expiry timer of a hold; the periodic sweep catches any that is lost."""
    queue.enqueue_quietly(
        "workers.orders.expire_order",
        order.id,
        job_id=expire_job_id(order.id),
        at=order.expires_at,
    )


def lock_order(order_id, account_id=None) -> Order:
    """The order, locked for a state change (only the account's, if given); not_found if none."""
    statement = sa.select(Order).where(Order.id == order_id)
    if account_id is not None:
        statement = statement.where(Order.account_id == account_id)
    order = lock_one(statement)
    if order is None:
        raise NotFound("未找到该挂号单")
    return order


def _release_slot(order: Order):
    """Free the order's slot, if the order still has it (the caller commits)."""
    db.session.execute(
        sa.update(Slot)
        .where(Slot.id == order.slot_id, Slot.state.in_([SlotState.HELD, SlotState.BOOKED]))
        .values(state=SlotState.FREE, updated_at=clock.now())
    )


def released(order: Order):
    """After the commit that freed an order's number: the gate and the cache hear of it."""
    gate.give_back(order.schedule_id)
    cache.invalidate_department(order.department_id)


def expire_hold(order_id, now=None) -> bool:
    """Expire an unpaid hold whose time is up and free its slot; False if there was nothing to do.

    Safe to run twice and to race a cancel or a payment: all lock the order row first and
    re-check its state. (The payment issue refunds a payment that arrives after this.)
    """
    now = now or clock.now()
    with transaction():
        order = lock_order(order_id)
        if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at > now:
            return False
        order.close(OrderStatus.EXPIRED, CancelledBy.SYSTEM, "超时未支付", now)
        _release_slot(order)
    released(order)
    return True


def sweep_expired_holds(now=None, batch=500) -> int:
    """Expire every hold whose timer was lost; returns how many were expired."""
    now = now or clock.now()
    due = db.session.scalars(
        sa.select(Order.id)
        .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(batch)
    ).all()
    db.session.rollback()
    return sum(1 for order_id in due if expire_hold(order_id, now))


def resync_gates() -> int:
    """Set every existing gate counter to MySQL's count of free numbers; returns how many.

    Heals a counter that missed a give-back (Redis was down when a hold expired, say). Racing
    holds are harmless: the counter only decides who may try; the slot rows decide who gets one.
    """
    schedule_ids = gate.counted_schedules()
    if not schedule_ids:
        return 0
    free = dict(
        db.session.execute(
            sa.select(Slot.schedule_id, sa.func.count())
            .where(Slot.schedule_id.in_(schedule_ids), Slot.state == SlotState.FREE)
            .group_by(Slot.schedule_id)
        ).all()
    )
    db.session.rollback()
    for schedule_id in schedule_ids:
        gate.reset(schedule_id, free.get(schedule_id, 0))
    return len(schedule_ids)


def cancel_order(account_id, order_id, now=None) -> Order:
    """Cancel an unpaid hold at once and free its number."""
    now = now or clock.now()
    with transaction():
        order = lock_order(order_id, account_id)
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise Conflict("该挂号单当前状态不可取消", code="order_not_cancellable")
        order.close(OrderStatus.CANCELLED, CancelledBy.PATIENT, "患者取消", now)
        _release_slot(order)
    released(order)
    queue.cancel_job(expire_job_id(order.id))
    return order


def reschedule_order(account_id, order_id, schedule_id, now=None) -> Order:
    """Move an order to another schedule of the same doctor and fee, all or nothing.

    The new number is taken and the old one freed in one transaction; the order keeps its id,
    status, expiry and (once there is one) its payment.
    """
    now = now or clock.now()
    token = None
    try:
        with transaction(on_conflict=_integrity_refusal):
            _lock_account(account_id)
            order = lock_order(order_id, account_id)
            old_schedule_id = order.schedule_id
            order, token = _move(order, schedule_id, now)
    except Exception:
        _give_back(token, schedule_id)
        raise
    gate.give_back(old_schedule_id)
    if not token:
        gate.rebuild(order.schedule_id, _free_count(order.schedule_id))
        db.session.rollback()
    cache.invalidate_department(order.department_id)
    return order


def cancellation_quote(order: Order, now) -> refund_rules.RefundQuote:
    """What cancelling the paid order at ``now`` would give back, by its hospital's tiers."""
    current = db.session.get(Schedule, order.schedule_id)
    visit_start = datetime.combine(order.visit_date, current.start_time, tzinfo=clock.CHINA_TZ)
    table = refund_rules.parse_tiers(db.session.get(Hospital, order.hospital_id).refund_tiers)
    return refund_rules.quote(order.amount_fen, visit_start, now, table)


def _free_to_cancel(order: Order, now) -> bool:
    """Whether cancelling the paid order now would give everything back."""
    quote = cancellation_quote(order, now)
    return quote.refundable and quote.fee_fen == 0


def _move(order: Order, schedule_id, now) -> tuple[Order, bool]:
    if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.BOOKED):
        raise Conflict("该挂号单当前状态不可改约", code="order_not_reschedulable")
    limit = current_app.config["RESCHEDULE_LIMIT"]
    if order.reschedule_count >= limit:
        raise Conflict(f"每个挂号单最多改约 {limit} 次", code="reschedule_limit")
    if order.status == OrderStatus.BOOKED and not _free_to_cancel(order, now):
        # Otherwise moving to a later day, then cancelling, would dodge the hospital's fee.
        raise Conflict("距就诊时间过近，已不能改约", code="reschedule_window_closed")
    target, department, hospital = _load_schedule(schedule_id)
    if target.id == order.schedule_id:
        raise AppError("已是该时段，无需改约", code="invalid_reschedule", status=422)
    if target.doctor_id != order.doctor_id or target.fee_fen != order.amount_fen:
        raise AppError(
            "只能改约同一医生、同一费用的其他时段", code="invalid_reschedule", status=422
        )
    patient = db.session.get(Patient, order.patient_id)
    try:
        _check_schedule(target, hospital, now)
        _check_eligibility(department, patient, target.date)
        if _has_active(
            Order.id != order.id,
            Order.patient_id == order.patient_id,
            Order.doctor_id == order.doctor_id,
            Order.visit_date == target.date,
        ):
            raise rules.BookingRefused(
                "duplicate_booking", "该就诊人当天已预约该医生，请勿重复预约"
            )
    except rules.BookingRefused as refused:
        raise _refusal(refused) from None
    token = _admit(target.id)
    try:
        slot = _take_number(target.id)
    except Exception:
        _give_back(token, target.id)
        raise
    _release_slot(order)
    slot.state = SlotState.HELD if order.status == OrderStatus.PENDING_PAYMENT else SlotState.BOOKED
    order.schedule_id = target.id
    order.slot_id = slot.id
    order.visit_date = target.date
    order.seq = slot.seq
    order.suggested_time = slot.suggested_time
    order.reschedule_count += 1
    # No flush here: a unique-key failure must surface in the caller, which holds the token.
    return order, token


def list_orders(account_id, status=None, page=1, per_page=20) -> Page:
    """The account's orders, newest first, optionally of one status."""
    statement = (
        sa.select(Order)
        .options(*_order_details())
        .where(Order.account_id == account_id)
        .order_by(Order.id.desc())
    )
    if status:
        statement = statement.where(Order.status == status)
    return paginate(statement, page, per_page)


def _order_details():
    return (
        joinedload(Order.schedule),
        joinedload(Order.doctor),
        joinedload(Order.department),
        joinedload(Order.hospital),
        joinedload(Order.patient),
    )


def get_order(account_id, order_id) -> Order:
    """One of the account's orders; another account's is not_found."""
    order = db.session.scalar(
        sa.select(Order)
        .options(*_order_details())
        .where(Order.id == order_id, Order.account_id == account_id)
    )
    if order is None:
        raise NotFound("未找到该挂号单")
    return order


def _signer() -> TicketSigner:
    return per_app("ticket_signer", lambda config: TicketSigner(config["TICKET_SIGNING_KEY"]))


def ticket_public_key() -> dict:
    """The key scanners verify e-tickets with."""
    return {"algorithm": "Ed25519", "public_key": _signer().public_key}


def ticket(account_id, order_id) -> dict:
    """The e-ticket of an active order: number, suggested time, place, signed QR payload."""
    order = get_order(account_id, order_id)
    if order.status not in ACTIVE_STATUSES:
        raise Conflict("该挂号单已失效，没有电子凭证", code="ticket_unavailable")
    payload = {
        "o": order.id,
        "s": order.schedule_id,
        "q": order.seq,
        "d": order.visit_date.isoformat(),
        "p": order.patient_id,
        "h": order.hospital_id,
    }
    return {"order": order, "qr_payload": _signer().sign(payload)}
