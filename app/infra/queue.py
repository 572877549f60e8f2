"""Enqueueing background jobs by dotted name, so that ``app`` never imports ``workers``."""

import logging
from datetime import datetime

from flask import current_app
from rq import Queue, Retry

from app.extensions import redis_store

log = logging.getLogger(__name__)


def get_queue() -> Queue:
    """The app's RQ queue, on the app's Redis."""
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_store.client)


def enqueue(
    func_path, *args, job_id=None, at: datetime | None = None, retry=None, pipe=None, **kwargs
):
    """Queue ``func_path`` (e.g. "workers.orders.expire_order") now, or at ``at``.

    Call only after the commit that made the job necessary; jobs re-check state themselves.
    A stable ``job_id`` makes a timer replaceable and cancellable. With ``pipe`` (a batch of
    after-commit effects, see RedisExtension.batch) the job is written when the batch is.
    """
    queue = get_queue()
    options = {
        "job_id": job_id,
        "retry": retry or Retry(max=3, interval=[10, 60, 300]),
        "pipeline": pipe,
    }
    if at is not None:
        return queue.enqueue_at(at, func_path, *args, **options, **kwargs)
    return queue.enqueue(func_path, *args, **options, **kwargs)


def enqueue_quietly(func_path, *args, job_id=None, at=None):
    """enqueue(), logging instead of raising when Redis is away: for jobs a periodic sweep or a
    re-run catches up on, so that a request never fails for them (the state is in MySQL)."""
    try:
        return enqueue(func_path, *args, job_id=job_id, at=at)
    except Exception as error:  # what the sweeps are for
        log.warning("%s%s not queued: %s", func_path, args, error)
        return None


def cancel_job(job_id):
    """Cancel a queued or scheduled job if it is there; jobs re-check their state anyway."""
    try:
        job = get_queue().fetch_job(job_id)
        if job is not None:
            job.cancel()
    except Exception as error:  # the job would find nothing to do
        log.info("job %s not cancelled: %s", job_id, error)
