"""Visit reminders (就诊提醒): the evening before, and shortly before the suggested arrival time;
only for orders still booked when the job runs, never twice (the outbox keys each by order)."""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain.orders import OrderStatus
from app.extensions import db
from app.models import Message, Order
from app.services.messages import outbox
from app.services.transaction import transaction

BATCH = 500


def _due(which, where, batch):
    """Booked orders matching ``where`` with no ``which`` reminder yet."""
    orders = db.session.scalars(
        sa.select(Order)
        .where(Order.status == OrderStatus.BOOKED, *where)
        .order_by(Order.id)
        .limit(batch * 2)
    ).all()
    keys = {f"visit_reminder:{which}:{order.id}": order for order in orders}
    done = set(db.session.scalars(sa.select(Message.event_key).where(Message.event_key.in_(keys))))
    return [order for key, order in keys.items() if key not in done][:batch]


def queue_reminders(now=None, batch=BATCH) -> int:
    """Write the reminders due now into the outbox; runs every 5 minutes. Returns how many."""
    now = now or clock.now()
    config = current_app.config
    local = clock.to_china(now)
    today = local.date()
    written = 0
    with transaction():
        if local.hour >= config["REMINDER_EVENING_HOUR"]:
            for order in _due("evening", [Order.visit_date == today + timedelta(days=1)], batch):
                written += outbox.visit_reminder(order, "evening") is not None
        soon = (local + timedelta(minutes=config["REMINDER_BEFORE_MINUTES"])).time()
        if soon > local.time():  # the window does not run past midnight
            window = [
                Order.visit_date == today,
                Order.suggested_time > local.time(),
                Order.suggested_time <= soon,
            ]
            for order in _due("before", window, batch):
                written += outbox.visit_reminder(order, "before") is not None
    return written
