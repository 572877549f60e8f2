"""Enqueueing background jobs by dotted name, so that ``app`` never imports ``workers``."""

import logging
from datetime import datetime

from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from app.extensions import redis_store

log = logging.getLogger(__name__)


# The queues by urgency, in the order a worker takes them: the booking's timers and its money
# (expiry, payments, refunds, stop-clinics) first, then the messages patients wait for, then
# everything else (sweeps, reconciliation, reminders being prepared).
BOOKING = "booking"
NOTIFICATIONS = "notifications"
DEFAULT = "default"
QUEUES = (BOOKING, NOTIFICATIONS, DEFAULT)
# Which queue a job goes to, by its module in workers/.
_QUEUE_OF_MODULE = {
    "workers.orders": BOOKING,
    "workers.payments": BOOKING,
    "workers.clinic": BOOKING,  # a stop-clinic's refunds
    "workers.messages": NOTIFICATIONS,
}


def queue_of(func_path) -> str:
    """The queue of a job given by dotted name (e.g. "workers.orders.expire_order")."""
    return _QUEUE_OF_MODULE.get(func_path.rpartition(".")[0], DEFAULT)


def get_queue(name=DEFAULT) -> Queue:
    """One of the app's RQ queues (QUEUES), on the app's Redis."""
    if name not in QUEUES:
        raise ValueError(f"no queue {name!r}")
    return Queue(name, connection=redis_store.client)


def get_queues() -> list[Queue]:
    """Every queue, most urgent first."""
    return [get_queue(name) for name in QUEUES]


def enqueue(
    func_path, *args, job_id=None, at: datetime | None = None, retry=None, pipe=None, **kwargs
):
    """Queue ``func_path`` (e.g. "workers.orders.expire_order") on its queue, now or at ``at``.

    Call only after the commit that made the job necessary; jobs re-check state themselves.
    A stable ``job_id`` makes a timer replaceable and cancellable. With ``pipe`` (a batch of
    after-commit effects, see RedisExtension.batch) the job is written when the batch is.
    """
    queue = get_queue(queue_of(func_path))
    options = {
        "job_id": job_id,
        "retry": retry or Retry(max=3, interval=[10, 60, 300]),
        "pipeline": pipe,
    }
    if at is not None:
        return queue.enqueue_at(at, func_path, *args, **options, **kwargs)
    return queue.enqueue(func_path, *args, **options, **kwargs)


def enqueue_quietly(func_path, *args, job_id=None, at=None, retry=None):
    """enqueue(), logging instead of raising when Redis is away: for jobs a periodic sweep or a
    re-run catches up on, so that a request never fails for them (the state is in MySQL)."""
    try:
        return enqueue(func_path, *args, job_id=job_id, at=at, retry=retry)
    except Exception as error:  # what the sweeps are for
        log.warning("%s%s not queued: %s", func_path, args, error)
        return None


def cancel_job(job_id):
    """Cancel a queued or scheduled job if it is there; jobs re-check their state anyway."""
    try:
        Job.fetch(job_id, connection=redis_store.client).cancel()
    except NoSuchJobError:
        return  # nothing to cancel
    except Exception as error:  # the job would find nothing to do
        log.info("job %s not cancelled: %s", job_id, error)
