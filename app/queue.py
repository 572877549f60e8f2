"""Enqueueing background jobs by dotted name, so that ``app`` never imports ``workers``."""

from datetime import datetime

from flask import current_app
from rq import Queue, Retry

from app.extensions import redis_store


def get_queue() -> Queue:
    """The app's RQ queue, on the app's Redis."""
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_store.client)


def enqueue(func_path, *args, job_id=None, at: datetime | None = None, retry=None, **kwargs):
    """Queue ``func_path`` (e.g. "workers.orders.expire_order") now, or at ``at``.

    Call only after the commit that made the job necessary; jobs re-check state themselves.
    A stable ``job_id`` makes a timer replaceable and cancellable.
    """
    queue = get_queue()
    options = {"job_id": job_id, "retry": retry or Retry(max=3, interval=[10, 60, 300])}
    if at is not None:
        return queue.enqueue_at(at, func_path, *args, **options, **kwargs)
    return queue.enqueue(func_path, *args, **options, **kwargs)
