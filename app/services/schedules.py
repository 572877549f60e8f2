"""排班: staff create schedules and change their capacity, fee and release time."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import Period, ScheduleStatus, SlotState
from app.domain.schedule import minutes_per_patient, release_at, slot_times
from app.domain.staff import Scope
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.infra import cache, gate
from app.models import Department, Doctor, Hospital, Order, Schedule, Slot
from app.services import audit
from app.services.scoping import get_in_scope, scoped
from app.services.transaction import transaction

MAX_CAPACITY = 999


def slot_rows(schedule: Schedule, first=1) -> list[dict]:
    """The slots of a schedule's numbers ``first``..capacity, free, at their suggested times."""
    times = slot_times(
        schedule.start_time, schedule.end_time, schedule.minutes_per_patient, schedule.capacity
    )
    return [
        {"schedule_id": schedule.id, "seq": seq, "state": SlotState.FREE, "suggested_time": at}
        for seq, at in enumerate(times, start=1)
        if seq >= first
    ]


def _refuse(field, message):
    raise ValidationFailed({field: [message]}, message=message)


def create_schedule(
    scope: Scope,
    doctor_id,
    day: date,
    period,
    start: time,
    end: time,
    capacity: int,
    fee_fen: int | None = None,
    staff=None,
    now=None,
) -> Schedule:
    """A schedule of ``capacity`` numbers for a doctor in scope, released by the hospital's
    rules (its window before the day, at its release time)."""
    now = now or clock.now()
    try:
        period = Period(period)
    except ValueError:
        _refuse("period", "请选择上午、下午或晚间")
    if day < clock.business_date(now):
        _refuse("date", "不能为过去的日期排班")
    if end <= start:
        _refuse("end_time", "结束时间须晚于开始时间")
    if not 1 <= capacity <= MAX_CAPACITY:
        _refuse("capacity", f"号源数须为 1–{MAX_CAPACITY}")
    taken = lambda error: Conflict("该医生该时段已有排班", code="schedule_exists")  # noqa: E731
    with transaction(on_conflict=taken):
        doctor = get_in_scope(Doctor, doctor_id, scope)
        hospital = db.session.scalar(
            sa.select(Hospital)
            .join(Department, Department.hospital_id == Hospital.id)
            .where(Department.id == doctor.department_id)
        )
        fee = doctor.fee_fen if fee_fen is None else fee_fen
        if fee < 0:
            _refuse("fee_fen", "挂号费不能为负")
        minutes = minutes_per_patient(start, end, capacity)
        schedule = Schedule(
            doctor_id=doctor.id,
            department_id=doctor.department_id,
            date=day,
            period=period,
            start_time=start,
            end_time=end,
            capacity=capacity,
            fee_fen=fee,
            minutes_per_patient=minutes,
            release_at=release_at(
                day, hospital.release_time, hospital.booking_window_days, clock.CHINA_TZ
            ),
            status=ScheduleStatus.OPEN,
        )
        db.session.add(schedule)
        db.session.flush()
        db.session.execute(sa.insert(Slot), slot_rows(schedule))
        audit.record(
            staff,
            "create_schedule",
            schedule,
            after={
                "date": day.isoformat(),
                "period": str(period),
                "capacity": capacity,
                "fee": fee,
            },
        )
    cache.invalidate_department(schedule.department_id)
    return schedule


