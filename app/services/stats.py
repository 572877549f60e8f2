"""Statistics (统计): the rollups of each day — per visit day, department and doctor
(stats_daily: bookings and fees, numbers offered and taken, cancellations, no-shows, paid
payments by channel, refunds), per visit day, doctor and the hour the orders were made
(stats_hour), and per day the orders and payments were made: the payments by channel that
failed (stats_payment) and the bursts of holds from one account or one IP address
(stats_burst) — and the figures of days, weeks and months read from those rollups alone."""

import calendar
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain.anomalies import BurstKind, BurstRule, bursts, percent
from app.domain.enums import ScheduleStatus, SlotState
from app.domain.orders import BOOKED_OR_LATER, OrderStatus
from app.domain.payments import PaymentChannel, PaymentStatus, RefundStatus
from app.domain.staff import Scope
from app.extensions import db
from app.models import (
    Department,
    Doctor,
    Hospital,
    Order,
    Payment,
    Refund,
    Schedule,
    Slot,
    StatsBurst,
    StatsDaily,
    StatsHour,
    StatsPayment,
)
from app.services import scoping
from app.services.scoping import scoped
from app.services.transaction import transaction

PERIODS = ("day", "week", "month")
GROUPINGS = ("total", "department", "doctor")
MAX_PERIODS = 36
MAX_BURSTS = 500  # the most recent bursts a page shows
HOURS = range(24)
# China Standard Time has been UTC+8 all year since 1991: an order's hour is its UTC hour + 8.
_CHINA_OFFSET = sa.text("INTERVAL 8 HOUR")


