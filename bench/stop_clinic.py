"""Benchmark: stopping a full clinic (停诊).

``python -m bench.stop_clinic`` makes a fresh database with one released schedule whose every
number is booked and paid by its own patient, then times ``stop_clinic`` as the CLI runs it:
the schedule stopped, every order cancelled with its full refund recorded and queued for the
channel, and every patient's notice written to the outbox and queued. The target: the whole
clinic handled within 60 seconds. A schedule holds at most 999 numbers, so that is the largest
clinic one stop handles.
"""

import argparse
import os
import sys
import time

import sqlalchemy as sa

from app.domain.messages import MessageKind
from app.domain.orders import CancelledBy, OrderStatus
from app.extensions import db
from app.infra import queue
from app.models import Message, Order, Refund
from app.services import stop_clinic
from bench import machine
from bench.seed import fresh_app, seed_booked_clinic

TARGET_SECONDS = 60


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="mysql+pymysql://root@127.0.0.1:3306/booking_bench_stop?charset=utf8mb4",
        help="a database this benchmark may drop and recreate",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8", help="flushed first")
    parser.add_argument("--orders", type=int, default=999, help="booked orders (1–999)")
    args = parser.parse_args(argv)
    if not 1 <= args.orders <= 999:
        parser.error("--orders must be 1–999 (a schedule's capacity)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.update(
        {"APP_ENV": "development", "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url}
    )
    app, _ = fresh_app(args.database_url, args.redis_url)
    with app.app_context():
        print(f"seeding {args.orders} booked and paid orders …", flush=True)
        schedule_id, _ = seed_booked_clinic(args.orders)
        db.session.remove()

        started = time.monotonic()
        result = stop_clinic.stop_clinic(schedule_id, "医生临时外出会诊", "bench")
        seconds = time.monotonic() - started

        orders = db.session.scalars(sa.select(Order).where(Order.schedule_id == schedule_id)).all()
        ids = [order.id for order in orders]
        refunds = db.session.scalar(
            sa.select(sa.func.count()).select_from(Refund).where(Refund.order_id.in_(ids))
        )
        notices = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.order_id.in_(ids), Message.kind == MessageKind.STOP_CLINIC)
        )
        queued = {name: queue.get_queue(name).count for name in queue.QUEUES}
        handled = all(
            o.status == OrderStatus.CANCELLED and o.cancelled_by == CancelledBy.HOSPITAL
            for o in orders
        )
        mariadb = db.session.scalar(sa.text("SELECT VERSION()"))
    print(
        f"machine: {machine.cpu_model()}, {os.cpu_count()} cores, "
        f"{machine.memory_gib():.0f} GiB; MariaDB {mariadb}"
    )
    print(
        f"stopped a clinic of {len(orders)} booked orders in {seconds:.1f} s "
        f"({len(orders) / seconds:.0f} orders/s): {result.cancelled} cancelled, "
        f"{refunds} refunds recorded ({result.refunded_fen} fen), {notices} notices; "
        f"jobs queued: {queued}"
    )
    complete = handled and refunds == len(orders) and notices == len(orders)
    fast = seconds <= TARGET_SECONDS
    print(
        f"target: every order handled {'met' if complete else 'NOT MET'}; "
        f"within {TARGET_SECONDS} s {'met' if fast else 'NOT MET'}"
    )
    return 0 if complete and fast else 1


if __name__ == "__main__":
    sys.exit(main())