def change_schedule(
    scope: Scope,
    schedule_id,
    capacity=None,
    fee_fen=None,
    release: datetime | None = None,
    staff=None,
) -> Schedule:
    """Change a schedule's capacity (never below the highest number already taken), its fee
    (for holds from now on; orders keep what they were charged) or its release time."""
    with transaction():
        schedule = get_in_scope(Schedule, schedule_id, scope, lock=True)
        before = {
            "capacity": schedule.capacity,
            "fee_fen": schedule.fee_fen,
            "release_at": schedule.release_at.isoformat(),
        }
        if capacity is not None and capacity != schedule.capacity:
            _resize(schedule, capacity)
        if fee_fen is not None:
            if fee_fen < 0:
                _refuse("fee_fen", "挂号费不能为负")
            schedule.fee_fen = fee_fen
        if release is not None:
            schedule.release_at = release
        audit.record(
            staff,
            "change_schedule",
            schedule,
            before=before,
            after={
                "capacity": schedule.capacity,
                "fee_fen": schedule.fee_fen,
                "release_at": schedule.release_at.isoformat(),
            },
        )
        free = db.session.scalar(
            sa.select(sa.func.count()).where(
                Slot.schedule_id == schedule.id, Slot.state == SlotState.FREE
            )
        )
    if schedule.status == ScheduleStatus.OPEN:
        gate.reset(schedule.id, free)
    cache.invalidate_department(schedule.department_id)
    return schedule


def _resize(schedule: Schedule, capacity: int):
    if not 1 <= capacity <= MAX_CAPACITY:
        _refuse("capacity", f"号源数须为 1–{MAX_CAPACITY}")
    highest_taken = db.session.scalar(
        sa.select(sa.func.max(Slot.seq)).where(
            Slot.schedule_id == schedule.id, Slot.state != SlotState.FREE
        )
    )
    if highest_taken is not None and capacity < highest_taken:
        _refuse("capacity", f"已有患者挂到 {highest_taken} 号，号源数不能少于 {highest_taken}")
    old = schedule.capacity
    schedule.capacity = capacity
    if capacity < old:
        db.session.execute(
            sa.delete(Slot).where(Slot.schedule_id == schedule.id, Slot.seq > capacity)
        )
    else:
        db.session.execute(sa.insert(Slot), slot_rows(schedule, first=old + 1))


def orders_of(schedule: Schedule) -> list[Order]:
    """Every order of a schedule (a stopped clinic's cancelled ones included), by number."""
    return db.session.scalars(
        sa.select(Order).where(Order.schedule_id == schedule.id).order_by(Order.seq, Order.id)
    ).all()


@dataclass(frozen=True)
class Week:
    """A department's week of schedules, as the grid shows it."""

    department: Department
    days: list  # 7 dates from the first
    doctors: list  # the department's doctors
    cells: dict  # (doctor id, date) → [(schedule, taken)]


def department_doctors(scope: Scope, department_id) -> tuple[Department, list[Doctor]]:
    """A department in scope (404 otherwise) and those of its doctors the scope sees."""
    department = get_in_scope(Department, department_id, scope)
    doctors = db.session.scalars(
        scoped(
            sa.select(Doctor).where(Doctor.department_id == department.id).order_by(Doctor.id),
            Doctor,
            scope,
        )
    ).all()
    return department, doctors


def week(scope: Scope, department_id, first: date) -> Week:
    """The department's schedules for the 7 days from ``first``, with the numbers taken."""
    department, doctors = department_doctors(scope, department_id)
    days = [first + timedelta(days=n) for n in range(7)]
    taken = (
        sa.select(sa.func.count())
        .where(Slot.schedule_id == Schedule.id, Slot.state != SlotState.FREE)
        .correlate(Schedule)
        .scalar_subquery()
    )
    rows = db.session.execute(
        scoped(
            sa.select(Schedule, taken)
            .where(
                Schedule.department_id == department.id, Schedule.date.between(days[0], days[-1])
            )
            .order_by(Schedule.date, Schedule.start_time),
            Schedule,
            scope,
        )
    ).all()
    cells: dict = {}
    for schedule, count in rows:
        cells.setdefault((schedule.doctor_id, schedule.date), []).append((schedule, count))
    return Week(department, days, doctors, cells)


def departments(scope: Scope) -> list[Department]:
    """The departments in scope that have doctors, by hospital and name."""
    return db.session.scalars(
        scoped(
            sa.select(Department)
            .where(Department.id.in_(sa.select(Doctor.department_id)))
            .order_by(Department.hospital_id, Department.id),
            Department,
            scope,
        )
    ).all()
