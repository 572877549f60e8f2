"""The admin's operations pages for platform admins: the job queues (with failed jobs put back)
and the outbox (with failed messages sent again). In the admin's own pages, behind its login
and CSRF, rather than rq-dashboard's, whose actions would each need wrapping for CSRF."""

from flask import abort, g, redirect, render_template, request, url_for
from flask_login import login_required

from app.admin.blueprint import bp
from app.domain.messages import MessageStatus
from app.domain.staff import StaffRole
from app.errors import AppError
from app.services import operations


def _platform_only():
    if g.staff.role != StaffRole.PLATFORM_ADMIN:
        abort(403)


@bp.get("/jobs")
@login_required
def jobs_page(error=None, message=None, status=200):
    """后台任务: each queue's counts and the latest failed jobs."""
    _platform_only()
    return (
        render_template(
            "admin/jobs.html",
            queues=operations.queues(),
            failed=operations.failed_jobs(),
            error=error,
            message=message,
        ),
        status,
    )


@bp.post("/jobs/<job_id>/requeue")
@login_required
def requeue_job(job_id):
    """重新排队: a failed job back on its queue."""
    _platform_only()
    try:
        name = operations.requeue_failed(job_id, g.staff)
    except AppError as refused:
        return jobs_page(error=refused.message, status=refused.status)
    return jobs_page(message=f"已重新排入 {name} 队列")


@bp.get("/outbox")
@login_required
def outbox_page(error=None, message=None, status=200):
    """消息: the outbox's messages not sent (or those of one status)."""
    _platform_only()
    wanted = request.args.get("status") or None
    if wanted not in (None, *MessageStatus):
        wanted = None
    return (
        render_template(
            "admin/outbox.html",
            messages=operations.messages(wanted),
            wanted=wanted,
            statuses=list(MessageStatus),
            error=error,
            message=message,
        ),
        status,
    )


@bp.post("/outbox/<int:message_id>/resend")
@login_required
def resend_message(message_id):
    """重发: a failed or unsent message sent again."""
    _platform_only()
    try:
        operations.resend(message_id, g.staff)
    except AppError as refused:
        if refused.status == 404:
            raise
        return outbox_page(error=refused.message, status=refused.status)
    return redirect(url_for("admin.outbox_page"))
