"""The admin's catalogue pages: departments (eligibility, symptom keywords, location), doctors
(title, specialty, default fee) and a hospital's booking rules and refund tiers. Each page loads
its row through the scoping helper and changes it only through app/services/catalogue_admin.py."""

from datetime import datetime

from flask import abort, g, render_template, request
from flask_login import login_required

from app.admin import forms
from app.admin.blueprint import bp
from app.admin.views import scope
from app.domain.enums import DoctorTitle, SexRule
from app.domain.staff import StaffRole
from app.errors import AppError, ValidationFailed
from app.models import Department, Doctor
from app.services import catalogue_admin, scoping

SEX_LABELS = {SexRule.ANY: "不限", SexRule.FEMALE: "仅女性", SexRule.MALE: "仅男性"}


def _not_doctors():
    """The catalogue is edited by admins; a doctor's session is refused (403)."""
    if g.staff.role == StaffRole.DOCTOR:
        abort(403)


def _reraise_out_of_bounds(refused: AppError):
    """Out of scope (404) and not allowed (403) answer as such; other refusals re-render."""
    if refused.status in (403, 404):
        raise refused


# --- departments (科室) ---------------------------------------------------------------------------


@bp.get("/departments")
@login_required
def departments_page():
    """科室: the departments in scope, each with its rules."""
    _not_doctors()
    return render_template(
        "admin/catalogue_departments.html",
        departments=catalogue_admin.departments(scope()),
        sex_labels=SEX_LABELS,
    )


def _department(department, error=None, message=None, status=200):
    return (
        render_template(
            "admin/catalogue_department.html",
            department=department,
            doctors=catalogue_admin.doctors_of(scope(), department),
            sex_labels=SEX_LABELS,
            error=error,
            message=message,
        ),
        status,
    )


@bp.get("/departments/<int:department_id>")
@login_required
def department_page(department_id):
    """A department: who it sees, its symptom keywords, where it is, and its doctors."""
    _not_doctors()
    return _department(scoping.get_in_scope(Department, department_id, scope()))


@bp.post("/departments/<int:department_id>")
@login_required
def change_department(department_id):
    """Save a department's eligibility, symptom keywords and location."""
    _not_doctors()
    form = request.form
    try:
        department = catalogue_admin.change_department(
            scope(),
            department_id,
            sex_rule=form.get("sex_rule", ""),
            min_age=forms.number(form.get("min_age"), "min_age", "年龄须为整数"),
            max_age=forms.number(form.get("max_age"), "max_age", "年龄须为整数"),
            symptoms=form.get("symptoms", ""),
            location=form.get("location", ""),
            staff=g.staff,
        )
    except AppError as refused:
        _reraise_out_of_bounds(refused)
        department = scoping.get_in_scope(Department, department_id, scope())
        return _department(department, error=refused.message, status=refused.status)
    return _department(department, message="已保存")


# --- doctors (医生) -------------------------------------------------------------------------------


def _doctor(doctor, error=None, message=None, status=200):
    return (
        render_template(
            "admin/catalogue_doctor.html",
            doctor=doctor,
            titles=list(DoctorTitle),
            can_edit=g.staff.role != StaffRole.DOCTOR,
            error=error,
            message=message,
        ),
        status,
    )


@bp.get("/doctors/<int:doctor_id>")
@login_required
def doctor_page(doctor_id):
    """A doctor: title, specialty, default fee (a doctor sees their own, without changing it)."""
    return _doctor(scoping.get_in_scope(Doctor, doctor_id, scope()))


@bp.post("/doctors/<int:doctor_id>")
@login_required
def change_doctor(doctor_id):
    """Save a doctor's title, specialty and default fee."""
    _not_doctors()
    form = request.form
    try:
        doctor = catalogue_admin.change_doctor(
            scope(),
            doctor_id,
            title=form.get("title", ""),
            specialty=form.get("specialty", ""),
            fee_fen=forms.yuan_in_fen(form.get("fee", "")),
            staff=g.staff,
        )
    except AppError as refused:
        _reraise_out_of_bounds(refused)
        doctor = scoping.get_in_scope(Doctor, doctor_id, scope())
        return _doctor(doctor, error=refused.message, status=refused.status)
    return _doctor(doctor, message="已保存")


# --- a hospital's booking rules (医院规则) -----------------------------------------------------


def _hospital(hospital, error=None, message=None, status=200):
    rows = catalogue_admin.tier_rows(hospital)
    return (
        render_template(
            "admin/catalogue_hospital.html",
            hospital=hospital,
            rows=rows + [None] * 2,  # two blank rows for a new tier
            error=error,
            message=message,
        ),
        status,
    )


@bp.get("/hospital")
@login_required
def hospital_page():
    """医院规则: release time, booking window, hold minutes and refund tiers (hospital admins
    their own; platform admins the one picked with ?id=)."""
    _not_doctors()
    hospital_id = request.args.get("id", type=int)
    if hospital_id is None and g.staff.role == StaffRole.PLATFORM_ADMIN:
        return render_template(
            "admin/catalogue_hospitals.html", hospitals=catalogue_admin.hospitals(scope())
        )
    return _hospital(catalogue_admin.hospital_in_scope(scope(), hospital_id))


def _tiers(form) -> list:
    rows = []
    for hours, percent in zip(
        form.getlist("tier_hours"), form.getlist("tier_percent"), strict=False
    ):
        if not hours.strip() and not percent.strip():
            continue  # a blank row
        message = "退款规则：小时数须为数字，手续费比例须为 0–100 的整数（留空为不可取消）"
        hours = forms.number(hours, "refund_tiers", message, kind=float, required=True)
        rows.append(catalogue_admin.TierRow(hours, forms.number(percent, "refund_tiers", message)))
    return rows


def _release_time(text):
    try:
        return datetime.strptime((text or "").strip(), "%H:%M").time()
    except ValueError:
        message = "放号时间须为 HH:MM"
        raise ValidationFailed.on("release_time", message) from None


@bp.post("/hospital")
@login_required
def change_hospital():
    """Save a hospital's booking rules and refund tiers."""
    _not_doctors()
    hospital = catalogue_admin.hospital_in_scope(scope(), request.args.get("id", type=int))
    form = request.form
    try:
        hospital = catalogue_admin.change_hospital_rules(
            scope(),
            hospital.id,
            release_time=_release_time(form.get("release_time")),
            booking_window_days=forms.number(
                form.get("booking_window_days"), "booking_window_days", "可预约天数须为整数"
            )
            or 0,
            hold_minutes=forms.number(form.get("hold_minutes"), "hold_minutes", "锁号时长须为整数")
            or 0,
            tiers=_tiers(form),
            staff=g.staff,
        )
    except AppError as refused:
        _reraise_out_of_bounds(refused)
        hospital = catalogue_admin.hospital_in_scope(scope(), hospital.id)
        return _hospital(hospital, error=refused.message, status=refused.status)
    return _hospital(hospital, message="已保存")
