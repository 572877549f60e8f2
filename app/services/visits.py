"""The visit day: check-in (签到), the queue (候诊队列) staff call from, and the place patients see.

Every change to a schedule's queue locks the schedule row first, so that places are decided one
at a time (app/domain/visits.py decides them), then commits, then writes the schedule's queue to
Redis (app/infra/waiting.py) where the phones read it. A phone whose queue is not there (Redis
away, or nothing changed yet today) is answered from MySQL, and the queue is written for the
next one.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain import visits as rules
from app.domain.orders import BOOKED_OR_LATER, OrderStatus
from app.errors import AppError, Conflict, NotFound
from app.extensions import db
from app.infra import waiting
from app.infra.crypto import TicketInvalid, verify_ticket
from app.models import Order, Schedule
from app.services import audit, auth
from app.services.booking import tickets
from app.services.messages import outbox
from app.services.no_shows import record_no_show
from app.services.transaction import lock_one, transaction


@dataclass(frozen=True)
class QueuePlace:
    """Where an order is on its visit day, as the patient sees it."""

    order_id: int
    status: OrderStatus
    position: int | None  # 1 is next; None unless waiting
    ahead: int | None
    called_at: datetime | None
    estimated_wait_minutes: int | None


class CheckInRefused(AppError):
    status = 409
    code = "check_in_closed"
    message = "当前不在签到时间内"


_REFUSALS = {
    rules.CheckInRefusal.NOT_VISIT_DAY: ("not_visit_day", "今天不是就诊日，请在就诊当天签到"),
    rules.CheckInRefusal.CHECK_IN_CLOSED: (
        "check_in_closed",
        "不在签到时间内：请在就诊时段开始前{minutes}分钟至时段结束前签到",
    ),
}


def _period(schedule: Schedule) -> tuple[datetime, datetime]:
    day = schedule.date
    return (
        datetime.combine(day, schedule.start_time, tzinfo=clock.CHINA_TZ),
        datetime.combine(day, schedule.end_time, tzinfo=clock.CHINA_TZ),
    )


def _lock_schedule(schedule_id) -> Schedule:
    schedule = lock_one(sa.select(Schedule).where(Schedule.id == schedule_id))
    if schedule is None:
        raise NotFound("未找到该出诊")
    return schedule


def _lock_order_of(schedule_id, order_id) -> Order:
    order = lock_one(sa.select(Order).where(Order.id == order_id, Order.schedule_id == schedule_id))
    if order is None:
        raise NotFound("未找到该挂号单")
    return order


def _waiting_ranks(schedule_id) -> list[int]:
    return db.session.scalars(
        sa.select(Order.queue_rank).where(
            Order.schedule_id == schedule_id, Order.status == OrderStatus.CHECKED_IN
        )
    ).all()


# --- check-in ------------------------------------------------------------------------------------


def check_in(account_id, order_id, now=None) -> QueuePlace:
    """签到: the account's order joins its schedule's queue on the visit day. Checking in again
    answers the same place."""
    now = now or clock.now()
    schedule_id = db.session.scalar(
        sa.select(Order.schedule_id).where(Order.id == order_id, Order.account_id == account_id)
    )
    db.session.rollback()
    if schedule_id is None:
        raise NotFound("未找到该挂号单")
    _check_in(schedule_id, order_id, now)
    return queue_place(account_id, order_id)


def check_in_by_ticket(qr_payload, schedule_id, now=None, by=None) -> Order:
    """Staff (``by``) scanned a patient's e-ticket at the clinic of ``schedule_id``: check the
    order in."""
    now = now or clock.now()
    try:
        payload = verify_ticket(tickets.ticket_public_key()["public_key"], qr_payload)
        order_id = int(payload["o"])
        ticket_schedule = int(payload["s"])
    except (TicketInvalid, KeyError, TypeError, ValueError):
        raise AppError("电子凭证无效", code="invalid_ticket", status=422) from None
    if ticket_schedule != schedule_id:
        raise Conflict("该凭证不是本诊室本时段的挂号", code="wrong_clinic")
    _check_in(schedule_id, order_id, now, by)
    return db.session.get(Order, order_id)


def _check_in(schedule_id, order_id, now, by=None):
    config = current_app.config
    with transaction():
        schedule = _lock_schedule(schedule_id)
        order = _lock_order_of(schedule_id, order_id)
        if order.status in (OrderStatus.CHECKED_IN, OrderStatus.CALLED, OrderStatus.COMPLETED):
            return  # already in: the same answer, nothing changes
        if order.status != OrderStatus.BOOKED:
            raise Conflict("该挂号单当前状态不能签到", code="order_not_checkable")
        start, end = _period(schedule)
        refusal = rules.check_in_refusal(
            now=now,
            visit_date=order.visit_date,
            period_start=start,
            period_end=end,
            opens_minutes=config["CHECK_IN_OPENS_MINUTES"],
        )
        if refusal is not None:
            code, message = _REFUSALS[refusal]
            raise CheckInRefused(
                message.format(minutes=config["CHECK_IN_OPENS_MINUTES"]), code=code
            )
        suggested = datetime.combine(order.visit_date, order.suggested_time, tzinfo=clock.CHINA_TZ)
        order.queue_rank = rules.check_in_rank(
            seq=order.seq,
            suggested_at=suggested,
            checked_in_at=now,
            grace_minutes=config["ARRIVAL_GRACE_MINUTES"],
            waiting_ranks=_waiting_ranks(schedule_id),
        )
        order.set_status(OrderStatus.CHECKED_IN)
        order.checked_in_at = now
        _audit(by, "check_in", order, OrderStatus.BOOKED)
        _tell_the_next(schedule_id)
    publish(schedule_id)


# --- the staff's queue console -------------------------------------------------------------------


def call_next(schedule_id, now=None, by=None) -> Order | None:
    """叫号: the first patient waiting is called in; None when nobody waits."""
    now = now or clock.now()
    with transaction():
        _lock_schedule(schedule_id)
        order = lock_one(
            sa.select(Order)
            .where(Order.schedule_id == schedule_id, Order.status == OrderStatus.CHECKED_IN)
            .order_by(Order.queue_rank, Order.id)
            .limit(1)
        )
        if order is None:
            return None
        order.set_status(OrderStatus.CALLED)
        order.called_at = now
        _audit(by, "call_next", order, OrderStatus.CHECKED_IN)
        _tell_the_next(schedule_id)
    publish(schedule_id)
    return order


def recall(schedule_id, order_id, now=None, by=None) -> Order:
    """重呼: call a called patient again (the display shows them once more)."""
    now = now or clock.now()
    with transaction():
        _lock_schedule(schedule_id)
        order = _lock_order_of(schedule_id, order_id)
        if order.status != OrderStatus.CALLED:
            raise Conflict("只能重呼已叫号的患者", code="not_called")
        order.called_at = now
        _audit(by, "recall", order, OrderStatus.CALLED)
    publish(schedule_id)
    return order


def skip(schedule_id, order_id, now=None, by=None) -> Order:
    """过号: a called patient who did not come goes to the back of the line; skipped
    MAX_SKIPS times, the order is a no-show (a strike)."""
    now = now or clock.now()
    with transaction():
        _lock_schedule(schedule_id)
        order = _lock_order_of(schedule_id, order_id)
        if order.status != OrderStatus.CALLED:
            raise Conflict("只能对已叫号的患者过号", code="not_called")
        outcome = rules.skip_outcome(order.skips, current_app.config["MAX_SKIPS"])
        order.skips += 1
        if outcome == rules.SkipOutcome.NO_SHOW:
            record_no_show(order, now)
        else:
            order.queue_rank = rules.skip_rank(waiting_ranks=_waiting_ranks(schedule_id))
            order.set_status(OrderStatus.CHECKED_IN)
            order.called_at = None
        _audit(by, "skip", order, OrderStatus.CALLED)
        _tell_the_next(schedule_id)
    publish(schedule_id)
    return order


def complete(schedule_id, order_id, now=None, by=None) -> Order:
    """就诊完成: the called patient has been seen."""
    now = now or clock.now()
    with transaction():
        _lock_schedule(schedule_id)
        order = _lock_order_of(schedule_id, order_id)
        if order.status == OrderStatus.COMPLETED:
            return order
        if order.status != OrderStatus.CALLED:
            raise Conflict("只能完成已叫号的患者", code="not_called")
        order.set_status(OrderStatus.COMPLETED)
        order.completed_at = now
        _audit(by, "complete", order, OrderStatus.CALLED)
    publish(schedule_id)
    return order


def mark_no_show(schedule_id, order_id, now=None, by=None) -> Order:
    """爽约: staff mark a patient who is not there (called, waiting or never checked in) as a
    no-show (a strike)."""
    now = now or clock.now()
    with transaction():
        _lock_schedule(schedule_id)
        order = _lock_order_of(schedule_id, order_id)
        was = order.status
        if was not in (OrderStatus.BOOKED, OrderStatus.CHECKED_IN, OrderStatus.CALLED):
            raise Conflict("该患者当前状态不能标记爽约", code="not_markable")
        record_no_show(order, now)
        _audit(by, "no_show", order, was)
        _tell_the_next(schedule_id)
    publish(schedule_id)
    return order


def _audit(by, action, order, was):
    if by is not None:
        audit.record(
            by, action, order, before={"status": str(was)}, after={"status": str(order.status)}
        )


def _tell_the_next(schedule_id):
    """叫号提醒 to each waiting patient with few enough ahead (once per order; in the caller's
    transaction, after its change is flushed)."""
    db.session.flush()
    threshold = current_app.config["QUEUE_CALLED_AHEAD"]
    waiting = db.session.execute(
        sa.select(Order.id, Order.account_id)
        .where(Order.schedule_id == schedule_id, Order.status == OrderStatus.CHECKED_IN)
        .order_by(Order.queue_rank, Order.id)
        .limit(threshold + 1)
    ).all()
    for ahead, (order_id, account_id) in enumerate(waiting):
        if rules.should_notify_called(ahead=ahead, threshold=threshold):
            outbox.queue_called(order_id, account_id, ahead)


# --- the place a patient sees --------------------------------------------------------------------


def queue_place(account_id, order_id) -> QueuePlace:
    """Where the account's order is in its queue: from Redis, else from MySQL (and the queue is
    written to Redis for the next question)."""
    seen, _ = waiting.read(order_id)
    if seen is not None:
        if seen.entry.account_id != account_id:
            raise NotFound("未找到该挂号单")
        return _seen_place(order_id, seen)
    order = db.session.scalar(
        sa.select(Order).where(Order.id == order_id, Order.account_id == account_id)
    )
    if order is None:
        db.session.rollback()
        raise NotFound("未找到该挂号单")
    entries, with_doctor, pace = _queue_of(order.schedule_id)
    ahead = sum(
        1
        for e in entries
        if e.status == OrderStatus.CHECKED_IN
        and order.queue_rank is not None
        and e.rank < order.queue_rank
    )
    place = _place(order.id, order.status, ahead, with_doctor, pace, order.called_at)
    db.session.rollback()
    if order.visit_date == clock.business_date(clock.now()):
        waiting.publish(order.schedule_id, entries, with_doctor, pace)
    return place


def cached_place(principal, order_id) -> QueuePlace | None:
    """The place, from Redis in one round trip (the caller's token state and the order's entry),
    for a caller whose token signature was verified; None whenever anything is missing or in
    doubt (queue_place then answers, errors included)."""
    seen, state = waiting.read(order_id, along=auth.state_key(principal.id))
    if seen is None or seen.entry.account_id != principal.id:
        return None
    try:
        auth.ensure_read(principal, state)
    except AppError:
        return None
    return _seen_place(order_id, seen)


def _seen_place(order_id, seen: waiting.Seen) -> QueuePlace:
    called_at = datetime.fromisoformat(seen.entry.called_at) if seen.entry.called_at else None
    status = OrderStatus(seen.entry.status)
    return _place(order_id, status, seen.ahead, seen.with_doctor, seen.pace, called_at)


def _place(order_id, status, ahead, with_doctor, pace, called_at) -> QueuePlace:
    if status != OrderStatus.CHECKED_IN:
        wait = 0 if status == OrderStatus.CALLED else None
        return QueuePlace(order_id, status, None, None, called_at, wait)
    return QueuePlace(
        order_id,
        status,
        ahead + 1,
        ahead,
        called_at,
        rules.wait_at_pace(ahead=ahead + with_doctor, pace=pace),
    )


def _queue_of(schedule_id) -> tuple[list[waiting.Entry], int, float]:
    """The schedule's queue from MySQL: its day's orders, how many are with the doctor, the pace."""
    schedule = db.session.get(Schedule, schedule_id)
    rows = db.session.execute(
        sa.select(
            Order.id,
            Order.account_id,
            Order.status,
            Order.queue_rank,
            Order.called_at,
            Order.completed_at,
        )
        .where(Order.schedule_id == schedule_id, Order.status.in_(BOOKED_OR_LATER))
        .order_by(Order.id)
    ).all()
    entries = [
        waiting.Entry(
            row.id,
            row.account_id,
            str(row.status),
            row.queue_rank if row.status == OrderStatus.CHECKED_IN else None,
            clock.to_china(row.called_at).isoformat() if row.called_at else None,
        )
        for row in rows
    ]
    observed = [
        rules.consultation_minutes(row.called_at, row.completed_at)
        for row in sorted(
            (r for r in rows if r.status == OrderStatus.COMPLETED and r.called_at),
            key=lambda r: r.completed_at,
        )
    ]
    pace = rules.minutes_per_patient(
        observed_minutes=observed, default_minutes=schedule.minutes_per_patient
    )
    with_doctor = sum(1 for row in rows if row.status == OrderStatus.CALLED)
    return entries, with_doctor, pace


def publish(schedule_id):
    """Write the schedule's queue to Redis, as committed."""
    entries, with_doctor, pace = _queue_of(schedule_id)
    db.session.rollback()
    waiting.publish(schedule_id, entries, with_doctor, pace)


def queue_of(schedule_id) -> list[Order]:
    """The schedule's orders of the day in queue order, for the staff console: called first,
    then those waiting by rank, then the booked not yet arrived, then those done."""
    orders = db.session.scalars(
        sa.select(Order).where(Order.schedule_id == schedule_id, Order.status.in_(BOOKED_OR_LATER))
    ).all()
    order_of = {
        OrderStatus.CALLED: 0,
        OrderStatus.CHECKED_IN: 1,
        OrderStatus.BOOKED: 2,
        OrderStatus.COMPLETED: 3,
        OrderStatus.NO_SHOW: 4,
    }
    return sorted(orders, key=lambda o: (order_of[o.status], o.queue_rank or 0, o.seq))
