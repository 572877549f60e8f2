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
from app.models import (
    Department,
    Doctor,
    Message,
    Order,
    Payment,
    Refund,
    Schedule,
    Slot,
    StatsDaily,
)
from app.services import stats
from app.services.scoping import scoped


@dataclass(frozen=True)
class Today:
    """Today's figures in a scope."""

    bookings: int  # orders made today and booked (paid, or free)
    revenue_fen: int  # paid today, less refunded today
    visits: int  # today's booked numbers
    checked_in: int
    completed: int
    no_shows: int
    cancellations: int  # today's visits cancelled
    capacity: int
    taken: int
    refunds_waiting: int  # pending, processing or failed
    messages_failing: int
    schedules: list  # today's schedules in scope (id, period, times, status, doctor's name)

    @property
    def utilisation(self) -> float:
        return self.taken / self.capacity if self.capacity else 0.0


def _count(statement, scope):
    """A count or sum over orders (joined in ``statement``) limited to ``scope``."""
    return int(db.session.scalar(scoped(statement, Order, scope)) or 0)


def today(scope: Scope, now=None) -> Today:
    """The figures of the business day of ``now`` for ``scope``, each read through an index
    (today's schedules, the orders made today, the payments and refunds of today), so that it
    stays fast on a year of a large hospital's orders."""
    now = now or clock.now()
    day = clock.business_date(now)
    start = datetime.combine(day, time(0), tzinfo=clock.CHINA_TZ)
    end = start + timedelta(days=1)
    # Columns, not rows of the ORM: the rollback below would expire them, and the page would
    # load each schedule and doctor again as it shows them.
    schedules = db.session.execute(
        scoped(
            sa.select(
                Schedule.id,
                Schedule.period,
                Schedule.start_time,
                Schedule.end_time,
                Schedule.status,
                Doctor.name.label("doctor"),
            )
            .join(Doctor, Doctor.id == Schedule.doctor_id)
            .where(Schedule.date == day)
            .order_by(Schedule.start_time, Schedule.id),
            Schedule,
            scope,
        )
    ).all()
    ids = [schedule.id for schedule in schedules]
    slots = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((Slot.state != SlotState.FREE, 1)))).where(
            Slot.schedule_id.in_(ids)
        )
    ).one()
    # Today's visits: the orders of today's schedules in scope.
    visits = db.session.execute(
        sa.select(
            sa.func.count(sa.case((Order.status.in_(BOOKED_OR_LATER), 1))),
            sa.func.count(Order.checked_in_at),
            sa.func.count(sa.case((Order.status == OrderStatus.COMPLETED, 1))),
            sa.func.count(sa.case((Order.status == OrderStatus.NO_SHOW, 1))),
            sa.func.count(sa.case((Order.status == OrderStatus.CANCELLED, 1))),
        ).where(Order.schedule_id.in_(ids))
    ).one()
    # A payment is paid before its hold expires (hours at most after it was started): the
    # bound on created_at lets (status, created_at) find today's payments.
    paid = _count(
        sa.select(sa.func.sum(Payment.amount_fen))
        .join(Order, Order.id == Payment.order_id)
        .where(
            Payment.status == PaymentStatus.PAID,
            Payment.created_at >= start - timedelta(days=1),
            Payment.paid_at >= start,
            Payment.paid_at < end,
        ),
        scope,
    )
    refunded = _count(
        sa.select(sa.func.sum(Refund.amount_fen))
        .join(Order, Order.id == Refund.order_id)
        .where(
            Refund.status == RefundStatus.SUCCESS,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
        ),
        scope,
    )
    figures = Today(
        bookings=_count(
            sa.select(sa.func.count())
            .select_from(Order)
            .where(
                Order.created_at >= start,
                Order.created_at < end,
                Order.status.in_(BOOKED_OR_LATER),
            ),
            scope,
        ),
        revenue_fen=paid - refunded,
        visits=int(visits[0]),
        checked_in=int(visits[1]),
        completed=int(visits[2]),
        no_shows=int(visits[3]),
        cancellations=int(visits[4]),
        capacity=slots[0] or 0,
        taken=slots[1] or 0,
        refunds_waiting=_count(
            sa.select(sa.func.count())
            .select_from(Refund)
            .join(Order, Order.id == Refund.order_id)
            .where(
                Refund.status.in_(
                    (RefundStatus.PENDING, RefundStatus.PROCESSING, RefundStatus.FAILED)
                )
            ),
            scope,
        ),
        messages_failing=_count(
            sa.select(sa.func.count())
            .select_from(Message)
            .join(Order, Order.id == Message.order_id)
            .where(Message.status == MessageStatus.FAILED),
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
    department over the same days, in scope: read from the daily rollup (stats_daily, at most
    a quarter of an hour behind)."""
    now = now or clock.now()
    last = clock.business_date(now)
    first = last - timedelta(days=days - 1)
    where = (StatsDaily.day.between(first, last), *stats.limits(StatsDaily, stats.Filter(scope)))
    per_day = {
        day: (int(count or 0), int(fees or 0))
        for day, count, fees in db.session.execute(
            sa.select(
                StatsDaily.day,
                sa.func.sum(StatsDaily.bookings),
                sa.func.sum(StatsDaily.revenue_fen),
            )
            .where(*where)
            .group_by(StatsDaily.day)
        )
    }
    # Summed per department first, then named: the sums read (hospital, day), not a
    # department's every day.
    visits = (
        sa.select(StatsDaily.department_id, sa.func.sum(StatsDaily.bookings).label("visits"))
        .where(*where)
        .group_by(StatsDaily.department_id)
        .subquery()
    )
    per_department = db.session.execute(
        sa.select(Department.name, visits.c.visits)
        .join(visits, visits.c.department_id == Department.id)
        .where(visits.c.visits > 0)
        .order_by(visits.c.visits.desc(), Department.name)
    ).all()
    db.session.rollback()
    series = []
    for n in range(days):
        day = first + timedelta(days=n)
        count, fees = per_day.get(day, (0, 0))
        series.append((day, count, fees))
    return Trend(series, [(name, int(count)) for name, count in per_department])
