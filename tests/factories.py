"""Factories for catalogue rows: sensible defaults, override what the test is about."""

import itertools
from datetime import UTC, date, datetime, time, timedelta

from app.domain.enums import DoctorTitle, HospitalLevel, Period, ScheduleStatus, SexRule, SlotState
from app.domain.identity import resident_check_char
from app.domain.schedule import slot_times
from app.extensions import db
from app.infra import cache
from app.models import Account, Department, Doctor, Hospital, Schedule, Slot

_counter = itertools.count(1)


def _edited(row):
    """Flush a catalogue row and drop the cached catalogue answers, as a staff edit does."""
    db.session.add(row)
    db.session.flush()
    cache.invalidate(cache.CATALOGUE)
    return row


def make_hospital(**fields):
    n = next(_counter)
    values = {
        "name": f"测试医院{n}",
        "level": HospitalLevel.GRADE_3A,
        "region": "北京市",
        "district": "东城区",
        "release_time": time(7, 0),
        "booking_window_days": 7,
        "hold_minutes": 15,
    } | fields
    return _edited(Hospital(**values))


def make_department(hospital=None, **fields):
    hospital = hospital or make_hospital()
    values = {
        "hospital_id": hospital.id,
        "name": f"测试科室{next(_counter)}",
        "sex_rule": SexRule.ANY,
        "symptoms": "",
    } | fields
    return _edited(Department(**values))


def make_doctor(department=None, **fields):
    department = department or make_department()
    values = {
        "department_id": department.id,
        "name": f"医生{next(_counter)}",
        "title": DoctorTitle.ATTENDING,
        "specialty": "常见病",
        "fee_fen": 2000,
    } | fields
    return _edited(Doctor(**values))


def make_schedule(doctor=None, *, on=None, booked=0, **fields):
    """A schedule with its slots; the first ``booked`` numbers are taken."""
    doctor = doctor or make_doctor()
    values = {
        "doctor_id": doctor.id,
        "department_id": doctor.department_id,
        "date": on or date.today() + timedelta(days=1),
        "period": Period.MORNING,
        "start_time": time(8, 0),
        "end_time": time(12, 0),
        "capacity": 10,
        "fee_fen": doctor.fee_fen,
        "minutes_per_patient": 10,
        "release_at": datetime(2020, 1, 1, tzinfo=UTC),
        "status": ScheduleStatus.OPEN,
    } | fields
    schedule = Schedule(**values)
    db.session.add(schedule)
    db.session.flush()
    times = slot_times(
        schedule.start_time, schedule.end_time, schedule.minutes_per_patient, schedule.capacity
    )
    for seq, at in enumerate(times, start=1):
        state = SlotState.BOOKED if seq <= booked else SlotState.FREE
        db.session.add(Slot(schedule_id=schedule.id, seq=seq, state=state, suggested_time=at))
    db.session.flush()
    return schedule


def resident_id(birth="19900307", male=True, region="110101", serial=45):
    """A valid 居民身份证 number: region, birth date, serial (odd for men), check digit."""
    sequence = f"{serial:02d}{(1 if male else 2)}"
    first17 = f"{region}{birth}{sequence}"
    return first17 + resident_check_char(first17)


def make_account(**fields):
    account = Account(**({"openid": f"o-test-{next(_counter)}"} | fields))
    db.session.add(account)
    db.session.flush()
    return account
