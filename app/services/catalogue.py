"""Browsing the supply: hospitals, department trees, doctors, and what numbers remain when."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import ScheduleStatus, SlotState
from app.domain.schedule import (
    MAX_DAYS_AHEAD,
    ScheduleLoad,
    day_summary,
    next_change,
    schedule_availability,
)
from app.domain.search import matching_symptoms, normalize_query, split_keywords
from app.errors import NotFound, ValidationFailed
from app.extensions import db, per_app
from app.infra.packedsql import PackedSelect
from app.models import Department, Doctor, Hospital, Schedule, Slot
from app.services.pagination import Page, paginate

SEARCH_LIMIT = 20
MAX_CALENDAR_DAYS = 14
CALENDAR_DAYS = 7  # the window when none is asked for
# Doctors whose department a process remembers at most (a large city has a few thousand).
_KNOWN_DOCTORS_MAX = 100_000


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The prebuilt statements' parameter: the _like of what a patient searched for.
_PATTERN = sa.bindparam("pattern")


def _contains(column, pattern=_PATTERN):
    """The column contains the text ``pattern`` is the _like of: a value, or by default the
    prebuilt statements' parameter."""
    return column.like(pattern, escape="\\")


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
        statement = statement.where(_contains(Hospital.name, _like(q)))
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


_schedule, _doctor, _slot = Schedule.__table__.c, Doctor.__table__.c, Slot.__table__.c
_department, _hospital = Department.__table__.c, Hospital.__table__.c


def _schedules(*criteria) -> PackedSelect:
    """Schedules with the columns their answers show, their doctor's and the numbers still
    free, in clinic order: one narrow row each, packed (app/infra/packedsql.py). A page of them is
    read on every miss of a calendar or a day's schedules, which each hold of a release morning
    causes; loading ORM objects cost about twice as much, most of it the driver's parsing."""
    remaining = (
        sa.select(sa.func.count())
        .where(_slot.schedule_id == _schedule.id, _slot.state == SlotState.FREE)
        .scalar_subquery()
        .label("remaining")
    )
    return PackedSelect(
        sa.select(
            _schedule.id,
            _schedule.date,
            _schedule.period,
            _schedule.start_time,
            _schedule.end_time,
            _schedule.fee_fen,
            _schedule.capacity,
            _schedule.status,
            _schedule.release_at,
            _schedule.stop_reason,
            _doctor.id.label("doctor_id"),
            _doctor.name.label("doctor_name"),
            _doctor.title.label("doctor_title"),
            _doctor.specialty.label("doctor_specialty"),
            remaining,
        )
        .join(Doctor.__table__, _doctor.id == _schedule.doctor_id)
        .where(*criteria)
        .order_by(_schedule.date, _schedule.start_time, _schedule.id)
    )


# Prebuilt: compiled once, their cache keys made once.
_WINDOW = sa.bindparam("start"), sa.bindparam("end")
_DEPARTMENT_WINDOW = _schedules(
    _schedule.department_id == sa.bindparam("department_id"), _schedule.date.between(*_WINDOW)
)
_DEPARTMENT_DAY = _schedules(
    _schedule.department_id == sa.bindparam("department_id"),
    _schedule.date == sa.bindparam("date"),
)
_DOCTOR_WINDOW = _schedules(
    _schedule.doctor_id == sa.bindparam("doctor_id"), _schedule.date.between(*_WINDOW)
)


def _schedule_rows(statement: PackedSelect, department_id=None, **params) -> list:
    """The rows of one of the statements above; not_found for an unknown department, which is
    asked only when it has none."""
    if department_id is not None:
        params["department_id"] = department_id
    rows = statement.rows(db.session.connection(), params)
    if not rows and department_id is not None:
        _get(Department, department_id)
    return rows


def _load(row) -> ScheduleLoad:
    return ScheduleLoad(row.status, row.release_at, row.capacity, row.remaining)


