"""Periodic jobs: ``python -m workers.cron`` enqueues them on schedule; workers run them."""

from rq.cron import CronScheduler

from app import create_app
from app.queue import get_queue
from workers import orders, payments

SWEEP_SECONDS = 60


def main():
    """Run the cron scheduler until stopped."""
    app = create_app()
    with app.app_context():
        queue = get_queue()
        scheduler = CronScheduler(connection=queue.connection)
        for job in (orders.sweep_expired_holds, orders.resync_gates, payments.refund_sweep):
            scheduler.register(job, queue.name, interval=SWEEP_SECONDS, job_timeout=120)
        scheduler.start()


if __name__ == "__main__":
    main()
