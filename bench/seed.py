"""The benchmark's data: a fresh migrated database, one released schedule, N patients with tokens
(and a schedule and patients for the warm-up's holds).

Rows are inserted in bulk, but look like the service's own: identity numbers are valid 居民身份证
numbers, sealed and hashed with the configured keys, and tokens come from ``issue_token``.
"""

from dataclasses import dataclass
from datetime import date, time, timedelta

import sqlalchemy as sa
from flask_migrate import upgrade

from app.domain import clock
from app.domain.accounts import AccountStatus, Relationship, Sex
from app.domain.enums import DoctorTitle, HospitalLevel, Period, ScheduleStatus, SexRule, SlotState
from app.domain.identity import IdType, mask_id_number, resident_check_char
from app.domain.schedule import slot_times
from app.extensions import db
from app.infra.database import create_database
from app.models import Account, Department, Doctor, Hospital, Patient, Schedule, Slot
from app.models.types import utcnow
from app.services import protection
from app.services.auth import issue_token

# The clinic runs 07:00–12:00; numbers are spaced to fit, one minute apart at the least.
CLINIC_START = time(7, 0)
CLINIC_END = time(12, 0)
CLINIC_MINUTES = 300


@dataclass(frozen=True)
class Person:
    """One patient who will try to hold a number, with the account's bearer token."""

    account_id: int
    patient_id: int
    token: str


@dataclass(frozen=True)
class Fixture:
    """What the benchmark books against."""

    hospital_id: int
    department_id: int
    schedule_id: int
    capacity: int
    visit_date: date
    people: list[Person]
    warm_up_schedule_id: int  # another day of the same doctor, for the warm-up's holds
    warm_up_people: list[Person]


def recreate_database(url: str):
    """Drop and create the database of ``url`` (utf8mb4) on its MariaDB server."""
    create_database(url, recreate=True)


def migrate():
    """Bring the app's database to the newest migration (inside an app context)."""
    upgrade()


def _flushed(row):
    db.session.add(row)
    db.session.flush()
    return row


def _catalogue(capacity: int, warm_up: int) -> tuple[Hospital, Department, Schedule, Schedule]:
    """The hospital, department and doctor; the release morning's schedule of ``capacity``
    numbers for tomorrow, and one of ``warm_up`` numbers the day after for the warm-up's holds."""
    hospital = _flushed(
        Hospital(
            name="放号压测医院",
            level=HospitalLevel.GRADE_3A,
            region="北京市",
            district="东城区",
            release_time=CLINIC_START,
            booking_window_days=7,
            hold_minutes=15,
        )
    )
    department = _flushed(
        Department(hospital_id=hospital.id, name="普通内科", sex_rule=SexRule.ANY, symptoms="")
    )
    doctor = _flushed(
        Doctor(
            department_id=department.id,
            name="王医生",
            title=DoctorTitle.ATTENDING,
            specialty="常见病",
            fee_fen=2000,
        )
    )
    tomorrow = clock.business_date(clock.now()) + timedelta(days=1)
    schedule = _schedule(doctor, tomorrow, capacity)
    return hospital, department, schedule, _schedule(doctor, tomorrow + timedelta(days=1), warm_up)


def _schedule(doctor: Doctor, on: date, capacity: int) -> Schedule:
    schedule = _flushed(
        Schedule(
            doctor_id=doctor.id,
            department_id=doctor.department_id,
            date=on,
            period=Period.MORNING,
            start_time=CLINIC_START,
            end_time=CLINIC_END,
            capacity=capacity,
            fee_fen=doctor.fee_fen,
            minutes_per_patient=max(1, CLINIC_MINUTES // capacity),
            # Released a minute ago: this is the release morning.
            release_at=clock.now() - timedelta(minutes=1),
            status=ScheduleStatus.OPEN,
        )
    )
    times = slot_times(
        schedule.start_time, schedule.end_time, schedule.minutes_per_patient, capacity
    )
    db.session.execute(
        sa.insert(Slot),
        [
            {"schedule_id": schedule.id, "seq": seq, "state": SlotState.FREE, "suggested_time": at}
            for seq, at in enumerate(times, start=1)
        ],
    )
    return schedule


def resident_number(index: int) -> tuple[str, Sex, date]:
    """The ``index``-th distinct valid 居民身份证 number, with the sex and birth date it encodes."""
    birth = date(1960, 1, 1) + timedelta(days=index // 1000)
    sequence = f"{index % 1000:03d}"  # its last digit is odd for men
    first17 = f"110101{birth:%Y%m%d}{sequence}"
    sex = Sex.MALE if int(sequence[-1]) % 2 else Sex.FEMALE
    return first17 + resident_check_char(first17), sex, birth


def _people(count: int) -> list[Person]:
    stamp = utcnow()
    db.session.execute(
        sa.insert(Account),
        [
            {
                "openid": f"o-bench-{index}",
                "nickname": "",
                "status": AccountStatus.ACTIVE,
                "token_version": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
            for index in range(count)
        ],
    )
    accounts = db.session.scalars(sa.select(Account).order_by(Account.id)).all()
    rows = []
    for index, account in enumerate(accounts):
        number, sex, birth = resident_number(index)
        rows.append(
            {
                "account_id": account.id,
                "name": f"压测患者{index}",
                "id_type": IdType.RESIDENT_ID,
                "id_number_cipher": protection.seal(number, "patient.id_number"),
                "id_number_hash": protection.lookup_hash(
                    f"{IdType.RESIDENT_ID}:{number}", "id_number"
                ),
                "id_number_masked": mask_id_number(number),
                "sex": sex,
                "birth_date": birth,
                "relationship": Relationship.SELF,
                "insured": False,
                "live": True,
                "is_self": True,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    db.session.execute(sa.insert(Patient), rows)
    patient_of = dict(db.session.execute(sa.select(Patient.account_id, Patient.id)).tuples().all())
    return [
        Person(account.id, patient_of[account.id], issue_token(account)[0]) for account in accounts
    ]


def seed(capacity: int, people: int, warm_up: int) -> Fixture:
    """Insert the catalogue, a schedule of ``capacity`` numbers and ``people`` patients, and a
    schedule and patients for ``warm_up`` holds; commit."""
    try:
        hospital, department, schedule, warm_up_schedule = _catalogue(capacity, warm_up)
        everyone = _people(people + warm_up)
        fixture = Fixture(
            hospital_id=hospital.id,
            department_id=department.id,
            schedule_id=schedule.id,
            capacity=capacity,
            visit_date=schedule.date,
            people=everyone[:people],
            warm_up_schedule_id=warm_up_schedule.id,
            warm_up_people=everyone[people:],
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return fixture