def check_window(start: date | None, days: int, now: datetime) -> date:
    """The window's first day (today when none is asked for); validation_error when it starts
    before today or more than MAX_DAYS_AHEAD after, or is not 1–MAX_CALENDAR_DAYS days
    long."""
    today = clock.business_date(now)
    start = start or today
    errors = {}
    if not 1 <= days <= MAX_CALENDAR_DAYS:
        errors["days"] = [f"天数须在 1 到 {MAX_CALENDAR_DAYS} 之间"]
    if start < today:
        errors["start"] = ["开始日期不能早于今天"]
    elif start > today + timedelta(days=MAX_DAYS_AHEAD):
        errors["start"] = [f"开始日期不能晚于今天之后 {MAX_DAYS_AHEAD} 天"]
    if errors:
        raise ValidationFailed(errors)
    return start


def department_calendar(department_id, start: date, days: int, now: datetime):
    """Per day from ``start``: status, total and remaining numbers; with the moment it next
    changes by itself."""
    end = start + timedelta(days=days - 1)
    rows = _schedule_rows(_DEPARTMENT_WINDOW, department_id, start=start, end=end)
    by_day = {}
    for row in rows:
        by_day.setdefault(row.date, []).append(_load(row))
    cells = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        summary = day_summary(by_day.get(day, []), now)
        cells.append(
            {
                "date": day,
                "status": summary.status,
                "total": summary.total,
                "remaining": summary.remaining,
            }
        )
    loads = [load for day_loads in by_day.values() for load in day_loads]
    return cells, next_change(loads, now)


def department_schedules(department_id, on_date: date, now: datetime):
    """A department's schedules on one date, each with its doctor and remaining numbers; with
    the moment they next change by themselves."""
    rows = _schedule_rows(_DEPARTMENT_DAY, department_id, date=on_date)
    return _schedule_items(rows, now)


def _doctors(*criteria, limit=None) -> PackedSelect:
    """Doctors with what a doctor's page shows (and a search's hits), their department and
    hospital named: one narrow packed row each, in id order. The ORM's joined load of the three
    rows read some 40 columns, and the driver's parsing of their definitions was a third of a
    doctor page's miss."""
    return PackedSelect(
        sa.select(
            _doctor.id,
            _doctor.name,
            _doctor.title,
            _doctor.specialty,
            _doctor.intro,
            _doctor.fee_fen,
            _department.id.label("department_id"),
            _department.name.label("department_name"),
            _hospital.id.label("hospital_id"),
            _hospital.name.label("hospital_name"),
        )
        .join(Department.__table__, _department.id == _doctor.department_id)
        .join(Hospital.__table__, _hospital.id == _department.hospital_id)
        .where(*criteria)
        .order_by(_doctor.id)
        .limit(limit)
    )


_DOCTOR = _doctors(_doctor.id == sa.bindparam("doctor_id"))


def _doctor_item(row) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "title": row.title,
        "specialty": row.specialty,
        "intro": row.intro,
        "fee_fen": row.fee_fen,
        "department": {
            "id": row.department_id,
            "name": row.department_name,
            "hospital_id": row.hospital_id,
            "hospital_name": row.hospital_name,
        },
    }


def get_doctor(doctor_id) -> dict:
    """One doctor, with its department and hospital named, or not_found."""
    rows = _DOCTOR.rows(db.session.connection(), {"doctor_id": doctor_id})
    if not rows:
        raise NotFound()
    return _doctor_item(rows[0])


def doctor_department_id(doctor_id) -> int:
    """The department a doctor's availability belongs to, or not_found. A doctor never changes
    department (the catalogue has no such edit), so the process remembers what it read: every
    doctor's at its first lookup (one query instead of one per doctor while the first requests
    after a start ask for their schedules), then each doctor added since."""
    known = per_app("doctor_departments", lambda config: {})
    if not known:
        known.update(db.session.execute(_DOCTOR_DEPARTMENTS).all())
    department_id = known.get(doctor_id)
    if department_id is None:
        department_id = db.session.scalar(
            sa.select(Doctor.department_id).where(Doctor.id == doctor_id)
        )
        if department_id is None:
            raise NotFound()
        if len(known) >= _KNOWN_DOCTORS_MAX:
            known.clear()
        known[doctor_id] = department_id
    return department_id


