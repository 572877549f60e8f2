"""排班: staff create schedules and change their capacity, fee and release time."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from app.domain import clock, schedule_times
from app.domain.enums import Period, ScheduleStatus, SlotState
from app.domain.orders import ACTIVE_STATUSES, OrderStatus
from app.domain.schedule import MAX_DAYS_AHEAD, release_at, release_refusal, slot_times
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
        raise ValidationFailed.on("period", "请选择上午、下午或晚间") from None
    today = clock.business_date(now)
    if day < today:
        raise ValidationFailed.on("date", "不能为过去的日期排班")
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationFailed.on("date", f"只能为 {MAX_DAYS_AHEAD} 天之内的日期排班")
    if end <= start:
        raise ValidationFailed.on("end_time", "结束时间须晚于开始时间")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationFailed.on("capacity", f"号源数须为 1–{MAX_CAPACITY}")
    try:
        minutes = schedule_times.retimed(start, end, capacity).minutes_per_patient
    except ValueError:
        raise ValidationFailed.on(
            "end_time", f"时段太短，排不下 {capacity} 个号（最后的号将排到次日）"
        ) from None
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
            raise ValidationFailed.on("fee_fen", "挂号费不能为负")
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
    start: time | None = None,
    end: time | None = None,
    staff=None,
    now=None,
) -> Schedule:
    """Change a schedule's capacity (never below the highest number already taken), its fee
    (for holds from now on; orders keep what they were charged), its release time, or its start
    and end times (see ``_move``: every number's suggested time follows, never earlier for a
    number already taken)."""
    now = now or clock.now()
    with transaction():
        schedule = get_in_scope(Schedule, schedule_id, scope, lock=True)
        before = _changeable(schedule)
        resizing = capacity is not None and capacity != schedule.capacity
        if resizing:
            _may_resize(schedule, capacity)
        new_times = (start or schedule.start_time, end or schedule.end_time)
        if new_times != (schedule.start_time, schedule.end_time):
            _may_move(schedule, new_times, now)
            _move(schedule, *new_times, capacity if resizing else schedule.capacity)
        if resizing:
            _resize(schedule, capacity)
        if fee_fen is not None:
            if fee_fen < 0:
                raise ValidationFailed.on("fee_fen", "挂号费不能为负")
            schedule.fee_fen = fee_fen
        if release is not None:
            refusal = release_refusal(release, schedule.date, schedule.end_time, clock.CHINA_TZ)
            if refusal:
                raise ValidationFailed.on("release_at", refusal)
            schedule.release_at = release
        audit.record(staff, "change_schedule", schedule, before=before, after=_changeable(schedule))
        free = db.session.scalar(
            sa.select(sa.func.count()).where(
                Slot.schedule_id == schedule.id, Slot.state == SlotState.FREE
            )
        )
    if schedule.status == ScheduleStatus.OPEN:
        gate.reset(schedule.id, free)
    cache.invalidate_department(schedule.department_id)
    return schedule


def _changeable(schedule: Schedule) -> dict:
    """What change_schedule changes, as the audit log keeps it."""
    return {
        "capacity": schedule.capacity,
        "fee_fen": schedule.fee_fen,
        "release_at": schedule.release_at.isoformat(),
        "start_time": schedule.start_time.isoformat("minutes"),
        "end_time": schedule.end_time.isoformat("minutes"),
    }


def _may_move(schedule: Schedule, new_times: tuple[time, time], now: datetime):
    """Refuse moving the times of a stopped clinic, a past one, one already begun (its start
    reached or a patient checked in) or to a start already gone; or to an end not after the
    start."""
    start, end = new_times
    if end <= start:
        raise ValidationFailed.on("end_time", "结束时间须晚于开始时间")
    if schedule.status == ScheduleStatus.STOPPED:
        raise Conflict("该出诊已停诊，不能调整时间", code="schedule_stopped")
    today = clock.business_date(now)
    if schedule.date < today:
        raise Conflict("该出诊已结束，不能调整时间", code="schedule_past")
    arrived = db.session.scalar(
        sa.select(sa.func.count()).where(
            Order.schedule_id == schedule.id,
            Order.status.in_((OrderStatus.CHECKED_IN, OrderStatus.CALLED, OrderStatus.COMPLETED)),
        )
    )
    if arrived:
        raise Conflict("已有患者签到，不能调整出诊时间", code="schedule_started")
    if schedule.date == today:
        clock_now = clock.to_china(now).time()
        if clock_now >= schedule.start_time:
            raise Conflict("该出诊已开始，不能调整时间", code="schedule_started")
        if start <= clock_now:
            raise ValidationFailed.on("start_time", "开始时间已过，请选择稍后的时间")


def _move(schedule: Schedule, start: time, end: time, capacity: int):
    """New start and end times: minutes per patient from the new span over the (new) capacity
    and every number's suggested time (start + (seq − 1) × minutes), as a new schedule's; the
    active orders take their number's new time. A move that would bring a taken number's time
    forward is refused: its patient would come late."""
    try:
        pace = schedule_times.retimed(start, end, capacity)
    except ValueError:
        raise ValidationFailed.on(
            "end_time", f"时段太短，排不下 {capacity} 个号（最后的号将排到次日）"
        ) from None
    # Locking reads, orders before slots as a payment's confirmation and a stop take them: the
    # numbers as the last committed hold left them, and none taken at its old time meanwhile.
    _active_orders(schedule.id)
    slots = db.session.scalars(
        sa.select(Slot)
        .where(Slot.schedule_id == schedule.id)
        .order_by(Slot.seq)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    taken = {slot.seq: slot.suggested_time for slot in slots if slot.state != SlotState.FREE}
    brought = schedule_times.brought_forward(taken, pace.times)
    if brought is not None:
        raise ValidationFailed.on(
            "start_time",
            f"{brought.seq} 号已有患者预约，调整后其建议就诊时间将由 "
            f"{brought.was:%H:%M} 提前到 {brought.would_be:%H:%M}；"
            "已有预约时，各号的就诊时间只能推迟或保持不变",
        )
    schedule.start_time, schedule.end_time = start, end
    schedule.minutes_per_patient = pace.minutes_per_patient
    for slot in slots:
        if slot.seq <= capacity:  # those above go with the capacity
            slot.suggested_time = pace.times[slot.seq - 1]
    for order in _active_orders(schedule.id):  # with those held before the slots were locked
        order.suggested_time = pace.times[order.seq - 1]


def _active_orders(schedule_id) -> list[Order]:
    return db.session.scalars(
        sa.select(Order)
        .where(Order.schedule_id == schedule_id, Order.status.in_(tuple(ACTIVE_STATUSES)))
        .order_by(Order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def _may_resize(schedule: Schedule, capacity: int):
    """Refuse a capacity outside 1..MAX_CAPACITY or below the highest number already taken."""
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationFailed.on("capacity", f"号源数须为 1–{MAX_CAPACITY}")
    highest_taken = db.session.scalar(
        sa.select(sa.func.max(Slot.seq)).where(
            Slot.schedule_id == schedule.id, Slot.state != SlotState.FREE
        )
    )
    if highest_taken is not None and capacity < highest_taken:
        raise ValidationFailed.on(
            "capacity", f"已有患者挂到 {highest_taken} 号，号源数不能少于 {highest_taken}"
        )


def _resize(schedule: Schedule, capacity: int):
    """The numbers above a smaller capacity go; those up to a larger one come, at the schedule's
    pace (numbers past the end keep being spaced out, never into the next day)."""
    old = schedule.capacity
    schedule.capacity = capacity
    if capacity < old:
        db.session.execute(
            sa.delete(Slot).where(Slot.schedule_id == schedule.id, Slot.seq > capacity)
        )
        return
    try:
        rows = slot_rows(schedule, first=old + 1)
    except ValueError:
        raise ValidationFailed.on(
            "capacity",
            f"号源数过多：每位 {schedule.minutes_per_patient} 分钟，第 {capacity} 号将排到次日",
        ) from None
    db.session.execute(sa.insert(Slot), rows)


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
