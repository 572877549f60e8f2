"""No-shows (爽约): booked orders whose patient never came, and the block that repeated ones
earn (new holds refused with 403 account_blocked until it ends)."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain import visits as rules
from app.domain.orders import OrderStatus
from app.extensions import db
from app.models import Account, Order, Schedule
from app.services.transaction import lock_one, transaction

BATCH = 200


def record_no_show(order: Order, now):
    """The order is a no-show; its account blocked if that makes enough strikes in the window
    (the caller holds the order's lock and commits)."""
    config = current_app.config
    order.set_status(OrderStatus.NO_SHOW)
    order.closed_at = now
    db.session.flush()
    account = lock_one(sa.select(Account).where(Account.id == order.account_id))
    since = now - timedelta(days=config["NO_SHOW_WINDOW_DAYS"])
    times = db.session.scalars(
        sa.select(Order.closed_at).where(
            Order.account_id == order.account_id,
            Order.status == OrderStatus.NO_SHOW,
            Order.closed_at > since,
        )
    ).all()
    until = rules.blocked_until(
        strikes=rules.strikes_in_window(times, now=now, window_days=config["NO_SHOW_WINDOW_DAYS"]),
        threshold=config["NO_SHOW_STRIKES"],
        now=now,
        block_days=config["NO_SHOW_BLOCK_DAYS"],
    )
    if until is not None and (account.blocked_until is None or account.blocked_until < until):
        account.blocked_until = until


def mark_no_shows(now=None, batch=BATCH) -> int:
    """Booked orders whose period ended NO_SHOW_GRACE_MINUTES ago without a check-in become
    no-shows; catches every period missed before. Returns how many were marked."""
    now = now or clock.now()
    grace_minutes = current_app.config["NO_SHOW_GRACE_MINUTES"]
    # Periods that ended at or before this moment, China time, are due.
    cutoff = clock.to_china(now - timedelta(minutes=grace_minutes))
    candidates = db.session.execute(
        sa.select(Order.id, Schedule.date, Schedule.end_time)
        .join(Schedule, Schedule.id == Order.schedule_id)
        .where(
            Order.status == OrderStatus.BOOKED,
            sa.or_(
                Schedule.date < cutoff.date(),
                sa.and_(Schedule.date == cutoff.date(), Schedule.end_time <= cutoff.time()),
            ),
        )
        .order_by(Order.id)
        .limit(batch)
    ).all()
    db.session.rollback()
    due = [
        order_id
        for order_id, day, end in candidates
        if rules.no_show_due(
            period_end=datetime.combine(day, end, tzinfo=clock.CHINA_TZ),
            now=now,
            grace_minutes=grace_minutes,
        )
    ]
    marked = 0
    for order_id in due:
        with transaction():
            order = lock_one(sa.select(Order).where(Order.id == order_id))
            if order is not None and order.status == OrderStatus.BOOKED:
                record_no_show(order, now)
                marked += 1
    return marked