_DOCTOR_DEPARTMENTS = sa.select(Doctor.id, Doctor.department_id).limit(_KNOWN_DOCTORS_MAX)


def doctor_schedules(doctor_id, start: date, days: int, now: datetime):
    """A doctor's schedules over ``days`` days from ``start``, with remaining numbers; with the
    moment they next change by themselves."""
    end = start + timedelta(days=days - 1)
    rows = _schedule_rows(_DOCTOR_WINDOW, doctor_id=doctor_id, start=start, end=end)
    return _schedule_items(rows, now)


def _schedule_items(rows, now):
    items = [
        {
            "id": row.id,
            "date": row.date,
            "period": row.period,
            "start_time": row.start_time,
            "end_time": row.end_time,
            "fee_fen": row.fee_fen,
            "total": row.capacity,
            "remaining": row.remaining if row.status == ScheduleStatus.OPEN else 0,
            "status": schedule_availability(_load(row), now),
            "release_at": row.release_at,
            "stop_reason": row.stop_reason or None,
            "doctor": {
                "id": row.doctor_id,
                "name": row.doctor_name,
                "title": row.doctor_title,
                "specialty": row.doctor_specialty,
            },
        }
        for row in rows
    ]
    return items, next_change([_load(row) for row in rows], now)


def search(q) -> dict:
    """Hospitals, departments (by name or symptom) and doctors (name, specialty) matching ``q``."""
    q = normalize_query(q)
    if not q:
        return {"hospitals": [], "departments": [], "doctors": []}
    params = {"pattern": _like(q)}  # the prebuilt statements' and this one's
    hospitals = db.session.scalars(
        sa.select(Hospital)
        .where(sa.or_(_contains(Hospital.name), _contains(Hospital.district)))
        .order_by(Hospital.id)
        .limit(SEARCH_LIMIT),
        params,
    ).all()
    return {
        "hospitals": hospitals,
        "departments": _search_departments(q, params),
        "doctors": [
            _doctor_item(row) for row in _SEARCHED_DOCTORS.rows(db.session.connection(), params)
        ],
    }


_SEARCHED_DOCTORS = _doctors(
    sa.or_(_contains(_doctor.name), _contains(_doctor.specialty)), limit=SEARCH_LIMIT
)
_SEARCHED_DEPARTMENTS = PackedSelect(
    sa.select(
        _department.id,
        _department.name,
        _department.symptoms,
        _department.hospital_id,
        _hospital.name.label("hospital_name"),
    )
    .join(Hospital.__table__, _hospital.id == _department.hospital_id)
    .where(sa.or_(_contains(_department.name), _department.symptoms != ""))
    .order_by(_department.hospital_id, _department.sort_order, _department.id)
)


def _search_departments(q, params):
    # Symptom matching runs both ways ("咳" in 咳嗽, 咳嗽 in "总是咳嗽"), which LIKE cannot do,
    # so the (small) set of departments with keywords is matched in Python.
    departments = _SEARCHED_DEPARTMENTS.rows(db.session.connection(), params)
    found = []
    for department in departments:
        symptoms = matching_symptoms(q, split_keywords(department.symptoms))
        if symptoms or q in department.name.lower():
            found.append(
                {
                    "id": department.id,
                    "name": department.name,
                    "hospital_id": department.hospital_id,
                    "hospital_name": department.hospital_name,
                    "matched_symptoms": symptoms,
                }
            )
        if len(found) == SEARCH_LIMIT:
            break
    return found
