"""Periodic jobs: ``python -m workers.cron`` enqueues them on schedule; workers run them.

Every periodic job is declared once, in PERIODIC, with a stable name; each goes to the queue of
its module (app/infra/queue.py). Cron expressions are read in the process's local time: run it
with ``TZ=Asia/Shanghai`` (make run and the systemd unit do).
"""

from dataclasses import dataclass

from rq.cron import CronScheduler

from app import create_app
from app.infra.queue import get_queue, queue_of
from workers import (
    clinic,
    messages,
    orders,
    payments,
    reconciliation,
    stats,
    templates,
    visits,
)

MINUTE = 60
HOUR = 3600


@dataclass(frozen=True)
class Periodic:
    """A job the cron scheduler enqueues every ``interval`` seconds."""

    name: str
    func: object
    interval: int
    timeout: int = 120


PERIODIC = (
    Periodic("sweep-expired-holds", orders.sweep_expired_holds, MINUTE),
    Periodic("resync-gates", orders.resync_gates, MINUTE),
    Periodic("refund-sweep", payments.refund_sweep, MINUTE),
    Periodic("resend-stuck-messages", messages.resend_stuck, 2 * MINUTE),
    Periodic("resume-stop-clinics", clinic.resume_stops, 5 * MINUTE, timeout=600),
    Periodic("queue-visit-reminders", visits.queue_reminders, 5 * MINUTE),
    Periodic("mark-no-shows", visits.mark_no_shows, 5 * MINUTE),
    # Does nothing before 10:00 or once yesterday is done: hourly is "once, after 10:00".
    Periodic("reconcile-yesterday", reconciliation.reconcile_yesterday, HOUR, timeout=600),
    Periodic("generate-schedules", templates.generate_schedules, HOUR),
    Periodic("rollup-stats", stats.rollup_recent, 15 * MINUTE),
)


def dotted(func) -> str:
    """A job function's dotted name, as the queues know it."""
    return f"{func.__module__}.{func.__qualname__}"


def main():
    """Run the cron scheduler until stopped."""
    app = create_app()
    with app.app_context():
        scheduler = CronScheduler(connection=get_queue().connection)
        for job in PERIODIC:
            scheduler.register(
                job.func,
                queue_of(dotted(job.func)),
                interval=job.interval,
                job_timeout=job.timeout,
                name=job.name,
            )
        scheduler.start()


if __name__ == "__main__":
    main()