# --- rolling up --------------------------------------------------------------------------------


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """The business day ``day`` as a UTC interval [start, end)."""
    start = datetime.combine(day, time(0), tzinfo=clock.CHINA_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


def _schedule_ids(day) -> list[int]:
    """Every schedule of ``day`` (stopped ones too), found through (department, date)."""
    departments = db.session.scalars(sa.select(Department.id)).all()
    if not departments:
        return []
    return list(
        db.session.scalars(
            sa.select(Schedule.id).where(
                Schedule.department_id.in_(departments), Schedule.date == day
            )
        )
    )


def _figures_of_orders(schedule_ids):
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
            Order.schedule_id.in_(schedule_ids),
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


def _figures_of_payments(schedule_ids):
    """Paid payments of the orders of ``schedule_ids`` per place and channel: count, amount."""
    statement = (
        sa.select(
            Order.department_id,
            Order.doctor_id,
            Order.hospital_id,
            Payment.channel,
            sa.func.count(),
            sa.func.sum(Payment.amount_fen),
        )
        .join(Order, Order.id == Payment.order_id)
        .where(Order.schedule_id.in_(schedule_ids), Payment.status == PaymentStatus.PAID)
        .group_by(Order.department_id, Order.doctor_id, Order.hospital_id, Payment.channel)
    )
    return db.session.execute(statement).all()


def _figures_of_refunds(schedule_ids):
    """Payments of the orders of ``schedule_ids`` with money back, and the money, per place."""
    statement = (
        sa.select(
            Order.department_id,
            Order.doctor_id,
            Order.hospital_id,
            sa.func.count(sa.distinct(Refund.payment_id)),
            sa.func.sum(Refund.amount_fen),
        )
        .join(Order, Order.id == Refund.order_id)
        .where(Order.schedule_id.in_(schedule_ids), Refund.status == RefundStatus.SUCCESS)
        .group_by(Order.department_id, Order.doctor_id, Order.hospital_id)
    )
    return db.session.execute(statement).all()


def _figures_of_hours(schedule_ids):
    """The orders of ``schedule_ids`` (and those booked or later) per doctor and China hour made."""
    hour = sa.func.hour(sa.func.date_add(Order.created_at, _CHINA_OFFSET))
    statement = (
        sa.select(
            Order.hospital_id,
            Order.department_id,
            Order.doctor_id,
            hour,
            sa.func.count(),
            sa.func.count(sa.case((Order.status.in_(BOOKED_OR_LATER), 1))),
        )
        .where(Order.schedule_id.in_(schedule_ids))
        .group_by(Order.hospital_id, Order.department_id, Order.doctor_id, hour)
    )
    return db.session.execute(statement).all()


def _daily_rows(day, schedule_ids) -> list[dict]:
    rows = {}

    def row(department_id, doctor_id, hospital_id):
        key = (department_id, doctor_id)
        if key not in rows:
            rows[key] = dict(
                day=day,
                hospital_id=hospital_id,
                department_id=department_id,
                doctor_id=doctor_id,
                **{column: 0 for column in _DAILY_COUNTS},
            )
        return rows[key]

    if schedule_ids:
        for department_id, doctor_id, hospital_id, *counts in _figures_of_orders(schedule_ids):
            bookings, revenue, cancellations, no_shows = (int(n) for n in counts)
            row(department_id, doctor_id, hospital_id).update(
                bookings=bookings,
                revenue_fen=revenue,
                cancellations=cancellations,
                no_shows=no_shows,
            )
        for department_id, doctor_id, hospital_id, channel, count, fen in _figures_of_payments(
            schedule_ids
        ):
            channel = PaymentChannel(channel)
            row(department_id, doctor_id, hospital_id).update(
                {f"payments_{channel.value}": int(count), f"paid_{channel.value}_fen": int(fen)}
            )
        for department_id, doctor_id, hospital_id, count, fen in _figures_of_refunds(schedule_ids):
            row(department_id, doctor_id, hospital_id).update(
                refunds=int(count), refund_fen=int(fen)
            )
    for department_id, doctor_id, hospital_id, capacity, taken in _figures_of_schedules(day):
        row(department_id, doctor_id, hospital_id).update(capacity=int(capacity), taken=int(taken))
    return list(rows.values())


_DAILY_COUNTS = (
    "bookings",
    "revenue_fen",
    "capacity",
    "taken",
    "cancellations",
    "no_shows",
    "payments_wechat",
    "paid_wechat_fen",
    "payments_alipay",
    "paid_alipay_fen",
    "refunds",
    "refund_fen",
)


def last_bookable_day(today: date) -> date:
    """The last visit day any hospital takes bookings for now: today and its booking window."""
    window = db.session.scalar(sa.select(sa.func.max(Hospital.booking_window_days)))
    return today + timedelta(days=window or 0)


def rollup_day(day: date) -> int:
    """Recompute visit day ``day``'s rows of stats_daily and stats_hour from the orders visiting
    that day (with their payments and refunds) and that day's open schedules, deleting and
    inserting them in one transaction (so running it again gives the same rows); the number of
    stats_daily rows."""
    try:
        schedule_ids = _schedule_ids(day)
        daily = _daily_rows(day, schedule_ids)
        hours = [
            dict(
                day=day,
                hospital_id=hospital_id,
                department_id=department_id,
                doctor_id=doctor_id,
                hour=int(hour),
                orders=int(orders),
                bookings=int(bookings),
            )
            for hospital_id, department_id, doctor_id, hour, orders, bookings in (
                _figures_of_hours(schedule_ids) if schedule_ids else ()
            )
        ]
    except Exception:
        db.session.rollback()
        raise
    _replace_day(day, {StatsDaily: daily, StatsHour: hours})
    return len(daily)


def _payment_rows(day) -> list[dict]:
    """stats_payment's rows of ``day``: the payments started that day and the refunds asked
    that day that failed, per department and channel."""
    start, end = _day_bounds(day)
    never_paid = sa.and_(
        Payment.status != PaymentStatus.PAID,
        Payment.prepay_id.is_(None),
        Payment.pay_url.is_(None),
    )
    payments = db.session.execute(
        sa.select(
            Order.hospital_id,
            Order.department_id,
            Payment.channel,
            sa.func.count(),
            sa.func.count(sa.case((Payment.status == PaymentStatus.PAID, 1))),
            sa.func.count(sa.case((Payment.status == PaymentStatus.CLOSED, 1))),
            sa.func.count(sa.case((never_paid, 1))),
        )
        .join(Order, Order.id == Payment.order_id)
        # Every status named, so that (status, created_at) finds the day's payments.
        .where(
            Payment.status.in_(list(PaymentStatus)),
            Payment.created_at >= start,
            Payment.created_at < end,
        )
        .group_by(Order.hospital_id, Order.department_id, Payment.channel)
    ).all()
    failed_refunds = db.session.execute(
        sa.select(Order.hospital_id, Order.department_id, Payment.channel, sa.func.count())
        .select_from(Refund)
        .join(Payment, Payment.id == Refund.payment_id)
        .join(Order, Order.id == Refund.order_id)
        .where(
            Refund.status == RefundStatus.FAILED,
            Refund.created_at >= start,
            Refund.created_at < end,
        )
        .group_by(Order.hospital_id, Order.department_id, Payment.channel)
    ).all()
    rows = {}

    def row(hospital_id, department_id, channel):
        key = (department_id, PaymentChannel(channel).value)
        if key not in rows:
            rows[key] = dict(
                day=day,
                hospital_id=hospital_id,
                department_id=department_id,
                channel=key[1],
                started=0,
                paid=0,
                closed=0,
                no_prepay=0,
                refunds_failed=0,
            )
        return rows[key]

    for hospital_id, department_id, channel, started, paid, closed, no_prepay in payments:
        row(hospital_id, department_id, channel).update(
            started=int(started), paid=int(paid), closed=int(closed), no_prepay=int(no_prepay)
        )
    for hospital_id, department_id, channel, count in failed_refunds:
        row(hospital_id, department_id, channel)["refunds_failed"] = int(count)
    return list(rows.values())


def _burst_rows(day, rules: dict[BurstKind, BurstRule]) -> list[dict]:
    """stats_burst's rows of ``day``: each burst of holds made that day from one account or one
    address in one hospital (app.domain.anomalies.bursts), one row per department it reached."""
    start, end = _day_bounds(day)
    orders = db.session.execute(
        sa.select(
            Order.account_id,
            Order.client_ip,
            Order.hospital_id,
            Order.department_id,
            Order.created_at,
        )
        .where(Order.created_at >= start, Order.created_at < end)
        .order_by(Order.created_at, Order.id)
    ).all()
    sources = defaultdict(list)
    for order in orders:
        sources[(order.hospital_id, BurstKind.ACCOUNT, str(order.account_id))].append(order)
        if order.client_ip:
            sources[(order.hospital_id, BurstKind.IP, order.client_ip)].append(order)
    rows = []
    for (hospital_id, kind, subject), made in sources.items():
        for burst in bursts([order.created_at for order in made], rules[kind]):
            members = [made[index] for index in burst]
            per_department = defaultdict(int)
            for order in members:
                per_department[order.department_id] += 1
            for department_id, count in sorted(per_department.items()):
                rows.append(
                    dict(
                        day=day,
                        hospital_id=hospital_id,
                        department_id=department_id,
                        kind=kind.value,
                        subject=subject,
                        first_at=members[0].created_at,
                        last_at=members[-1].created_at,
                        holds=len(members),
                        department_holds=count,
                    )
                )
    return rows


def rollup_anomalies(day: date, rules: dict[BurstKind, BurstRule] | None = None) -> int:
    """Recompute ``day``'s rows of stats_payment (payments started that day, and refunds asked
    that day that failed) and stats_burst (the bursts of holds made that day by ``rules``, per
    kind of source; the configured STATS_BURST_* unless given), in one transaction; the number
    of bursts' rows."""
    rules = rules or burst_rules(current_app.config)
    try:
        payments = _payment_rows(day)
        found = _burst_rows(day, rules)
    except Exception:
        db.session.rollback()
        raise
    _replace_day(day, {StatsPayment: payments, StatsBurst: found})
    return len(found)


def _replace_day(day: date, rows_of: dict):
    """Replace ``day``'s rows of each rollup table (model → its new rows) in one transaction, so
    that running a rollup again gives the same rows."""
    with transaction():
        for model, rows in rows_of.items():
            db.session.execute(sa.delete(model).where(model.day == day))
            if rows:
                db.session.execute(sa.insert(model), rows)


def burst_rules(config) -> dict[BurstKind, BurstRule]:
    """The bursts' thresholds of ``config`` (STATS_BURST_*)."""
    minutes = config["STATS_BURST_MINUTES"]
    return {
        BurstKind.ACCOUNT: BurstRule(config["STATS_BURST_ACCOUNT_HOLDS"], minutes),
        BurstKind.IP: BurstRule(config["STATS_BURST_IP_HOLDS"], minutes),
    }


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The days of one period: a day, a week (Monday to Sunday) or a calendar month; or, for
    totals, any run of days."""

    period: str
    first: date
    last: date

    @property
    def label(self) -> str:
        if self.period == "day":
            return self.first.isoformat()
        if self.period == "month" and self.first.day == 1 and self.following.day == 1:
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


def windows(period: str, start: date, count: int) -> list[Window]:
    """The ``count`` periods up to the one holding ``start``, oldest first."""
    found = [window(period, start)]
    while len(found) < count:
        found.insert(0, window(period, found[0].first - timedelta(days=1)))
    return found


def span_of(shown: list[Window]) -> Window:
    """The days from the first window's to the last's."""
    return Window("span", shown[0].first, shown[-1].last)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """What the figures are limited to: the viewer's scope, and one of its departments or
    doctors when asked (already checked to be in scope)."""

    scope: Scope
    department_id: int | None = None
    doctor_id: int | None = None


def limits(model, where: Filter) -> list:
    """What limits rows of a rollup ``model`` to ``where``: the viewer's scope (scoping's rule),
    then the department or doctor asked for."""
    conditions = scoping.conditions(model, where.scope)
    if where.department_id is not None:
        conditions.append(model.department_id == where.department_id)
    if where.doctor_id is not None:
        conditions.append(model.doctor_id == where.doctor_id)
    return conditions


@dataclass(frozen=True)
class Row:
    """One department's or doctor's figures over a window (or the totals: ``total`` set)."""

    period: str
    department: str  # "" for a period's or the span's totals
    doctor: str  # "" when not by doctor
    bookings: int
    revenue_fen: int
    capacity: int
    taken: int
    cancellations: int
    no_shows: int
    payments: int = 0  # paid payments
    refunds: int = 0  # of them with money back
    refund_fen: int = 0
    total: bool = False

    @property
    def utilisation(self) -> Decimal:
        """Numbers taken of the numbers offered, in per cent."""
        return percent(self.taken, self.capacity)

    @property
    def cancellation_rate(self) -> Decimal:
        """Cancelled of the orders booked or cancelled, in per cent."""
        return percent(self.cancellations, self.bookings + self.cancellations)

    @property
    def no_show_rate(self) -> Decimal:
        """No-shows of the bookings, in per cent."""
        return percent(self.no_shows, self.bookings)

    @property
    def refund_rate(self) -> Decimal:
        """Paid payments with money back, of the paid payments, in per cent."""
        return percent(self.refunds, self.payments)


_SUMMED = ("bookings", "revenue_fen", "capacity", "taken", "cancellations", "no_shows")
_ADDED = (*_SUMMED, "payments", "refunds", "refund_fen")


def _sum_rows(rows, period) -> Row:
    values = {name: sum(getattr(row, name) for row in rows) for name in _ADDED}
    return Row(period, "", "", **values, total=True)


def _figures_of_windows(where: Filter, shown: list[Window], by: str) -> dict[int, list[Row]]:
    """The rows of each window of ``shown`` (by its index): one scan of stats_daily over the
    span, summed per window (and department or doctor) before the names are joined."""
    window_of = sa.case(
        *(
            (StatsDaily.day.between(span.first, span.last), index)
            for index, span in enumerate(shown)
        )
    ).label("window")
    keys = [window_of]
    if by in ("department", "doctor"):
        keys.append(StatsDaily.department_id)
    if by == "doctor":
        keys.append(StatsDaily.doctor_id)
    sums = [sa.func.sum(getattr(StatsDaily, name)).label(name) for name in _SUMMED]
    sums += [
        sa.func.sum(StatsDaily.payments_wechat + StatsDaily.payments_alipay).label("payments"),
        sa.func.sum(StatsDaily.refunds).label("refunds"),
        sa.func.sum(StatsDaily.refund_fen).label("refund_fen"),
    ]
    span = span_of(shown)
    totals = (
        sa.select(*keys, *sums)
        .where(StatsDaily.day.between(span.first, span.last), *limits(StatsDaily, where))
        .group_by(*keys)
        .subquery()
    )
    names = [sa.literal(""), sa.literal("")]
    statement = sa.select(totals)
    order = [totals.c.window]
    if by in ("department", "doctor"):
        statement = statement.join(Department, Department.id == totals.c.department_id)
        names[0] = Department.name
        order += [Department.name, Department.id]
    if by == "doctor":
        statement = statement.join(Doctor, Doctor.id == totals.c.doctor_id)
        names[1] = Doctor.name
        order += [Doctor.name, Doctor.id]
    statement = statement.add_columns(*names).order_by(*order)
    found: dict[int, list[Row]] = {}
    for row in db.session.execute(statement):
        values = row._mapping
        counts = [int(values[column.name] or 0) for column in sums]
        department, doctor = row[-2], row[-1]
        found.setdefault(values["window"], []).append(
            Row(shown[values["window"]].label, department, doctor, *counts, total=by == "total")
        )
    return found


def figures(where: Filter, shown: list[Window], by: str) -> list[Row]:
    """Each department's (or doctor's) figures per window of ``shown`` — by "total" one row per
    window — each window closed by its totals and, over several windows, the span's totals;
    from stats_daily."""
    per_window = _figures_of_windows(where, shown, by)
    db.session.rollback()
    rows, totals = [], []
    for index, span in enumerate(shown):
        found = per_window.get(index, [])
        if by != "total" and found:
            found.append(_sum_rows(found, span.label))
        rows += found
        totals += [row for row in found if row.total]
    if len(shown) > 1:
        rows.append(_sum_rows(totals, span_of(shown).label))
    return rows


@dataclass(frozen=True)
class ChannelShare:
    """One channel's paid payments over a span, and its share of them."""

    channel: PaymentChannel
    payments: int
    amount_fen: int
    share: Decimal  # of the payments, in per cent
    amount_share: Decimal  # of the money, in per cent

    @property
    def label(self) -> str:
        return "微信支付" if self.channel is PaymentChannel.WECHAT else "支付宝"


