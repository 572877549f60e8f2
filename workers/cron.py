"""Periodic jobs: ``python -m workers.cron`` enqueues them on schedule; workers run them."""

from rq.cron import CronScheduler

from app import create_app
from app.infra.queue import get_queue
from workers import orders, payments, reconciliation

SWEEP_SECONDS = 60
HOURLY_SECONDS = 3600


def main():
    """Run the cron scheduler until stopped."""
    app = create_app()
    with app.app_context():
        queue = get_queue()
        scheduler = CronScheduler(connection=queue.connection)
        for job in (orders.sweep_expired_holds, orders.resync_gates, payments.refund_sweep):
            scheduler.register(job, queue.name, interval=SWEEP_SECONDS, job_timeout=120)
        # Does nothing before 10:00 or once yesterday is done: hourly is "once, after 10:00".
        scheduler.register(
            reconciliation.reconcile_yesterday, queue.name, interval=HOURLY_SECONDS, job_timeout=600
        )
        scheduler.start()


if __name__ == "__main__":
    main()
