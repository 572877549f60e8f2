"""A hold's life after it is made: its expiry timer, expiry, the sweep of the timers that were
lost, and the gate counters' resync from MySQL."""

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import ScheduleStatus, SlotState
from app.domain.orders import CancelledBy, OrderStatus
from app.errors import NotFound
from app.extensions import db, redis_store
from app.infra import gate, queue
from app.models import Order, Schedule, Slot
from app.services.booking import slots
from app.services.transaction import lock_one, transaction


def expire_job_id(order_id) -> str:
    """The stable id of an order's expiry timer."""
    return f"expire-order-{order_id}"


def arm_expiry_timers(order_ids) -> int:
    """The expiry timers of new holds, in one batch; how many were armed. An order paid or
    cancelled before this reads it gets none; one paid or cancelled while this runs may get
    one, which finds nothing to do, as every timer re-checks the order. A batch that fails is
    the sweep's, as a lost timer is."""
    rows = db.session.execute(
        sa.select(Order.id, Order.expires_at).where(
            Order.id.in_(order_ids), Order.status == OrderStatus.PENDING_PAYMENT
        )
    ).all()
    db.session.rollback()
    if rows:
        ids = ", ".join(str(row.id) for row in rows)
        with redis_store.batch(f"expiry timers of orders {ids}") as pipe:
            for row in rows:
                schedule_timer(row, pipe)
    return len(rows)


def schedule_timer(order, pipe):
    """The expiry timer of a hold (anything with the order's ``id`` and ``expires_at``), in an
    after-commit batch; the periodic sweep catches any that is lost."""
    queue.enqueue(
        "workers.orders.expire_order",
        order.id,
        job_id=expire_job_id(order.id),
        at=order.expires_at,
        pipe=pipe,
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


def expire_hold(order_id, now=None) -> bool:
    """Expire an unpaid hold whose time is up and free its slot; False if there was nothing to do.

    Safe to run twice and to race a cancel or a payment: all lock the order row first and
    re-check its state; a payment that arrives after this is refunded in full.
    """
    now = now or clock.now()
    with transaction():
        order = lock_order(order_id)
        if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at > now:
            return False
        order.close(OrderStatus.EXPIRED, CancelledBy.SYSTEM, "超时未支付", now)
        slots.release_slot(order)
    slots.released(order)
    return True


def due_for_expiry(now=None, batch=500) -> list[int]:
    """The unpaid holds whose time is up, oldest first (those whose timer was lost among them)."""
    now = now or clock.now()
    due = db.session.scalars(
        sa.select(Order.id)
        .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(batch)
    ).all()
    db.session.rollback()
    return list(due)


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
    stopped = set(
        db.session.scalars(
            sa.select(Schedule.id).where(
                Schedule.id.in_(schedule_ids), Schedule.status == ScheduleStatus.STOPPED
            )
        )
    )
    db.session.rollback()
    for schedule_id in schedule_ids:
        if schedule_id in stopped:
            gate.forget(schedule_id)
        else:
            gate.reset(schedule_id, free.get(schedule_id, 0))
    return len(schedule_ids)
