"""Statistics (统计): the daily rollup (stats_daily) of each visit day's orders and schedules per
department and doctor, and the figures of a day, week or month read from that rollup alone."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from app.domain.enums import ScheduleStatus, SlotState
from app.domain.orders import BOOKED_OR_LATER, OrderStatus
from app.domain.staff import Scope
from app.extensions import db
from app.models import Department, Doctor, Order, Schedule, Slot, StatsDaily

PERIODS = ("day", "week", "month")
GROUPINGS = ("department", "doctor")


def _figures_of_orders(day):
    booked = Order.status.in_(BOOKED_OR_LATER)
    statement = (
        sa.select(
            Order.department_id,
            Order.doctor_id,
            Order.hospital_id,
            sa.func.count(sa.case((booked, 1))),
            sa.func.coalesce(sa.func.sum(sa.case((booked, Order.amount_fen), else_=0)), 0),
            sa.func.count(sa.case((Order.status == OrderStatus.CANCELLED, 1))),
            sa.func.count(sa.case((Order.status == OrderStatus.NO_SHOW, 1))),
        )
        .where(
            Order.visit_date == day,
            Order.status.in_((*BOOKED_OR_LATER, OrderStatus.CANCELLED)),
        )
        .group_by(Order.department_id, Order.doctor_id, Order.hospital_id)
    )
    return db.session.execute(statement).all()


def _figures_of_schedules(day):
    statement = (
        sa.select(
            Schedule.department_id,
            Schedule.doctor_id,
            Department.hospital_id,
            sa.func.count(Slot.id),
            sa.func.count(sa.case((Slot.state.in_((SlotState.HELD, SlotState.BOOKED)), 1))),
        )
        .join(Slot, Slot.schedule_id == Schedule.id)
        .join(Department, Department.id == Schedule.department_id)
        .where(
            Schedule.date == day,
            Schedule.status == ScheduleStatus.OPEN,
            Slot.state != SlotState.BLOCKED,
        )
        .group_by(Schedule.department_id, Schedule.doctor_id, Department.hospital_id)
    )
    return db.session.execute(statement).all()


def rollup_day(day: date) -> int:
    """Recompute ``day``'s rows of stats_daily from the orders visiting that day and that day's
    open schedules, deleting and inserting them in one transaction (so running it again gives
    the same rows); the number of rows."""
    try:
        rows = {}

        def row(department_id, doctor_id, hospital_id):
            key = (department_id, doctor_id)
            if key not in rows:
                rows[key] = dict(
                    day=day,
                    hospital_id=hospital_id,
                    department_id=department_id,
                    doctor_id=doctor_id,
                    bookings=0,
                    revenue_fen=0,
                    capacity=0,
                    taken=0,
                    cancellations=0,
                    no_shows=0,
                )
            return rows[key]

        for department_id, doctor_id, hospital_id, *figures in _figures_of_orders(day):
            bookings, revenue, cancellations, no_shows = (int(n) for n in figures)
            row(department_id, doctor_id, hospital_id).update(
                bookings=bookings,
                revenue_fen=revenue,
                cancellations=cancellations,
                no_shows=no_shows,
            )
        for department_id, doctor_id, hospital_id, capacity, taken in _figures_of_schedules(day):
            row(department_id, doctor_id, hospital_id).update(
                capacity=int(capacity), taken=int(taken)
            )
        db.session.execute(sa.delete(StatsDaily).where(StatsDaily.day == day))
        if rows:
            db.session.execute(sa.insert(StatsDaily), list(rows.values()))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(rows)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The days of one period: a day, a week (Monday to Sunday) or a calendar month."""

    period: str
    first: date
    last: date

    @property
    def label(self) -> str:
        if self.period == "day":
            return self.first.isoformat()
        if self.period == "month":
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    @property
    def previous(self) -> date:
        return window(self.period, self.first - timedelta(days=1)).first

    @property
    def following(self) -> date:
        return self.last + timedelta(days=1)


def window(period: str, start: date) -> Window:
    """The ``period`` (day, week or month) that holds ``start``."""
    if period == "week":
        first = start - timedelta(days=start.weekday())
        return Window(period, first, first + timedelta(days=6))
    if period == "month":
        days = calendar.monthrange(start.year, start.month)[1]
        return Window(period, start.replace(day=1), start.replace(day=days))
    return Window("day", start, start)


def _percent(part, whole):
    if not whole:
        return Decimal("0.0")
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Row:
    """One department's or doctor's figures over a window."""

    period: str
    department: str
    doctor: str  # "" when by department
    bookings: int
    revenue_fen: int
    capacity: int
    taken: int
    cancellations: int
    no_shows: int

    @property
    def utilisation(self) -> Decimal:
        """Numbers taken of the numbers offered, in per cent."""
        return _percent(self.taken, self.capacity)

    @property
    def cancellation_rate(self) -> Decimal:
        """Cancelled of the orders booked or cancelled, in per cent."""
        return _percent(self.cancellations, self.bookings + self.cancellations)

    @property
    def no_show_rate(self) -> Decimal:
        """No-shows of the bookings, in per cent."""
        return _percent(self.no_shows, self.bookings)


def _in_scope(scope: Scope) -> list:
    """What limits rollup rows to ``scope``: as scoping's rule for orders, whose ids they copy."""
    if scope.everything:
        return []
    if scope.doctor_id is not None:
        return [StatsDaily.doctor_id == scope.doctor_id]
    if scope.department_id is not None:
        return [StatsDaily.department_id == scope.department_id]
    return [StatsDaily.hospital_id == scope.hospital_id]


def figures(scope: Scope, span: Window, by: str) -> list[Row]:
    """Each department's (or doctor's) totals over ``span`` in ``scope``, from stats_daily."""
    sums = [
        sa.func.sum(column)
        for column in (
            StatsDaily.bookings,
            StatsDaily.revenue_fen,
            StatsDaily.capacity,
            StatsDaily.taken,
            StatsDaily.cancellations,
            StatsDaily.no_shows,
        )
    ]
    statement = (
        sa.select(Department.name, *sums)
        .select_from(StatsDaily)
        .join(Department, Department.id == StatsDaily.department_id)
        .where(StatsDaily.day.between(span.first, span.last), *_in_scope(scope))
    )
    if by == "doctor":
        statement = (
            statement.add_columns(Doctor.name)
            .join(Doctor, Doctor.id == StatsDaily.doctor_id)
            .group_by(Department.id, Department.name, Doctor.id, Doctor.name)
            .order_by(Department.name, Department.id, Doctor.name, Doctor.id)
        )
    else:
        statement = statement.group_by(Department.id, Department.name).order_by(
            Department.name, Department.id
        )
    found = db.session.execute(statement).all()
    db.session.rollback()
    rows = []
    for department, *totals in found:
        doctor = totals.pop() if by == "doctor" else ""
        rows.append(Row(span.label, department, doctor, *(int(n or 0) for n in totals)))
    return rows


def yuan(fen: int) -> Decimal:
    """Fen as yuan, two decimals (for exports)."""
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))
