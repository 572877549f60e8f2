"""What platform staff watch and act on: the job queues with their failed jobs, and the outbox."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from app.domain.messages import MessageStatus
from app.errors import Conflict, NotFound
from app.extensions import db
from app.infra import queue
from app.models import Message
from app.services import audit
from app.services.messages import outbox
from app.services.transaction import lock_one, transaction

FAILED_SHOWN = 50


@dataclass(frozen=True)
class QueueState:
    """One job queue: how many wait, run, are scheduled, have failed."""

    name: str
    queued: int
    started: int
    scheduled: int
    failed: int


@dataclass(frozen=True)
class FailedJob:
    """A job in a queue's failed registry, with the last line of its error."""

    id: str
    queue: str
    func: str
    args: str
    error: str
    ended_at: datetime | None


def queues() -> list[QueueState]:
    """Every queue's counts, most urgent first."""
    return [
        QueueState(
            q.name,
            q.count,
            StartedJobRegistry(queue=q).count,
            ScheduledJobRegistry(queue=q).count,
            FailedJobRegistry(queue=q).count,
        )
        for q in queue.get_queues()
    ]


def failed_jobs() -> list[FailedJob]:
    """The latest failed jobs of every queue."""
    found = []
    for q in queue.get_queues():
        registry = FailedJobRegistry(queue=q)
        for job_id in registry.get_job_ids(0, FAILED_SHOWN - 1):
            try:
                job = Job.fetch(job_id, connection=q.connection)
            except NoSuchJobError:
                continue
            result = job.latest_result()
            lines = ((result.exc_string if result else None) or "").strip().splitlines()
            found.append(
                FailedJob(
                    job.id,
                    q.name,
                    job.func_name,
                    repr(job.args)[:120],
                    lines[-1][:300] if lines else "",
                    job.ended_at,
                )
            )
    return found


def requeue_failed(job_id, staff):
    """Put a failed job back on its queue (after what made it fail was fixed)."""
    for q in queue.get_queues():
        registry = FailedJobRegistry(queue=q)
        if job_id in registry.get_job_ids():
            registry.requeue(job_id)
            with transaction():
                audit.record(staff, "requeue_job", "job", after={"job": job_id, "queue": q.name})
            return q.name
    raise NotFound("未找到该失败任务")


def messages(status=None, limit=100) -> list[Message]:
    """The outbox's messages, newest first; those not sent (failed, pending, sending) unless a
    status is given."""
    wanted = (
        [MessageStatus(status)]
        if status
        else [MessageStatus.FAILED, MessageStatus.PENDING, MessageStatus.SENDING]
    )
    return db.session.scalars(
        sa.select(Message)
        .where(Message.status.in_(wanted))
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()


def resend(message_id, staff) -> Message:
    """Send a failed or skipped message again (e.g. once its template is configured)."""
    with transaction():
        message = lock_one(sa.select(Message).where(Message.id == message_id))
        if message is None:
            raise NotFound("未找到该消息")
        if message.status not in (MessageStatus.FAILED, MessageStatus.SKIPPED):
            raise Conflict("只能重发失败或未发送的消息", code="message_not_failed")
        before = {"status": str(message.status), "last_error": message.last_error}
        message.status = MessageStatus.PENDING
        message.attempts = 0
        audit.record(staff, "resend_message", message, before, {"status": "pending"})
    outbox.send_later(message.id)
    return message
