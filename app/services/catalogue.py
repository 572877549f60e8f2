"""Browsing the supply: hospitals, department trees, doctors, and what numbers remain when."""

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.domain import clock
from app.domain.enums import Availability, DoctorTitle, Period, ScheduleStatus, SlotState
from app.domain.schedule import ScheduleLoad, day_summary, next_change, schedule_availability
from app.domain.search import matching_symptoms, normalize_query, split_keywords
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.infra import cache
from app.models import Department, Doctor, Hospital, Schedule, Slot
from app.services.pagination import Page, paginate

SEARCH_LIMIT = 20
MAX_CALENDAR_DAYS = 14
CALENDAR_DAYS = 7  # the window when none is asked for


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column, text):
    return column.like(_like(text), escape="\\")


def _get(model, ident):
    row = db.session.get(model, ident)
    if row is None:
        raise NotFound()
    return row


def list_hospitals(*, q=None, level=None, region=None, page=1, per_page=20) -> Page:
    """Hospitals matching a name fragment, a level and a region, by name."""
    statement = sa.select(Hospital).order_by(Hospital.id)
    q = normalize_query(q)
    if q:
        statement = statement.where(_contains(Hospital.name, q))
    if level:
        statement = statement.where(Hospital.level == level)
    if region:
        statement = statement.where(sa.or_(Hospital.region == region, Hospital.district == region))
    return paginate(statement, page, per_page)


def get_hospital(hospital_id) -> Hospital:
    """One hospital, or not_found."""
    return _get(Hospital, hospital_id)


def department_tree(hospital_id) -> list[dict]:
    """A hospital's departments as a tree, each node with its eligibility rules."""
    _get(Hospital, hospital_id)
    departments = db.session.scalars(
        sa.select(Department)
        .where(Department.hospital_id == hospital_id)
        .order_by(Department.sort_order, Department.id)
    ).all()
    nodes = {d.id: _department_node(d) for d in departments}
    roots = []
    for department in departments:
        node = nodes[department.id]
        parent = nodes.get(department.parent_id)
        (parent["children"] if parent else roots).append(node)
    return roots


def _department_node(department: Department) -> dict:
    return {
        "id": department.id,
        "name": department.name,
        "parent_id": department.parent_id,
        "intro": department.intro,
        "location": department.location,
        "eligibility": {
            "sex": department.sex_rule,
            "min_age": department.min_age,
            "max_age": department.max_age,
        },
        "symptoms": split_keywords(department.symptoms),
        "children": [],
    }


def get_department(department_id) -> Department:
    """One department, or not_found."""
    return _get(Department, department_id)


def _remaining_column():
    return (
        sa.select(sa.func.count(Slot.id))
        .where(Slot.schedule_id == Schedule.id, Slot.state == SlotState.FREE)
        .correlate(Schedule)
        .scalar_subquery()
        .label("remaining")
    )


def _schedule_rows(*criteria):
    statement = (
        sa.select(Schedule, _remaining_column())
        .options(joinedload(Schedule.doctor))
        .where(*criteria)
        .order_by(Schedule.date, Schedule.start_time, Schedule.id)
    )
    return db.session.execute(statement).all()


def _load(schedule: Schedule, remaining: int) -> ScheduleLoad:
    return ScheduleLoad(schedule.status, schedule.release_at, schedule.capacity, remaining)


def _check_window(start: date, days: int, today: date):
    errors = {}
    if not 1 <= days <= MAX_CALENDAR_DAYS:
        errors["days"] = [f"天数须在 1 到 {MAX_CALENDAR_DAYS} 之间"]
    if start < today:
        errors["start"] = ["开始日期不能早于今天"]
    if errors:
        raise ValidationFailed(errors)


def department_calendar(department_id, start=None, days=CALENDAR_DAYS, now=None) -> bytes:
    """Per day from ``start``: status, total and remaining numbers, as the JSON answer itself.

    The most read page on a release morning: a cached answer is sent as Redis holds it, so the
    cells are built here exactly as CalendarDaySchema would dump them (a test holds them equal).
    """
    now = now or clock.now()
    start = start or clock.business_date(now)
    _check_window(start, days, clock.business_date(now))
    end = start + timedelta(days=days - 1)

    def compute(now):
        # Only on a miss: a cached answer needs no MySQL at all.
        _get(Department, department_id)
        rows = _schedule_rows(
            Schedule.department_id == department_id, Schedule.date.between(start, end)
        )
        by_day = {}
        for schedule, remaining in rows:
            by_day.setdefault(schedule.date, []).append(_load(schedule, remaining))
        cells = []
        for offset in range(days):
            day = start + timedelta(days=offset)
            summary = day_summary(by_day.get(day, []), now)
            cells.append(
                {
                    "date": day.isoformat(),
                    "status": summary.status.value,
                    "total": summary.total,
                    "remaining": summary.remaining,
                }
            )
        loads = [load for day_loads in by_day.values() for load in day_loads]
        return cells, next_change(loads, now)

    return cache.cached_json(department_id, _calendar_field(start, days), compute, now)


