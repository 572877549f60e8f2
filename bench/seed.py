"""The benchmark's data: a fresh migrated database, one released schedule, N patients with tokens
(and a schedule and patients for the warm-up's holds).

Rows are inserted in bulk, but look like the service's own: identity numbers are valid 居民身份证
numbers, sealed and hashed with the configured keys, and tokens come from ``issue_token``.
"""

from dataclasses import dataclass
from datetime import date, time, timedelta
from types import SimpleNamespace

import redis
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.domain import clock
from app.domain.accounts import AccountStatus, Relationship, Sex
from app.domain.enums import DoctorTitle, HospitalLevel, Period, ScheduleStatus, SexRule, SlotState
from app.domain.identity import IdType, mask_id_number, resident_check_char
from app.domain.orders import CancelledBy, OrderStatus
from app.domain.payments import PaymentChannel, PaymentStatus, new_out_trade_no
from app.domain.schedule import minutes_per_patient
from app.domain.visits import ON_TIME_STEP
from app.extensions import db
from app.infra.database import create_database
from app.models import (
    Account,
    Department,
    Doctor,
    Hospital,
    Order,
    Patient,
    Payment,
    Schedule,
    Slot,
)
from app.models.types import utcnow
from app.services import protection, visits
from app.services.auth import issue_token
from app.services.booking.checks import fingerprint
from app.services.schedules import slot_rows

# The clinic runs 07:00–12:00; numbers are spaced to fit, one minute apart at the least.
CLINIC_START = time(7, 0)
CLINIC_END = time(12, 0)


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


def fresh_app(database_url: str, redis_url: str):
    """The app (development settings, as the environment gives them) on a database just
    recreated and migrated, and its Redis flushed; (app, a client of that Redis)."""
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    recreate_database(database_url)
    app = create_app("development")
    with app.app_context():
        migrate()
    return app, store


def analyze():
    """The optimizer's statistics of every table brought up to date, as on a server that has run
    a while (inside an app context). InnoDB counts a table again in the background only some
    seconds after a bulk insert; until then it takes the fresh tables for empty and may read a
    page of an account's orders by scanning the whole table."""
    if db.engine.dialect.name == "mysql":
        tables = ", ".join(f"`{name}`" for name in db.metadata.tables)
        db.session.execute(sa.text(f"ANALYZE TABLE {tables}")).all()
        db.session.commit()


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
            minutes_per_patient=minutes_per_patient(CLINIC_START, CLINIC_END, capacity),
            # Released a minute ago: this is the release morning.
            release_at=clock.now() - timedelta(minutes=1),
            status=ScheduleStatus.OPEN,
        )
    )
    db.session.execute(sa.insert(Slot), slot_rows(schedule))
    return schedule