def channel_share(where: Filter, span: Window) -> list[ChannelShare]:
    """WeChat Pay's and Alipay's paid payments of the orders visiting in ``span``."""
    found = db.session.execute(
        sa.select(
            sa.func.sum(StatsDaily.payments_wechat),
            sa.func.sum(StatsDaily.paid_wechat_fen),
            sa.func.sum(StatsDaily.payments_alipay),
            sa.func.sum(StatsDaily.paid_alipay_fen),
        ).where(StatsDaily.day.between(span.first, span.last), *limits(StatsDaily, where))
    ).one()
    db.session.rollback()
    wechat, wechat_fen, alipay, alipay_fen = (int(n or 0) for n in found)
    count, money = wechat + alipay, wechat_fen + alipay_fen
    return [
        ChannelShare(channel, payments, fen, percent(payments, count), percent(fen, money))
        for channel, payments, fen in (
            (PaymentChannel.WECHAT, wechat, wechat_fen),
            (PaymentChannel.ALIPAY, alipay, alipay_fen),
        )
    ]


@dataclass(frozen=True)
class HourCount:
    """The orders made in one hour of the day (China time) for visits in a span."""

    hour: int
    orders: int
    bookings: int
    share: Decimal  # of the span's orders, in per cent

    @property
    def label(self) -> str:
        return f"{self.hour:02d}:00–{self.hour:02d}:59"


