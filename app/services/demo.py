"""Seeding the demo catalogue: hospitals, departments, doctors and 8 days of schedules."""

from datetime import time, timedelta

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain.enums import Period, ScheduleStatus
from app.domain.schedule import minutes_per_patient, release_at
from app.extensions import db
from app.infra import cache
from app.models import Department, Doctor, Hospital, Schedule, Slot
from app.services import demo_data as data
from app.services import schedules
from app.services.transaction import transaction

PERIOD_HOURS = {
    Period.MORNING: (time(8, 0), time(12, 0)),
    Period.AFTERNOON: (time(13, 30), time(17, 0)),
}


def seed_demo(today=None) -> dict:
    """Create what is missing of the demo catalogue, with schedules from ``today`` for 8 days.

    Idempotent: rows are found by their natural keys and never duplicated or overwritten, so
    running it again on a later day only adds the new days' schedules.
    """
    today = today or clock.business_date(clock.now())
    counts = dict.fromkeys(("hospitals", "departments", "doctors", "schedules", "slots"), 0)
    touched = set()
    with transaction():
        for spec in data.HOSPITALS:
            hospital = _hospital(spec, counts)
            doctors = _departments_and_doctors(hospital, spec[-1], counts)
            _schedules(hospital, doctors, today, counts, touched)
    cache.invalidate(cache.CATALOGUE)
    for department_id in touched:
        cache.invalidate_department(department_id)
    return counts


def _hospital(spec, counts):
    name, level, region, district, address, phone, intro, window, _ = spec
    hospital = db.session.scalar(sa.select(Hospital).where(Hospital.name == name))
    if hospital is None:
        config = current_app.config
        hospital = Hospital(
            name=name,
            level=level,
            region=region,
            district=district,
            address=address,
            phone=phone,
            intro=intro,
            booking_window_days=window,
            release_time=time.fromisoformat(config["RELEASE_TIME"]),
            hold_minutes=config["HOLD_MINUTES"],
        )
        db.session.add(hospital)
        db.session.flush()
        counts["hospitals"] += 1
    return hospital


def _departments_and_doctors(hospital, specs, counts):
    existing = {
        d.name: d
        for d in db.session.scalars(
            sa.select(Department).where(Department.hospital_id == hospital.id)
        )
    }
    doctors = []
    for order, (name, parent, sex, min_age, max_age, symptoms, specialties) in enumerate(specs):
        department = existing.get(name)
        if department is None:
            department = Department(
                hospital_id=hospital.id,
                parent_id=existing[parent].id if parent else None,
                name=name,
                sex_rule=sex,
                min_age=min_age,
                max_age=max_age,
                symptoms=symptoms,
                sort_order=order,
                intro=f"{hospital.name}{name}，提供门诊诊疗服务。",
                location=f"门诊楼 {order % 4 + 1} 层 {chr(65 + order % 3)} 区",
            )
            db.session.add(department)
            db.session.flush()
            existing[name] = department
            counts["departments"] += 1
        doctors += _doctors(department, specialties, len(doctors) + hospital.id * 7, counts)
    return doctors


def _doctors(department, specialties, offset, counts):
    existing = {
        d.name: d
        for d in db.session.scalars(sa.select(Doctor).where(Doctor.department_id == department.id))
    }
    doctors = []
    for index, specialty in enumerate(specialties):
        n = offset + index
        name = (
            data.SURNAMES[n % len(data.SURNAMES)]
            + data.GIVEN_NAMES[(n * 7) % len(data.GIVEN_NAMES)]
        )
        doctor = existing.get(name)
        if doctor is None:
            title = data.TITLES[n % len(data.TITLES)]
            doctor = Doctor(
                department_id=department.id,
                name=name,
                title=title,
                specialty=specialty,
                fee_fen=data.FEE_FEN[title],
                intro=f"{title.label}，从事{department.name}临床工作多年，擅长{specialty}。",
            )
            db.session.add(doctor)
            db.session.flush()
            counts["doctors"] += 1
        doctors.append(doctor)
    return doctors


def _schedules(hospital, doctors, today, counts, touched):
    """Each doctor works a rota of half-days fixed by the calendar date, so a later run adds
    only the new days. In the first hospital one clinic is small and one department stops a day.
    """
    dates = [today + timedelta(days=offset) for offset in range(data.DAYS)]
    existing = set(
        db.session.execute(
            sa.select(Schedule.doctor_id, Schedule.date, Schedule.period).where(
                Schedule.doctor_id.in_([d.id for d in doctors]),
                Schedule.date.between(dates[0], dates[-1]),
            )
        ).all()
    )
    new = []
    for i, doctor in enumerate(doctors):
        for day in dates:
            n = day.toordinal() + i
            for period, works in ((Period.MORNING, n % 2 == 0), (Period.AFTERNOON, n % 3 == 0)):
                if works and (doctor.id, day, period) not in existing:
                    new.append(_schedule(hospital, doctor, day, period))
    if hospital.name == data.HOSPITALS[0][0]:
        _make_special(new, doctors, today)
    db.session.add_all(new)
    db.session.flush()
    slots = []
    for schedule in new:
        slots += schedules.slot_rows(schedule)
        touched.add(schedule.department_id)
    if slots:
        db.session.execute(sa.insert(Slot), slots)
    counts["schedules"] += len(new)
    counts["slots"] += len(slots)


def _make_special(new, doctors, today):
    """A small special-needs clinic from day 2, a whole department stopped (停诊) from day 4."""
    small = next(
        (s for s in new if s.doctor_id == doctors[0].id and s.date >= today + timedelta(days=2)),
        None,
    )
    if small is not None:
        small.capacity = 5
    stopping = next(
        (s for s in new if s.doctor_id == doctors[2].id and s.date >= today + timedelta(days=4)),
        None,
    )
    if stopping is not None:
        for schedule in new:
            if (schedule.department_id, schedule.date) == (stopping.department_id, stopping.date):
                schedule.status = ScheduleStatus.STOPPED
                schedule.stop_reason = data.STOP_REASON


def _schedule(hospital, doctor, day, period):
    start, end = PERIOD_HOURS[period]
    capacity = data.CAPACITY[doctor.title]
    minutes = minutes_per_patient(start, end, capacity)
    return Schedule(
        doctor_id=doctor.id,
        department_id=doctor.department_id,
        date=day,
        period=period,
        start_time=start,
        end_time=end,
        capacity=capacity,
        fee_fen=doctor.fee_fen,
        minutes_per_patient=minutes,
        release_at=release_at(
            day, hospital.release_time, hospital.booking_window_days, clock.CHINA_TZ
        ),
    )
