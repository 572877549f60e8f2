"""停诊: a doctor's clinic stopped, and every patient of it handled without losing a fen.

The schedule stops taking holds at once (its free numbers blocked, the gate at zero, the calendar
saying `stopped` with the reason). Then its orders are handled in bounded batches, each in one
transaction: an unpaid hold is let go (its payment closed at the channel after the commit), a
paid order is cancelled by the hospital with a full refund by its original channel, and each
patient is sent a `stop_clinic` notice naming up to three alternatives. A worker killed between
batches leaves every order either handled or untouched; running it again finishes the rest (the
backstop does so by itself).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import ScheduleStatus, SlotState
from app.domain.orders import CancelledBy, OrderStatus
from app.domain.payments import RefundReason
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.infra import cache, gate, queue
from app.models import Doctor, Order, Schedule, Slot
from app.services import audit
from app.services.booking import lifecycle
from app.services.messages import outbox
from app.services.payments import refunds
from app.services.transaction import lock_one, transaction

log = logging.getLogger(__name__)

BATCH = 100
MAX_ALTERNATIVES = 3
REASON_MAX = 200
# The orders a stop cancels: a called patient is already with the doctor and is left alone.
_STOPPABLE = (OrderStatus.PENDING_PAYMENT, OrderStatus.BOOKED, OrderStatus.CHECKED_IN)


@dataclass
class StopResult:
    """What a stop did: orders let go or cancelled, refunds asked for, notices queued."""

    schedule_id: int
    reason: str
    cancelled: int = 0
    refunds: int = 0
    refunded_fen: int = 0
    notices: int = 0
    alternatives: list[str] = field(default_factory=list)


def stop_clinic(schedule_id, reason, actor, now=None, batch=BATCH, staff=None) -> StopResult:
    """Stop a schedule's clinic (停诊) for ``reason``, by ``actor`` (a staff member's name, or
    the command line's user; ``staff`` when it is one), and handle all its orders.

    Stopping a stopped schedule again keeps the first reason and finishes what is left.
    """
    now = now or clock.now()
    reason = " ".join(str(reason or "").split())
    if not reason or len(reason) > REASON_MAX:
        message = f"请填写停诊原因（1–{REASON_MAX} 字）"
        raise ValidationFailed.on("reason", message)
    with transaction():
        schedule = lock_one(sa.select(Schedule).where(Schedule.id == schedule_id))
        if schedule is None:
            raise NotFound("未找到该出诊")
        if schedule.status != ScheduleStatus.STOPPED:
            schedule.status = ScheduleStatus.STOPPED
            schedule.stop_reason = reason
            schedule.stopped_by = str(actor)[:64]
            schedule.stopped_at = now
            db.session.execute(
                sa.update(Slot)
                .where(Slot.schedule_id == schedule_id, Slot.state == SlotState.FREE)
                .values(state=SlotState.BLOCKED, updated_at=now)
            )
            audit.record(
                staff,
                "stop_clinic",
                schedule,
                before={"status": str(ScheduleStatus.OPEN)},
                after={"status": str(ScheduleStatus.STOPPED), "reason": reason},
                actor=actor,
            )
        department_id = schedule.department_id
    gate.forget(schedule_id)
    cache.invalidate_department(department_id)
    log.info("schedule %s stopped by %s: %s", schedule_id, actor, reason)
    return finish_stop(schedule_id, now=now, batch=batch)


def finish_stop(schedule_id, now=None, batch=BATCH) -> StopResult:
    """Handle the orders of a stopped schedule still left, ``batch`` per transaction."""
    now = now or clock.now()
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or schedule.status != ScheduleStatus.STOPPED:
        db.session.rollback()
        return StopResult(schedule_id, "")
    result = StopResult(schedule_id, schedule.stop_reason, alternatives=alternatives(schedule, now))
    db.session.rollback()
    while _one_batch(schedule_id, result, now, batch):
        pass
    cache.invalidate_department(schedule.department_id)
    return result


def _one_batch(schedule_id, result: StopResult, now, batch) -> bool:
    """One transaction's worth of orders; whether there were any."""
    new_refunds, unpaid = [], []
    with transaction():
        orders = db.session.scalars(
            sa.select(Order)
            .where(Order.schedule_id == schedule_id, Order.status.in_(_STOPPABLE))
            .order_by(Order.id)
            .limit(batch)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        for order in orders:
            if order.status == OrderStatus.PENDING_PAYMENT:
                unpaid.append(order.id)
            refund = _stop_order(order, result, now)
            if refund is not None:
                new_refunds.append(refund)
        if orders:
            db.session.execute(
                sa.update(Slot)
                .where(
                    Slot.id.in_([order.slot_id for order in orders]),
                    Slot.state.in_((SlotState.HELD, SlotState.BOOKED)),
                )
                .values(state=SlotState.BLOCKED, updated_at=now)
            )
    for refund in new_refunds:
        refunds.schedule_refund(refund)
    for order_id in unpaid:
        queue.cancel_job(lifecycle.expire_job_id(order_id))
        queue.enqueue_quietly("workers.payments.close_unpaid", order_id)
    return bool(orders)


def _stop_order(order: Order, result: StopResult, now):
    """Cancel one order by the hospital; its full refund, if it was paid (the caller commits)."""
    was_paid = order.status != OrderStatus.PENDING_PAYMENT
    order.close(OrderStatus.CANCELLED, CancelledBy.HOSPITAL, f"停诊：{result.reason}"[:200], now)
    refund = None
    if was_paid:
        payment = refunds.booking_payment(order.id)
        owed = refunds.unrefunded(payment) if payment is not None else 0
        if owed > 0:
            refund = refunds.new_refund(payment, owed, 0, RefundReason.HOSPITAL_STOP)
            result.refunds += 1
            result.refunded_fen += owed
    outbox.stop_clinic(order, result.reason, result.alternatives, refund)
    result.cancelled += 1
    result.notices += 1
    return refund


def alternatives(schedule: Schedule, now: datetime) -> list[str]:
    """Up to three open schedules with numbers left, released and not over: the same doctor on
    other days first, then doctors of the same department and title, the nearest dates first."""
    today, clock_time = clock.business_date(now), clock.to_china(now).time()
    doctor = db.session.get(Doctor, schedule.doctor_id)
    free = (
        sa.select(sa.func.count())
        .where(Slot.schedule_id == Schedule.id, Slot.state == SlotState.FREE)
        .correlate(Schedule)
        .scalar_subquery()
    )
    open_elsewhere = (
        sa.select(Schedule, Doctor)
        .join(Doctor, Doctor.id == Schedule.doctor_id)
        .where(
            Schedule.id != schedule.id,
            Schedule.status == ScheduleStatus.OPEN,
            sa.or_(
                Schedule.date > today,
                sa.and_(Schedule.date == today, Schedule.end_time > clock_time),
            ),
            Schedule.release_at <= now,
            free > 0,
        )
        .order_by(Schedule.date, Schedule.start_time, Schedule.id)
        .limit(MAX_ALTERNATIVES)
    )
    found = db.session.execute(open_elsewhere.where(Schedule.doctor_id == doctor.id)).all()
    if len(found) < MAX_ALTERNATIVES:
        found += db.session.execute(
            open_elsewhere.where(
                Schedule.department_id == schedule.department_id,
                Schedule.doctor_id != doctor.id,
                Doctor.title == doctor.title,
            )
        ).all()
    return [
        f"{other.date.month}月{other.date.day}日{other.period.label} {who.name}"
        for other, who in found[:MAX_ALTERNATIVES]
    ]


def unfinished(batch=50) -> list[int]:
    """Stopped schedules that still have orders to handle (a stop cut short)."""
    ids = db.session.scalars(
        sa.select(Order.schedule_id)
        .distinct()
        .join(Schedule, Schedule.id == Order.schedule_id)
        .where(Schedule.status == ScheduleStatus.STOPPED, Order.status.in_(_STOPPABLE))
        .limit(batch)
    ).all()
    db.session.rollback()
    return list(ids)
