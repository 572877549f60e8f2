"""科室、医生与医院规则: staff edit the catalogue patients browse — a department's eligibility,
symptom keywords and location; a doctor's title, specialty and default fee; a hospital's booking
rules and refund tiers. Each change is scoped, validated, audited with its before and after, and
drops the cached public answers it changes once it is committed."""

import math
from dataclasses import dataclass
from datetime import time

import sqlalchemy as sa

from app.domain import refunds
from app.domain.enums import DoctorTitle, SexRule
from app.domain.search import split_keywords
from app.domain.staff import Scope
from app.errors import AppError, ValidationFailed
from app.extensions import db, redis_store
from app.infra import cache
from app.models import Department, Doctor, Hospital
from app.services import audit
from app.services.scoping import get_in_scope, scoped
from app.services.transaction import transaction

MAX_AGE = 150
KEYWORD_MAX = 20
SYMPTOMS_MAX = 500  # the column's length
LOCATION_MAX = 100
SPECIALTY_MAX = 200
FEE_MAX_FEN = 9_999_999  # ¥99,999.99
WINDOW_DAYS = (1, 60)  # ck_hospital_window
HOLD_MINUTES = (1, 120)  # ck_hospital_hold
TIERS_MAX = 120  # the column's length
TIER_HOURS_MAX = 24 * 60  # the longest booking window's hours


def _not_for_doctors(scope: Scope):
    # A doctor's scope may read their own page; only admins change the catalogue.
    if scope.doctor_id is not None:
        raise AppError("没有权限进行该操作", code="forbidden", status=403)


# --- departments ---------------------------------------------------------------------------------


def departments(scope: Scope) -> list[Department]:
    """The departments ``scope`` may see, by hospital and the order patients see them in."""
    return db.session.scalars(
        scoped(
            sa.select(Department).order_by(
                Department.hospital_id, Department.sort_order, Department.id
            ),
            Department,
            scope,
        )
    ).all()


def doctors_of(scope: Scope, department: Department) -> list[Doctor]:
    """The doctors of a department that ``scope`` may see."""
    return db.session.scalars(
        scoped(
            sa.select(Doctor).where(Doctor.department_id == department.id).order_by(Doctor.id),
            Doctor,
            scope,
        )
    ).all()


def symptom_keywords(text: str | None) -> list[str]:
    """Symptom keywords as typed (separated by commas, 、 or spaces): trimmed and deduplicated;
    validation_error unless each is 1–KEYWORD_MAX characters and together they fit the column."""
    words = split_keywords(text)
    long = [word for word in words if len(word) > KEYWORD_MAX]
    if long:
        raise ValidationFailed.on("symptoms", f"每个症状关键词最多 {KEYWORD_MAX} 个字：{long[0]}")
    if len("、".join(words)) > SYMPTOMS_MAX:
        raise ValidationFailed.on("symptoms", f"症状关键词合计最多 {SYMPTOMS_MAX} 个字")
    return words


def _department_values(department: Department) -> dict:
    return {
        "sex_rule": str(department.sex_rule),
        "min_age": department.min_age,
        "max_age": department.max_age,
        "symptoms": department.symptoms,
        "location": department.location,
    }


def change_department(
    scope: Scope,
    department_id,
    *,
    sex_rule,
    min_age: int | None,
    max_age: int | None,
    symptoms: str,
    location: str,
    staff=None,
) -> Department:
    """Change who a department sees (sex, an age range in whole years, either end open), the
    symptom keywords patients find it by, and where it is."""
    _not_for_doctors(scope)
    try:
        sex_rule = SexRule(sex_rule)
    except ValueError:
        raise ValidationFailed.on("sex_rule", "请选择性别限制：不限、仅女性或仅男性") from None
    for field, age in (("min_age", min_age), ("max_age", max_age)):
        if age is not None and not 0 <= age <= MAX_AGE:
            raise ValidationFailed.on(field, f"年龄须为 0–{MAX_AGE} 岁")
    if min_age is not None and max_age is not None and min_age > max_age:
        raise ValidationFailed.on("max_age", "最小年龄不能大于最大年龄")
    words = symptom_keywords(symptoms)
    location = (location or "").strip()
    if len(location) > LOCATION_MAX:
        raise ValidationFailed.on("location", f"位置最多 {LOCATION_MAX} 个字")
    with transaction():
        department = get_in_scope(Department, department_id, scope, lock=True)
        before = _department_values(department)
        department.sex_rule = sex_rule
        department.min_age = min_age
        department.max_age = max_age
        department.symptoms = "、".join(words)
        department.location = location
        audit.record(staff, "change_department", department, before, _department_values(department))
    # The hospital's tree and the search show a department's rules, keywords and place.
    cache.invalidate(cache.CATALOGUE)
    return department


# --- doctors -------------------------------------------------------------------------------------


def _doctor_values(doctor: Doctor) -> dict:
    return {"title": str(doctor.title), "specialty": doctor.specialty, "fee_fen": doctor.fee_fen}