def hours(where: Filter, span: Window) -> list[HourCount]:
    """The booking-hour distribution: orders visiting in ``span`` by the hour they were made,
    all 24 hours."""
    found = {
        int(hour): (int(orders), int(bookings))
        for hour, orders, bookings in db.session.execute(
            sa.select(
                StatsHour.hour, sa.func.sum(StatsHour.orders), sa.func.sum(StatsHour.bookings)
            )
            .where(StatsHour.day.between(span.first, span.last), *limits(StatsHour, where))
            .group_by(StatsHour.hour)
        )
    }
    db.session.rollback()
    total = sum(orders for orders, _ in found.values())
    return [
        HourCount(hour, *found.get(hour, (0, 0)), percent(found.get(hour, (0, 0))[0], total))
        for hour in HOURS
    ]


@dataclass(frozen=True)
class PaymentFailures:
    """One window's payments through one channel: started, paid, and what failed."""

    period: str
    channel: PaymentChannel | None  # None for the totals
    started: int
    paid: int
    closed: int
    no_prepay: int
    refunds_failed: int

    @property
    def label(self) -> str:
        if self.channel is None:
            return "合计"
        return "微信支付" if self.channel is PaymentChannel.WECHAT else "支付宝"

    @property
    def paid_rate(self) -> Decimal:
        return percent(self.paid, self.started)

    @property
    def failure_rate(self) -> Decimal:
        """Payments never given the means to pay, of those started, in per cent."""
        return percent(self.no_prepay, self.started)


