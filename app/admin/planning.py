"""The admin's pages of the week's plan: weekly templates (排班模板) and doctors' requests to stop
or change a clinic (停诊 / 调诊申请). Reads go through the scoping helper, changes through the
services, as in views.py."""

from datetime import time

from flask import abort, g, redirect, render_template, request, url_for
from flask_login import login_required

from app.admin import forms
from app.admin.blueprint import bp
from app.admin.views import scope
from app.domain.enums import Period
from app.domain.planning import WEEKDAYS, RequestKind
from app.domain.staff import Scope, StaffRole
from app.errors import AppError
from app.models import Department, Doctor, Schedule
from app.services import schedule_requests, schedule_templates, schedules, scoping


def _admins_only():
    """Templates and decisions are an admin's; a doctor's session is refused (403)."""
    if g.staff.role == StaffRole.DOCTOR:
        abort(403)


# --- weekly templates (排班模板) -----------------------------------------------------------------


@bp.get("/templates")
@login_required
def templates_page(error=None, message=None, status=200):
    """排班模板: a department's weekly clinics, a new one, and making their schedules now."""
    _admins_only()
    departments = schedules.departments(scope())
    shown = None
    if departments:
        department_id = request.values.get("department", type=int) or departments[0].id
        shown = schedule_templates.of_department(scope(), department_id)
    return (
        render_template(
            "admin/templates.html",
            shown=shown,
            departments=departments,
            periods=list(Period),
            weekdays=WEEKDAYS,
            error=error,
            message=message,
        ),
        status,
    )


def _back_to(department_id, **kwargs):
    return redirect(url_for("admin.templates_page", department=department_id, **kwargs))


@bp.post("/templates")
@login_required
def create_template():
    """A new weekly clinic of a doctor in scope."""
    _admins_only()
    form = request.form
    try:
        template = schedule_templates.add_template(
            scope(),
            forms.number(form.get("doctor_id"), "doctor_id", "请选择医生", required=True),
            forms.number(form.get("weekday"), "weekday", "请选择星期几", required=True),
            form.get("period"),
            forms.value(time, form.get("start_time"), "start_time"),
            forms.value(time, form.get("end_time"), "end_time"),
            forms.number(form.get("capacity"), "capacity", "请填写号源数", required=True),
            forms.yuan_in_fen(form.get("fee")) if form.get("fee") else None,
            staff=g.staff,
        )
    except AppError as refused:
        if refused.status == 404:
            raise
        return templates_page(error=refused.message, status=refused.status)
    doctor = scoping.get_in_scope(Doctor, template.doctor_id, Scope())
    return _back_to(doctor.department_id)


@bp.post("/templates/<int:template_id>/deactivate")
@login_required
def deactivate_template(template_id):
    """停用: the template makes no more schedules."""
    _admins_only()
    template = schedule_templates.deactivate_template(scope(), template_id, staff=g.staff)
    doctor = scoping.get_in_scope(Doctor, template.doctor_id, Scope())
    return _back_to(doctor.department_id)


@bp.post("/templates/generate")
@login_required
def generate_now():
    """立即生成: the department's coming schedules from its templates, now."""
    _admins_only()
    department = scoping.get_in_scope(Department, request.form.get("department", type=int), scope())
    made = schedule_templates.generate_from_templates(department_id=department.id)
    return templates_page(message=f"已生成 {len(made)} 个出诊")


# --- doctors' requests (停诊 / 调诊申请) ----------------------------------------------------------


def _request_page(schedule, error=None, message=None, status=200):
    requests = schedule_requests.of_schedule(schedule.id)
    return (
        render_template(
            "admin/schedule_request.html",
            schedule=schedule,
            doctor=schedule.doctor,
            requests=requests,
            pending=schedule_requests.pending_of(schedule.id),
            kinds=list(RequestKind),
            error=error,
            message=message,
        ),
        status,
    )


def _doctors_only():
    """Requests are made by the doctor of the schedule; an admin changes it directly (403)."""
    if g.staff.role != StaffRole.DOCTOR:
        abort(403)


@bp.get("/schedules/<int:schedule_id>/request")
@login_required
def request_page(schedule_id):
    """停诊 / 调诊申请 of one of the doctor's schedules, and its requests so far."""
    _doctors_only()
    return _request_page(scoping.get_in_scope(Schedule, schedule_id, scope()))


@bp.post("/schedules/<int:schedule_id>/request")
@login_required
def make_request(schedule_id):
    """A doctor asks to stop the clinic or change its capacity or its times."""
    _doctors_only()
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    form = request.form
    try:
        capacity = form.get("capacity")
        start, end = form.get("start_time"), form.get("end_time")
        schedule_requests.make_request(
            scope(),
            schedule.id,
            form.get("kind"),
            form.get("reason"),
            forms.number(capacity, "capacity", "请填写新的号源数"),
            start=forms.value(time, start, "start_time") if start else None,
            end=forms.value(time, end, "end_time") if end else None,
            staff=g.staff,
        )
    except AppError as refused:
        if refused.status == 404:
            raise
        return _request_page(schedule, error=refused.message, status=refused.status)
    return _request_page(schedule, message="申请已提交，等待科室审批")


@bp.get("/requests")
@login_required
def requests_page(error=None, message=None, status=200):
    """待审批申请: the doctors' pending requests in scope."""
    _admins_only()
    requests = schedule_requests.pending(scope())
    return (
        render_template(
            "admin/requests.html",
            requests=requests,
            error=error,
            message=message,
        ),
        status,
    )


@bp.post("/requests/<int:request_id>/approve")
@login_required
def approve_request(request_id):
    """批准: the stop or the change is made by its service."""
    _admins_only()
    try:
        decision = schedule_requests.approve(
            scope(), request_id, request.form.get("note", ""), staff=g.staff
        )
    except AppError as refused:
        if refused.status == 404:
            raise
        return requests_page(error=refused.message, status=refused.status)
    return requests_page(message=_approved(decision))


def _approved(decision) -> str:
    """What an approval did, in the admin's words."""
    stopped, asked = decision.stopped, decision.request
    if stopped is not None:
        return f"已批准并停诊：取消 {stopped.cancelled} 个挂号，发起退款 {stopped.refunds} 笔"
    done = []
    if asked.capacity is not None:
        done.append(f"号源数调整为 {asked.capacity}")
    if asked.start_time is not None:
        done.append(f"出诊时间调整为 {asked.start_time:%H:%M}–{asked.end_time:%H:%M}")
    return "已批准：" + "，".join(done)


@bp.post("/requests/<int:request_id>/refuse")
@login_required
def refuse_request(request_id):
    """驳回, with a note for the doctor."""
    _admins_only()
    try:
        schedule_requests.refuse(scope(), request_id, request.form.get("note", ""), staff=g.staff)
    except AppError as refused:
        if refused.status == 404:
            raise
        return requests_page(error=refused.message, status=refused.status)
    return requests_page(message="已驳回")
