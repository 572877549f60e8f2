"""排班模板: doctors' weekly clinics, and the schedules made from them for the coming days."""

import logging
from dataclasses import dataclass
from datetime import date, time

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import Period
from app.domain.planning import WEEKDAYS, coming_days
from app.domain.staff import Scope
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Department, Doctor, Hospital, Schedule, ScheduleTemplate
from app.services import audit, schedules
from app.services.scoping import get_in_scope, scoped
from app.services.transaction import lock_one, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DepartmentTemplates:
    """A department's templates as the page shows them, with the doctors one can be added for."""

    department: Department
    doctors: list
    templates: list  # ScheduleTemplate rows, their doctor loaded


def of_department(scope: Scope, department_id) -> DepartmentTemplates:
    """The templates of a department in scope, active first, by doctor, weekday and period."""
    department, doctors = schedules.department_doctors(scope, department_id)
    templates = db.session.scalars(
        scoped(
            sa.select(ScheduleTemplate)
            .join(Doctor, Doctor.id == ScheduleTemplate.doctor_id)
            .where(Doctor.department_id == department.id)
            .order_by(
                ScheduleTemplate.active.desc(),
                ScheduleTemplate.doctor_id,
                ScheduleTemplate.weekday,
                ScheduleTemplate.start_time,
            ),
            Doctor,
            scope,
        )
    ).all()
    return DepartmentTemplates(department, doctors, templates)


def add_template(
    scope: Scope,
    doctor_id,
    weekday: int,
    period,
    start: time,
    end: time,
    capacity: int,
    fee_fen: int | None = None,
    staff=None,
) -> ScheduleTemplate:
    """A doctor's weekly clinic on ``weekday`` (0 is Monday) and ``period``; a deactivated one
    of the same weekday and period is taken up again with these values."""
    try:
        period = Period(period)
    except ValueError:
        raise ValidationFailed.on("period", "请选择上午、下午或晚间") from None
    if weekday not in range(7):
        raise ValidationFailed.on("weekday", "请选择星期几")
    if end <= start:
        raise ValidationFailed.on("end_time", "结束时间须晚于开始时间")
    if not 1 <= capacity <= schedules.MAX_CAPACITY:
        raise ValidationFailed.on("capacity", f"号源数须为 1–{schedules.MAX_CAPACITY}")
    if fee_fen is not None and fee_fen < 0:
        raise ValidationFailed.on("fee_fen", "挂号费不能为负")
    taken = lambda error: Conflict(  # noqa: E731
        "该医生该时段已有排班模板", code="template_exists"
    )
    with transaction(on_conflict=taken):
        doctor = get_in_scope(Doctor, doctor_id, scope, lock=True)
        template = lock_one(
            sa.select(ScheduleTemplate).where(
                ScheduleTemplate.doctor_id == doctor.id,
                ScheduleTemplate.weekday == weekday,
                ScheduleTemplate.period == period,
            )
        )
        if template is not None and template.active:
            raise taken(None)
        if template is None:
            template = ScheduleTemplate(doctor_id=doctor.id, weekday=weekday, period=period)
            db.session.add(template)
        template.start_time, template.end_time = start, end
        template.capacity, template.fee_fen, template.active = capacity, fee_fen, True
        db.session.flush()
        audit.record(
            staff,
            "create_schedule_template",
            template,
            after={
                "doctor": doctor.id,
                "weekday": WEEKDAYS[weekday],
                "period": str(period),
                "start": start.isoformat("minutes"),
                "end": end.isoformat("minutes"),
                "capacity": capacity,
                "fee": fee_fen,
            },
        )
    return template


def deactivate_template(scope: Scope, template_id, staff=None) -> ScheduleTemplate:
    """Stop a template making schedules (those already made stay)."""
    with transaction():
        template = lock_one(sa.select(ScheduleTemplate).where(ScheduleTemplate.id == template_id))
        if template is None:
            raise NotFound("未找到该记录")
        doctor = get_in_scope(Doctor, template.doctor_id, scope)
        if template.active:
            template.active = False
            audit.record(
                staff,
                "deactivate_schedule_template",
                template,
                before={"doctor": doctor.id, "active": True},
                after={"doctor": doctor.id, "active": False},
            )
    return template


def generate_from_templates(today: date | None = None, days_ahead=None, department_id=None):
    """Make, for every active template (of one department if named), the schedules of the days
    from tomorrow to the hospital's booking window plus one (or ``days_ahead``) that do not
    exist yet, through ``schedules.create_schedule`` (audited as "system"). Running it again
    makes nothing new. Returns the ids of the schedules made."""
    today = today or clock.business_date(clock.now())
    statement = (
        sa.select(ScheduleTemplate, Hospital.booking_window_days)
        .join(Doctor, Doctor.id == ScheduleTemplate.doctor_id)
        .join(Department, Department.id == Doctor.department_id)
        .join(Hospital, Hospital.id == Department.hospital_id)
        .where(ScheduleTemplate.active.is_(True))
        .order_by(ScheduleTemplate.id)
    )
    if department_id is not None:
        statement = statement.where(Doctor.department_id == department_id)
    wanted = []
    for template, window in db.session.execute(statement).all():
        window = window if days_ahead is None else days_ahead
        for day in coming_days(today, window, template.weekday):
            wanted.append(
                (
                    template.doctor_id,
                    day,
                    template.period,
                    template.start_time,
                    template.end_time,
                    template.capacity,
                    template.fee_fen,
                )
            )
    if not wanted:
        db.session.rollback()
        return []
    existing = set(
        db.session.execute(
            sa.select(Schedule.doctor_id, Schedule.date, Schedule.period).where(
                Schedule.doctor_id.in_({w[0] for w in wanted}),
                Schedule.date.between(min(w[1] for w in wanted), max(w[1] for w in wanted)),
            )
        ).all()
    )
    db.session.rollback()  # end the read before one transaction per schedule
    made = []
    for doctor_id, day, period, start, end, capacity, fee_fen in wanted:
        if (doctor_id, day, period) in existing:
            continue
        try:
            schedule = schedules.create_schedule(
                Scope(), doctor_id, day, period, start, end, capacity, fee_fen, staff=None
            )
        except Conflict:
            continue  # made meanwhile, by hand or by another run: the unique key said so
        made.append(schedule.id)
    if made:
        log.info("%d schedules made from templates", len(made))
    return made
