"""Moving an order to another time of the same doctor and fee, all or nothing."""

from flask import current_app

from app.domain import clock
from app.domain.enums import SlotState
from app.domain.orders import OrderStatus
from app.errors import AppError, Conflict, NotFound
from app.extensions import db
from app.infra import cache, gate
from app.models import Order, Patient
from app.services.booking import checks, lifecycle, slots
from app.services.messages import outbox
from app.services.transaction import transaction


def reschedule_order(account_id, order_id, schedule_id, now=None) -> Order:
    """Move an order to another schedule of the same doctor and fee, all or nothing.

    The new number is taken and the old one freed in one transaction; the order keeps its id,
    status, expiry and (once there is one) its payment.
    """
    now = now or clock.now()
    token = None
    try:
        with transaction(on_conflict=checks.integrity_refusal):
            checks.lock_account(account_id)
            order = lifecycle.lock_order(order_id, account_id)
            old_schedule_id = order.schedule_id
            order, token = _move(order, schedule_id, now)
            if order.status == OrderStatus.BOOKED:
                outbox.booking_confirmed(order)
    except Exception:
        slots.give_back(token, schedule_id)
        raise
    gate.give_back(old_schedule_id)
    if not token:
        gate.rebuild(order.schedule_id, slots.free_count(order.schedule_id))
        db.session.rollback()
    cache.invalidate_department(order.department_id)
    return order


def _move(order: Order, schedule_id, now) -> tuple[Order, bool]:
    if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.BOOKED):
        raise Conflict("该挂号单当前状态不可改约", code="order_not_reschedulable")
    limit = current_app.config["RESCHEDULE_LIMIT"]
    if order.reschedule_count >= limit:
        raise Conflict(f"每个挂号单最多改约 {limit} 次", code="reschedule_limit")
    if order.status == OrderStatus.BOOKED and not checks.free_to_cancel(order, now):
        # Otherwise moving to a later day, then cancelling, would dodge the hospital's fee.
        raise Conflict("距就诊时间过近，已不能改约", code="reschedule_window_closed")
    target = next(iter(slots.read_rows(checks.SCHEDULES, {"schedule_ids": [schedule_id]})), None)
    if target is None:
        raise NotFound("未找到该出诊安排")
    if target.id == order.schedule_id:
        raise AppError("已是该时段，无需改约", code="invalid_reschedule", status=422)
    if target.doctor_id != order.doctor_id or target.fee_fen != order.amount_fen:
        raise AppError(
            "只能改约同一医生、同一费用的其他时段", code="invalid_reschedule", status=422
        )
    orders = slots.read_rows(
        checks.ACCOUNT_ORDERS,
        {"account_ids": [order.account_id], "idempotency_keys": [], "day_start": now},
    )
    checks.check_booking(
        now=now,
        schedule=target,
        patient_id=order.patient_id,
        patient=db.session.get(Patient, order.patient_id),
        blocked_until=None,
        orders=orders,
        moving=order.id,
    )
    token = slots.admit(target.id)
    state = SlotState.HELD if order.status == OrderStatus.PENDING_PAYMENT else SlotState.BOOKED
    try:
        slot = slots.take_number(target.id, state)
    except Exception as error:
        slots.give_back(token, target.id, error)
        raise
    slots.release_slot(order)
    order.schedule_id = target.id
    order.slot_id = slot.id
    order.visit_date = target.date
    order.seq = slot.seq
    order.suggested_time = slot.suggested_time
    order.reschedule_count += 1
    # No flush here: a unique-key failure must surface in the caller, which holds the token.
    return order, token
