"""Today at a glance for a staff member's scope (仪表盘)."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import SlotState
from app.domain.messages import MessageStatus
from app.domain.orders import BOOKED_OR_LATER, OrderStatus
from app.domain.payments import PaymentStatus, RefundStatus
from app.domain.staff import Scope
from app.extensions import db
from app.models import Department, Doctor, Message, Order, Payment, Refund, Schedule, Slot
from app.services.scoping import scoped


@dataclass(frozen=True)
class Today:
    """Today's figures in a scope."""

    bookings: int  # orders booked today (paid, or free)
    revenue_fen: int  # paid today, less refunded today
    visits: int  # today's booked numbers
    checked_in: int
    completed: int
    no_shows: int
    cancellations: int
    capacity: int
    taken: int
    refunds_waiting: int  # pending, processing or failed
    messages_failing: int
    schedules: list  # today's (Schedule, Doctor) in scope, by start time

    @property
    def utilisation(self) -> float:
        return self.taken / self.capacity if self.capacity else 0.0


def _count(statement, model, scope):
    return db.session.scalar(scoped(statement, model, scope)) or 0


def today(scope: Scope, now=None) -> Today:
    """The figures of the business day of ``now`` for ``scope``."""
    now = now or clock.now()
    day = clock.business_date(now)
    start = datetime.combine(day, time(0), tzinfo=clock.CHINA_TZ)
    end = start + timedelta(days=1)
    count = sa.select(sa.func.count()).select_from(Order)

    def visits(*where):
        return _count(count.where(Order.visit_date == day, *where), Order, scope)

    paid = _count(
        sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_fen), 0)).where(
            Payment.status == PaymentStatus.PAID, Payment.paid_at >= start, Payment.paid_at < end
        ),
        Payment,
        scope,
    )
    refunded = _count(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0)).where(
            Refund.status == RefundStatus.SUCCESS,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
        ),
        Refund,
        scope,
    )
    schedules = db.session.execute(
        scoped(
            sa.select(Schedule, Doctor)
            .join(Doctor, Doctor.id == Schedule.doctor_id)
            .where(Schedule.date == day)
            .order_by(Schedule.start_time, Schedule.id),
            Schedule,
            scope,
        )
    ).all()
    ids = [schedule.id for schedule, _ in schedules]
    slots = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((Slot.state != SlotState.FREE, 1)))).where(
            Slot.schedule_id.in_(ids)
        )
    ).one()
    figures = Today(
        bookings=_count(
            count.where(
                Order.status.in_(BOOKED_OR_LATER),
                Order.created_at >= start,
                Order.created_at < end,
            ),
            Order,
            scope,
        ),
        revenue_fen=int(paid) - int(refunded),
        visits=visits(Order.status.in_(BOOKED_OR_LATER)),
        checked_in=visits(Order.checked_in_at.is_not(None)),
        completed=visits(Order.status == OrderStatus.COMPLETED),
        no_shows=visits(Order.status == OrderStatus.NO_SHOW),
        cancellations=_count(
            count.where(
                Order.status == OrderStatus.CANCELLED,
                Order.closed_at >= start,
                Order.closed_at < end,
            ),
            Order,
            scope,
        ),
        capacity=slots[0] or 0,
        taken=slots[1] or 0,
        refunds_waiting=_count(
            sa.select(sa.func.count())
            .select_from(Refund)
            .where(
                Refund.status.in_(
                    (RefundStatus.PENDING, RefundStatus.PROCESSING, RefundStatus.FAILED)
                )
            ),
            Refund,
            scope,
        ),
        messages_failing=_count(
            sa.select(sa.func.count())
            .select_from(Message)
            .join(Order, Order.id == Message.order_id)
            .where(Message.status == MessageStatus.FAILED),
            Order,
            scope,
        ),
        schedules=schedules,
    )
    db.session.rollback()
    return figures


@dataclass(frozen=True)
class Trend:
    """The last days' booked visits and their fees, and each department's share of them."""

    days: list  # [(date, visits, fees_fen)], oldest first
    departments: list  # [(department name, visits)], most first


def trend(scope: Scope, now=None, days=30) -> Trend:
    """Booked visits (and their fees) per visit day over the ``days`` up to today, and per
    department over the same days, in scope."""
    now = now or clock.now()
    last = clock.business_date(now)
    first = last - timedelta(days=days - 1)
    window = (Order.visit_date.between(first, last), Order.status.in_(BOOKED_OR_LATER))
    per_day = dict(
        (day, (count, int(fees or 0)))
        for day, count, fees in db.session.execute(
            scoped(
                sa.select(Order.visit_date, sa.func.count(), sa.func.sum(Order.amount_fen))
                .where(*window)
                .group_by(Order.visit_date),
                Order,
                scope,
            )
        )
    )
    per_department = db.session.execute(
        scoped(
            sa.select(Department.name, sa.func.count())
            .select_from(Order)
            .join(Department, Department.id == Order.department_id)
            .where(*window)
            .group_by(Department.id, Department.name)
            .order_by(sa.func.count().desc()),
            Order,
            scope,
        )
    ).all()
    db.session.rollback()
    series = []
    for n in range(days):
        day = first + timedelta(days=n)
        count, fees = per_day.get(day, (0, 0))
        series.append((day, count, fees))
    return Trend(series, [(name, count) for name, count in per_department])