def resident_number(index: int) -> tuple[str, Sex, date]:
    """The ``index``-th distinct valid 居民身份证 number, with the sex and birth date it encodes."""
    birth = date(1960, 1, 1) + timedelta(days=index // 1000)
    sequence = f"{index % 1000:03d}"  # its last digit is odd for men
    first17 = f"110101{birth:%Y%m%d}{sequence}"
    sex = Sex.MALE if int(sequence[-1]) % 2 else Sex.FEMALE
    return first17 + resident_check_char(first17), sex, birth


def _accounts(count, prefix, stamp) -> tuple[int, list[Account]]:
    """``count`` active accounts with openids ``<prefix>N``; the highest account id before them,
    and the accounts, in id order."""
    first_id = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Account.id), 0)))
    db.session.execute(
        sa.insert(Account),
        [
            {
                "openid": f"{prefix}{index}",
                "nickname": "",
                "status": AccountStatus.ACTIVE,
                "token_version": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
            for index in range(count)
        ],
    )
    accounts = db.session.scalars(
        sa.select(Account).where(Account.id > first_id).order_by(Account.id)
    ).all()
    return first_id, accounts


def _people(count: int, prefix="o-bench-") -> list[Person]:
    stamp = utcnow()
    first_id, accounts = _accounts(count, prefix, stamp)
    rows = []
    for index, account in enumerate(accounts):
        rows.append(_patient_row(account.id, index, f"压测患者{index}", Relationship.SELF, stamp))
    db.session.execute(sa.insert(Patient), rows)
    patient_of = dict(
        db.session.execute(
            sa.select(Patient.account_id, Patient.id).where(Patient.account_id > first_id)
        ).all()
    )
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


# --- a city's hospitals, for the everyday mix and the release-morning journey -------------------


@dataclass(frozen=True)
class Catalogue:
    """Hospitals with department trees, doctors and a week of schedules, as patients see them."""

    hospital_ids: list[int]
    department_ids: list[int]  # the departments that have doctors (the tree's leaves)
    doctor_ids: list[int]
    dates: list[date]
    schedules: int
    slots: int


@dataclass(frozen=True)
class Visitor:
    """An account of the everyday mix: its token, its patients (1–3) and orders."""

    account_id: int
    token: str
    patient_ids: tuple[int, ...]
    orders: int


def _with_doctors(specs, per_department):
    """The demo's department specs with ``per_department`` doctors in each department that has
    any (their specialties repeated)."""
    widened = []
    for *fields, specialties in specs:
        count = per_department if specialties else 0
        widened.append((*fields, [specialties[n % len(specialties)] for n in range(count)]))
    return widened


def seed_catalogue(hospitals=3, doctors_per_department=4, days=7) -> Catalogue:
    """The demo's first ``hospitals`` hospitals and department trees (app/services/demo_data.py),
    ``doctors_per_department`` doctors in each leaf department, each seeing patients every
    morning and afternoon for ``days`` days from today, released by the hospital's rules (the
    last day not yet before the release time). Flushed, not committed."""
    # Imported here: the release-morning benchmark does not need the demo's catalogue.
    from app.services import demo, demo_data

    counts = dict.fromkeys(("hospitals", "departments", "doctors", "schedules", "slots"), 0)
    today = clock.business_date(clock.now())
    dates = [today + timedelta(days=offset) for offset in range(days)]
    hospital_ids, department_ids, doctor_ids, schedules = [], set(), [], []
    for spec in demo_data.HOSPITALS[:hospitals]:
        hospital = demo._hospital(spec, counts)
        doctors = demo._departments_and_doctors(
            hospital, _with_doctors(spec[-1], doctors_per_department), counts
        )
        hospital_ids.append(hospital.id)
        for doctor in doctors:
            department_ids.add(doctor.department_id)
            doctor_ids.append(doctor.id)
            schedules += [
                demo._schedule(hospital, doctor, day, period)
                for day in dates
                for period in (Period.MORNING, Period.AFTERNOON)
            ]
    db.session.add_all(schedules)
    db.session.flush()
    slots = _slots(schedules)
    return Catalogue(hospital_ids, sorted(department_ids), doctor_ids, dates, len(schedules), slots)


def _slots(schedules) -> int:
    """Insert the free numbered slots of ``schedules``; how many."""
    rows = [row for schedule in schedules for row in slot_rows(schedule)]
    db.session.execute(sa.insert(Slot), rows)
    return len(rows)


def _patient_row(account_id, index, name, relationship, stamp) -> dict:
    """A live patient with the ``index``-th resident number, sealed and hashed as the service
    does; the account's own (is_self) when ``relationship`` is SELF."""
    number, sex, birth = resident_number(index)
    return {
        "account_id": account_id,
        "name": name,
        "name_hash": protection.name_hash(name),
        "id_type": IdType.RESIDENT_ID,
        "id_number_cipher": protection.seal(number, "patient.id_number"),
        "id_number_hash": protection.lookup_hash(f"{IdType.RESIDENT_ID}:{number}", "id_number"),
        "id_number_masked": mask_id_number(number),
        "sex": sex,
        "birth_date": birth,
        "relationship": relationship,
        "insured": False,
        "live": True,
        "is_self": True if relationship == Relationship.SELF else None,
        "created_at": stamp,
        "updated_at": stamp,
    }


# Order statuses of the visitors' history, as (status, weight): mostly booked, some cancelled by
# the patient, some holds left unpaid.
VISITOR_ORDER_STATUSES = (
    (OrderStatus.BOOKED, 6),
    (OrderStatus.CANCELLED, 3),
    (OrderStatus.EXPIRED, 1),
)


def seed_visitors(count, catalogue: Catalogue, first_number: int, rng) -> list[Visitor]:
    """``count`` accounts (openids ``o-visit-N``) with 1–3 patients and 1–4 orders each on the
    catalogue's schedules, and a token each. Order rows (with a paid WeChat payment for the
    booked ones, whose slots are then booked) are inserted directly, as the service would leave
    them. Resident numbers start at ``first_number`` (keep them apart from other patients').
    ``rng`` (random.Random) makes the choices. Flushed, not committed."""
    stamp = utcnow()
    first_id, accounts = _accounts(count, "o-visit-", stamp)
    kin = (Relationship.SPOUSE, Relationship.PARENT, Relationship.OTHER)
    rows, number = [], first_number
    for index, account in enumerate(accounts):
        for n in range(rng.randint(1, 3)):
            relationship = Relationship.SELF if n == 0 else kin[n % len(kin)]
            rows.append(_patient_row(account.id, number, f"访客{index}-{n}", relationship, stamp))
            number += 1
    db.session.execute(sa.insert(Patient), rows)
    patients: dict[int, list[int]] = {}
    for account_id, patient_id in db.session.execute(
        sa.select(Patient.account_id, Patient.id)
        .where(Patient.account_id > first_id)
        .order_by(Patient.id)
    ):
        patients.setdefault(account_id, []).append(patient_id)

    schedules = db.session.execute(
        sa.select(
            Schedule.id,
            Schedule.doctor_id,
            Schedule.department_id,
            Schedule.date,
            Schedule.fee_fen,
            Department.hospital_id,
        )
        .join(Department, Department.id == Schedule.department_id)
        .where(Schedule.doctor_id.in_(catalogue.doctor_ids))
        .order_by(Schedule.id)
    ).all()
    statuses = [status for status, _ in VISITOR_ORDER_STATUSES]
    weights = [weight for _, weight in VISITOR_ORDER_STATUSES]
    next_seq: dict[int, int] = {}
    chosen, taken = [], set()  # taken: (patient, doctor, date) of active orders
    for account in accounts:
        for n in range(rng.randint(1, 4)):
            schedule = rng.choice(schedules)
            patient_id = rng.choice(patients[account.id])
            status = rng.choices(statuses, weights)[0]
            key = (patient_id, schedule.doctor_id, schedule.date)
            if status.is_active and key in taken:
                status = OrderStatus.CANCELLED
            if status.is_active:
                taken.add(key)
            seq = next_seq[schedule.id] = next_seq.get(schedule.id, 0) + 1
            chosen.append((account.id, patient_id, schedule, seq, status, n))
    slot_of = {
        (schedule_id, seq): (slot_id, at)
        for slot_id, schedule_id, seq, at in db.session.execute(
            sa.select(Slot.id, Slot.schedule_id, Slot.seq, Slot.suggested_time).where(
                Slot.schedule_id.in_(list(next_seq)), Slot.seq <= max(next_seq.values(), default=0)
            )
        )
    }
    _insert_orders(chosen, slot_of, stamp, first_id)
    per_account: dict[int, int] = {}
    for account_id, *_ in chosen:
        per_account[account_id] = per_account.get(account_id, 0) + 1
    return [
        Visitor(
            account.id,
            issue_token(account)[0],
            tuple(patients[account.id]),
            per_account.get(account.id, 0),
        )
        for account in accounts
    ]


def _insert_orders(chosen, slot_of, stamp, first_id):
    """Insert the ``chosen`` orders (account, patient, schedule row, seq, status, n) in their
    slots; the booked ones' slots marked booked and their WeChat payments paid."""
    orders = []
    for account_id, patient_id, schedule, seq, status, n in chosen:
        slot_id, at = slot_of[(schedule.id, seq)]
        closed = None if status.is_active else stamp
        orders.append(
            {
                "account_id": account_id,
                "patient_id": patient_id,
                "schedule_id": schedule.id,
                "slot_id": slot_id,
                "doctor_id": schedule.doctor_id,
                "department_id": schedule.department_id,
                "hospital_id": schedule.hospital_id,
                "visit_date": schedule.date,
                "seq": seq,
                "suggested_time": at,
                "amount_fen": schedule.fee_fen,
                "status": status,
                "active": True if status.is_active else None,
                "expires_at": stamp + timedelta(minutes=15),
                "idempotency_key": f"visit-{account_id}-{n}",
                "request_fingerprint": fingerprint(schedule.id, patient_id),
                "reschedule_count": 0,
                "cancelled_by": (
                    CancelledBy.PATIENT
                    if status == OrderStatus.CANCELLED
                    else CancelledBy.SYSTEM
                    if status == OrderStatus.EXPIRED
                    else None
                ),
                "cancel_reason": "",
                "closed_at": closed,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    db.session.execute(sa.insert(Order), orders)
    booked = db.session.execute(
        sa.select(Order.id, Order.slot_id, Order.amount_fen, Order.expires_at).where(
            Order.account_id > first_id, Order.status == OrderStatus.BOOKED
        )
    ).all()
    if booked:
        db.session.execute(
            sa.update(Slot)
            .where(Slot.id.in_([row.slot_id for row in booked]))
            .values(state=SlotState.BOOKED)
        )
        db.session.execute(
            sa.insert(Payment),
            [
                {
                    "order_id": row.id,
                    "channel": PaymentChannel.WECHAT,
                    "out_trade_no": new_out_trade_no(row.id, PaymentChannel.WECHAT),
                    "amount_fen": row.amount_fen,
                    "status": PaymentStatus.PAID,
                    "expires_at": row.expires_at,
                    "provider_trade_no": f"4200{row.id:016d}",
                    "paid_at": stamp,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for row in booked
            ],
        )


@dataclass(frozen=True)
class City:
    """The journey's release (a Fixture in the catalogue's first department) and the everyday
    mix's catalogue and visitors."""

    fixture: Fixture
    catalogue: Catalogue
    visitors: list[Visitor]


def seed_city(capacity, people, warm_up, visitors, rng, hospitals=3, doctors_per_department=4):
    """The catalogue (seed_catalogue), ``visitors`` accounts with history (seed_visitors), and
    the release morning of seed() inside the catalogue: ``people`` patients with tokens (and
    ``warm_up`` more) and one more doctor in the first department with a schedule of
    ``capacity`` numbers for tomorrow, released a minute ago (and one of ``warm_up`` numbers the
    day after). Commit."""
    try:
        everyone = _people(people + warm_up)
        catalogue = seed_catalogue(hospitals, doctors_per_department)
        department = db.session.get(Department, catalogue.department_ids[0])
        doctor = _flushed(
            Doctor(
                department_id=department.id,
                name="放号专家",
                title=DoctorTitle.CHIEF,
                specialty="疑难病例",
                fee_fen=5000,
            )
        )
        tomorrow = clock.business_date(clock.now()) + timedelta(days=1)
        schedule = _schedule(doctor, tomorrow, capacity)
        warm_up_schedule = _schedule(doctor, tomorrow + timedelta(days=1), warm_up)
        fixture = Fixture(
            hospital_id=department.hospital_id,
            department_id=department.id,
            schedule_id=schedule.id,
            capacity=capacity,
            visit_date=schedule.date,
            people=everyone[:people],
            warm_up_schedule_id=warm_up_schedule.id,
            warm_up_people=everyone[people:],
        )
        city = City(fixture, catalogue, seed_visitors(visitors, catalogue, people + warm_up, rng))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return city


def seed_booked_clinic(count: int, prefix="o-clinic-") -> tuple[int, list[Person]]:
    """A released schedule of ``count`` numbers for tomorrow, each booked and paid (WeChat Pay)
    by a patient of its own; its id and the patients. Committed. For the stop-clinic and the
    visit-day benchmarks."""
    _, department, schedule, _ = _catalogue(count, 1)
    people = _people(count, prefix)
    row = SimpleNamespace(
        id=schedule.id,
        doctor_id=schedule.doctor_id,
        department_id=schedule.department_id,
        hospital_id=department.hospital_id,
        date=schedule.date,
        fee_fen=schedule.fee_fen,
    )
    chosen = [
        (person.account_id, person.patient_id, row, seq, OrderStatus.BOOKED, 0)
        for seq, person in enumerate(people, start=1)
    ]
    slot_of = {
        (schedule.id, seq): (slot_id, at)
        for slot_id, seq, at in db.session.execute(
            sa.select(Slot.id, Slot.seq, Slot.suggested_time).where(Slot.schedule_id == schedule.id)
        )
    }
    _insert_orders(chosen, slot_of, utcnow(), first_id=people[0].account_id - 1)
    db.session.commit()
    return schedule.id, people


def seed_waiting_room(count: int) -> list[tuple[int, str]]:
    """A clinic of ``count`` patients all checked in, in number order, with its queue written
    to Redis as the visit-day service writes it; (order id, bearer token) of each. Committed.
    For the visit-day workload: phones polling their place."""
    schedule_id, people = seed_booked_clinic(count, "o-waiting-")
    db.session.execute(
        sa.update(Order)
        .where(Order.schedule_id == schedule_id)
        .values(
            status=OrderStatus.CHECKED_IN,
            queue_rank=Order.seq * ON_TIME_STEP,
            checked_in_at=utcnow(),
        )
    )
    db.session.commit()
    visits.publish(schedule_id)
    order_of = dict(
        db.session.execute(
            sa.select(Order.account_id, Order.id).where(Order.schedule_id == schedule_id)
        )
        .tuples()
        .all()
    )
    return [(order_of[person.account_id], person.token) for person in people]