def payment_failures(where: Filter, shown: list[Window]) -> list[PaymentFailures]:
    """Per window and channel, the payments started (and refunds asked) then, from
    stats_payment; the span's totals per channel at the end."""
    counts = ("started", "paid", "closed", "no_prepay", "refunds_failed")
    rows = []
    for span in shown:
        for channel, *values in db.session.execute(
            sa.select(
                StatsPayment.channel, *(sa.func.sum(getattr(StatsPayment, n)) for n in counts)
            )
            .where(
                StatsPayment.day.between(span.first, span.last),
                *limits(StatsPayment, replace(where, doctor_id=None)),
            )
            .group_by(StatsPayment.channel)
            .order_by(StatsPayment.channel.desc())  # wechat first
        ):
            rows.append(
                PaymentFailures(span.label, PaymentChannel(channel), *(int(v) for v in values))
            )
    db.session.rollback()
    if len(shown) > 1 and rows:
        label = span_of(shown).label
        for channel in (PaymentChannel.WECHAT, PaymentChannel.ALIPAY):
            mine = [row for row in rows if row.channel is channel]
            if mine:
                values = [sum(getattr(row, n) for row in mine) for n in counts]
                rows.append(PaymentFailures(label, channel, *values))
    return rows


@dataclass(frozen=True)
class Burst:
    """A burst of holds from one source in one hospital, with the departments it reached."""

    day: date
    kind: BurstKind
    subject: str
    hospital: str
    departments: tuple[tuple[str, int], ...]  # (name, orders there), in the viewer's scope
    first_at: datetime
    last_at: datetime
    holds: int  # every department's

    @property
    def minutes(self) -> Decimal:
        seconds = (self.last_at - self.first_at).total_seconds()
        return (Decimal(seconds) / 60).quantize(Decimal("0.1"))