def change_doctor(
    scope: Scope, doctor_id, *, title, specialty: str, fee_fen: int, staff=None
) -> Doctor:
    """Change a doctor's title, specialty and default fee (which only schedules made from now
    on take; existing schedules keep theirs)."""
    _not_for_doctors(scope)
    try:
        title = DoctorTitle(title)
    except ValueError:
        raise ValidationFailed.on("title", "请选择职称") from None
    specialty = (specialty or "").strip()
    if len(specialty) > SPECIALTY_MAX:
        raise ValidationFailed.on("specialty", f"擅长最多 {SPECIALTY_MAX} 个字")
    if not 0 <= fee_fen <= FEE_MAX_FEN:
        raise ValidationFailed.on("fee", "挂号费须为 0–99999.99 元")
    with transaction():
        doctor = get_in_scope(Doctor, doctor_id, scope, lock=True)
        before = _doctor_values(doctor)
        doctor.title = title
        doctor.specialty = specialty
        doctor.fee_fen = fee_fen
        audit.record(staff, "change_doctor", doctor, before, _doctor_values(doctor))
    # The doctor's page and the search (catalogue), and the schedule lists that name the
    # doctor with their title and specialty (the department's availability).
    with redis_store.batch(f"catalogue cache invalidation of doctor {doctor.id}") as pipe:
        cache.invalidate(cache.CATALOGUE, pipe)
        cache.invalidate_department(doctor.department_id, pipe)
    return doctor


# --- hospitals -----------------------------------------------------------------------------------


def hospitals(scope: Scope) -> list[Hospital]:
    """The hospitals ``scope`` may see, by id."""
    return db.session.scalars(
        scoped(sa.select(Hospital).order_by(Hospital.id), Hospital, scope)
    ).all()


def hospital_in_scope(scope: Scope, hospital_id=None) -> Hospital:
    """The hospital a hospital admin's rules page shows (their own unless another is named,
    which is then not found); for a platform admin the one named."""
    _not_for_departments(scope)
    if hospital_id is None:
        hospital_id = scope.hospital_id
    return get_in_scope(Hospital, hospital_id, scope)


def _not_for_departments(scope: Scope):
    # A hospital's rules are its admins' (and the platform's), not a department's.
    if scope.department_id is not None:
        raise AppError("没有权限进行该操作", code="forbidden", status=403)


@dataclass(frozen=True)
class TierRow:
    """A refund tier as the form has it: from ``hours`` before the visit, keep ``percent`` %
    of the fee (None: no cancelling from then on)."""

    hours: float
    percent: int | None


def refund_tiers(rows) -> tuple[refunds.RefundTier, ...]:
    """The refund tiers of ``rows`` (TierRow), most hours first; validation_error unless the
    hours are distinct and ≥ 0, each percent is 0–100 and a tier starts at 0 hours."""
    if not rows:
        raise ValidationFailed.on("refund_tiers", "请至少填写一档退款规则（从 0 小时起）")
    hours = [row.hours for row in rows]
    if any(not (math.isfinite(h) and 0 <= h <= TIER_HOURS_MAX) for h in hours):
        raise ValidationFailed.on("refund_tiers", f"距就诊的小时数须为 0–{TIER_HOURS_MAX}")
    if len(set(hours)) != len(hours):
        raise ValidationFailed.on("refund_tiers", "各档的小时数不能重复")
    if any(row.percent is not None and not 0 <= row.percent <= 100 for row in rows):
        raise ValidationFailed.on("refund_tiers", "手续费比例须为 0–100")
    if 0 not in hours:
        raise ValidationFailed.on("refund_tiers", "须有一档从 0 小时起（就诊前最后时段的规则）")
    try:
        return refunds.validate_tiers(refunds.RefundTier(r.hours, r.percent) for r in rows)
    except refunds.InvalidTiers:
        raise ValidationFailed({"refund_tiers": ["退款规则无效"]}, message="退款规则无效") from None


def _hospital_values(hospital: Hospital) -> dict:
    return {
        "release_time": hospital.release_time.strftime("%H:%M"),
        "booking_window_days": hospital.booking_window_days,
        "hold_minutes": hospital.hold_minutes,
        "refund_tiers": hospital.refund_tiers,
    }


def change_hospital_rules(
    scope: Scope,
    hospital_id,
    *,
    release_time: time,
    booking_window_days: int,
    hold_minutes: int,
    tiers,
    staff=None,
) -> Hospital:
    """Change a hospital's booking rules: the time of day numbers are released, how many days
    ahead they are, how long a hold waits for payment, and the refund tiers. Schedules already
    made keep their release moment; holds and cancellations from now on follow the new rules."""
    _not_for_doctors(scope)
    _not_for_departments(scope)
    low, high = WINDOW_DAYS
    if not low <= booking_window_days <= high:
        raise ValidationFailed.on("booking_window_days", f"可预约天数须为 {low}–{high} 天")
    low, high = HOLD_MINUTES
    if not low <= hold_minutes <= high:
        raise ValidationFailed.on("hold_minutes", f"锁号时长须为 {low}–{high} 分钟")
    text = refunds.format_tiers(refund_tiers(tiers))
    if len(text) > TIERS_MAX:
        raise ValidationFailed.on("refund_tiers", "退款规则档数过多")
    with transaction():
        hospital = get_in_scope(Hospital, hospital_id, scope, lock=True)
        before = _hospital_values(hospital)
        hospital.release_time = release_time.replace(second=0, microsecond=0)
        hospital.booking_window_days = booking_window_days
        hospital.hold_minutes = hold_minutes
        hospital.refund_tiers = text
        audit.record(staff, "change_hospital_rules", hospital, before, _hospital_values(hospital))
    # The hospital's page shows its booking rules.
    cache.invalidate(cache.CATALOGUE)
    return hospital


def tier_rows(hospital: Hospital) -> list[TierRow]:
    """A hospital's refund tiers as the form's rows, most hours first."""
    return [TierRow(t.min_hours, t.fee_percent) for t in refunds.parse_tiers(hospital.refund_tiers)]
