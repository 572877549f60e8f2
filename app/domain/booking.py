"""Whether a patient may hold a number: the hospital's rules, in the order they are checked.

The service checks, in this order: the schedule (open, released, inside the window), that the
patient is the caller's (a 404, not a rule), eligibility, the account, then capacity. Each refusal
carries a stable code and a Chinese message for the patient; the service maps codes to HTTP
statuses. Everything here is pure: the caller gathers the facts.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.domain.enums import ScheduleStatus, SexRule
from app.domain.identity import age_on


class BookingRefused(Exception):
    """A rule says no: ``code`` for machines, ``message`` for the patient, ``extra`` details."""

    def __init__(self, code: str, message: str, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class Limits:
    """A hospital's per-account limits."""

    holds_per_day: int = 3
    departments_per_patient_per_day: int = 3


def check_schedule(
    *,
    now: datetime,
    today: date,
    status: ScheduleStatus,
    release_at: datetime,
    visit_date: date,
    visit_end: datetime,
    window_days: int,
) -> None:
    """Open, released, and inside the booking window, not yet over.

    The window runs from today to today + window_days: a visit day's numbers are released
    window_days before it, at the release time, and are bookable from that moment.
    """
    if status == ScheduleStatus.STOPPED:
        raise BookingRefused("schedule_stopped", "该医生本次出诊已停诊，请选择其他时段")
    if now < release_at:
        raise BookingRefused(
            "not_released", "该时段号源尚未开放，请在放号后预约", release_at=release_at
        )
    last_day = today + timedelta(days=window_days)
    if visit_date < today or visit_date > last_day or now >= visit_end:
        raise BookingRefused(
            "outside_booking_window", f"只能预约今天及之后 {window_days} 天内尚未结束的时段"
        )


def check_eligibility(
    *,
    sex_rule: SexRule,
    min_age: int | None,
    max_age: int | None,
    patient_sex: str,
    birth_date: date,
    visit_date: date,
) -> None:
    """The department's sex and age rules; age is taken on the visit date."""
    if sex_rule != SexRule.ANY and patient_sex != sex_rule:
        who = "女性" if sex_rule == SexRule.FEMALE else "男性"
        raise BookingRefused("not_eligible", f"该科室仅接诊{who}患者", reason="sex_restricted")
    if birth_date > visit_date:  # refused when typed, but stored data may hold one
        raise BookingRefused(
            "not_eligible",
            "就诊人的出生日期有误，请删除该就诊人后重新添加",
            reason="birth_date_invalid",
        )
    age = age_on(birth_date, visit_date)
    if min_age is not None and age < min_age:
        raise BookingRefused(
            "not_eligible", f"该科室仅接诊 {min_age} 岁及以上患者", reason="age_restricted"
        )
    if max_age is not None and age > max_age:
        raise BookingRefused(
            "not_eligible", f"该科室仅接诊 {max_age} 岁及以下患者", reason="age_restricted"
        )


def check_account(
    *,
    now: datetime,
    blocked_until: datetime | None,
    duplicate: bool,
    holds_today: int,
    departments_that_day: frozenset,
    department_id: int,
    limits: Limits,
) -> None:
    """Not blacklisted; one active order per patient, doctor and day; the per-account limits."""
    if blocked_until is not None and now < blocked_until:
        raise BookingRefused("account_blocked", "因多次爽约，账号暂时无法预约", until=blocked_until)
    if duplicate:
        raise BookingRefused("duplicate_booking", "该就诊人当天已预约该医生，请勿重复预约")
    if holds_today >= limits.holds_per_day:
        raise BookingRefused(
            "booking_limit",
            f"每个账号每天最多预约 {limits.holds_per_day} 次",
            limit="holds_per_day",
        )
    if (
        department_id not in departments_that_day
        and len(departments_that_day) >= limits.departments_per_patient_per_day
    ):
        raise BookingRefused(
            "booking_limit",
            f"同一就诊人同一天最多预约 {limits.departments_per_patient_per_day} 个科室",
            limit="departments_per_patient_per_day",
        )


def sold_out() -> BookingRefused:
    """The refusal when no number is left."""
    return BookingRefused("slot_sold_out", "该时段号源已约满")