def burst_list(where: Filter, span: Window) -> list[Burst]:
    """The bursts of holds made in ``span`` that reached the departments ``where`` covers,
    newest first (at most MAX_BURSTS)."""
    found = db.session.execute(
        sa.select(StatsBurst, Department.name, Hospital.name)
        .join(Department, Department.id == StatsBurst.department_id)
        .join(Hospital, Hospital.id == StatsBurst.hospital_id)
        .where(
            StatsBurst.day.between(span.first, span.last),
            *limits(StatsBurst, replace(where, doctor_id=None)),
        )
        .order_by(
            StatsBurst.day.desc(),
            StatsBurst.first_at.desc(),
            StatsBurst.kind,
            StatsBurst.subject,
            Department.name,
        )
    ).all()
    db.session.rollback()
    grouped: dict[tuple, list] = {}
    for row, department, hospital in found:
        key = (row.day, row.hospital_id, row.kind, row.subject, row.first_at)
        grouped.setdefault(key, []).append((row, department, hospital))
    shown = []
    for members in list(grouped.values())[:MAX_BURSTS]:
        row, _, hospital = members[0]
        shown.append(
            Burst(
                day=row.day,
                kind=BurstKind(row.kind),
                subject=row.subject,
                hospital=hospital,
                departments=tuple((name, r.department_holds) for r, name, _ in members),
                first_at=row.first_at,
                last_at=row.last_at,
                holds=row.holds,
            )
        )
    return shown


@dataclass(frozen=True)
class Places:
    """The departments and doctors a viewer may limit the statistics to: (id, name) each."""

    departments: list
    doctors: list


def places(scope: Scope) -> Places:
    """The departments and doctors in ``scope``, by name."""
    departments = db.session.execute(
        scoped(
            sa.select(Department.id, Department.name).order_by(Department.name, Department.id),
            Department,
            scope,
        )
    ).all()
    doctors = db.session.execute(
        scoped(sa.select(Doctor.id, Doctor.name).order_by(Doctor.name, Doctor.id), Doctor, scope)
    ).all()
    db.session.rollback()
    return Places(list(departments), list(doctors))


def yuan(fen: int) -> Decimal:
    """Fen as yuan, two decimals (for exports)."""
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))