def cached_calendar(department_id, now=None) -> bytes | None:
    """department_calendar(department_id) with the default window, if the cache holds it (else
    None): no MySQL, no validation (the default window is always valid)."""
    now = now or clock.now()
    field = _calendar_field(clock.business_date(now), CALENDAR_DAYS)
    return cache.cached_only(department_id, field, now)


def _calendar_field(start: date, days: int) -> str:
    return f"calendar:{start}:{days}"


def department_schedules(department_id, on_date, now=None) -> list[dict]:
    """A department's schedules on one date, each with its doctor and remaining numbers."""
    now = now or clock.now()

    def compute(now):
        _get(Department, department_id)
        rows = _schedule_rows(Schedule.department_id == department_id, Schedule.date == on_date)
        return _schedule_items(rows, now)

    items = cache.cached_read(department_id, f"schedules:{on_date}", compute, now)
    return [_schedule_from_json(item) for item in items]


def get_doctor(doctor_id) -> Doctor:
    """One doctor, with department and hospital loaded, or not_found."""
    doctor = db.session.scalar(
        sa.select(Doctor)
        .options(joinedload(Doctor.department).joinedload(Department.hospital))
        .where(Doctor.id == doctor_id)
    )
    if doctor is None:
        raise NotFound()
    return doctor


def doctor_schedules(doctor_id, start=None, days=CALENDAR_DAYS, now=None) -> list[dict]:
    """A doctor's schedules over ``days`` days from ``start``, with remaining numbers."""
    now = now or clock.now()
    start = start or clock.business_date(now)
    _check_window(start, days, clock.business_date(now))
    doctor = _get(Doctor, doctor_id)
    end = start + timedelta(days=days - 1)

    def compute(now):
        rows = _schedule_rows(Schedule.doctor_id == doctor_id, Schedule.date.between(start, end))
        return _schedule_items(rows, now)

    field = f"doctor:{doctor_id}:{start}:{days}"
    items = cache.cached_read(doctor.department_id, field, compute, now)
    return [_schedule_from_json(item) for item in items]


def _schedule_items(rows, now):
    items = []
    for schedule, remaining in rows:
        doctor = schedule.doctor
        items.append(
            {
                "id": schedule.id,
                "date": schedule.date.isoformat(),
                "period": schedule.period.value,
                "start_time": schedule.start_time.isoformat(),
                "end_time": schedule.end_time.isoformat(),
                "fee_fen": schedule.fee_fen,
                "total": schedule.capacity,
                "remaining": remaining if schedule.status == ScheduleStatus.OPEN else 0,
                "status": schedule_availability(_load(schedule, remaining), now).value,
                "release_at": schedule.release_at.isoformat(),
                "stop_reason": schedule.stop_reason or None,
                "doctor": {
                    "id": doctor.id,
                    "name": doctor.name,
                    "title": doctor.title.value,
                    "specialty": doctor.specialty,
                },
            }
        )
    loads = [_load(schedule, remaining) for schedule, remaining in rows]
    return items, next_change(loads, now)


def _schedule_from_json(item: dict) -> dict:
    return {
        **item,
        "date": date.fromisoformat(item["date"]),
        "period": Period(item["period"]),
        "start_time": time.fromisoformat(item["start_time"]),
        "end_time": time.fromisoformat(item["end_time"]),
        "status": Availability(item["status"]),
        "release_at": datetime.fromisoformat(item["release_at"]),
        "doctor": {**item["doctor"], "title": DoctorTitle(item["doctor"]["title"])},
    }


def search(q) -> dict:
    """Hospitals, departments (by name or symptom) and doctors (name, specialty) matching ``q``."""
    q = normalize_query(q)
    if not q:
        return {"hospitals": [], "departments": [], "doctors": []}
    hospitals = db.session.scalars(
        sa.select(Hospital)
        .where(sa.or_(_contains(Hospital.name, q), _contains(Hospital.district, q)))
        .order_by(Hospital.id)
        .limit(SEARCH_LIMIT)
    ).all()
    return {
        "hospitals": hospitals,
        "departments": _search_departments(q),
        "doctors": db.session.scalars(
            sa.select(Doctor)
            .options(joinedload(Doctor.department).joinedload(Department.hospital))
            .where(sa.or_(_contains(Doctor.name, q), _contains(Doctor.specialty, q)))
            .order_by(Doctor.id)
            .limit(SEARCH_LIMIT)
        ).all(),
    }


def _search_departments(q):
    # Symptom matching runs both ways ("咳" in 咳嗽, 咳嗽 in "总是咳嗽"), which LIKE cannot do,
    # so the (small) set of departments with keywords is matched in Python.
    departments = db.session.scalars(
        sa.select(Department)
        .options(joinedload(Department.hospital))
        .where(sa.or_(_contains(Department.name, q), Department.symptoms != ""))
        .order_by(Department.hospital_id, Department.sort_order, Department.id)
    ).all()
    found = []
    for department in departments:
        symptoms = matching_symptoms(q, split_keywords(department.symptoms))
        if symptoms or q in department.name.lower():
            found.append(
                {
                    "id": department.id,
                    "name": department.name,
                    "hospital_id": department.hospital_id,
                    "hospital_name": department.hospital.name,
                    "matched_symptoms": symptoms,
                }
            )
        if len(found) == SEARCH_LIMIT:
            break
    return found
