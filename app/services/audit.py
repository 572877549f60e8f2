"""The audit log (操作日志): every change staff make, who, when, from what to what."""

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from app.domain import clock
from app.extensions import db
from app.models import (
    AuditEntry,
    Department,
    Doctor,
    Hospital,
    Order,
    Payment,
    Refund,
    Schedule,
    ScheduleRequest,
    ScheduleTemplate,
    Staff,
)
from app.services.scoping import scoped


def _hospital_of(target) -> int | None:
    """The hospital ``target`` belongs to, so that its hospital's admins read the entry."""
    if isinstance(target, ScheduleRequest):
        target = db.session.get(Schedule, target.schedule_id)
    elif isinstance(target, ScheduleTemplate):
        target = db.session.get(Doctor, target.doctor_id)
    if isinstance(target, Hospital):
        return target.id
    if isinstance(target, Order | Staff):
        return target.hospital_id
    if isinstance(target, Refund | Payment) and target.order_id is not None:
        order = db.session.get(Order, target.order_id)
        return order.hospital_id if order else None
    if isinstance(target, Department):
        return target.hospital_id
    if isinstance(target, Schedule | Doctor):
        department = db.session.get(Department, target.department_id)
        return department.hospital_id if department else None
    return None


def record(staff, action, target, before=None, after=None, actor=None):
    """Add an entry for ``staff`` (None for a command line's user, named by ``actor``) doing
    ``action`` to ``target`` (a model row, or the name of a thing without one, e.g. "job"), in
    the caller's transaction."""
    row = not isinstance(target, str)
    db.session.add(
        AuditEntry(
            staff_id=staff.id if staff is not None else None,
            actor=(staff.username if staff is not None else actor or "system")[:64],
            action=action,
            target_type=type(target).__tablename__ if row else target,
            target_id=target.id if row else None,
            hospital_id=_hospital_of(target) if row else None,
            before=before or {},
            after=after or {},
            at=clock.now(),
        )
    )


def entries(scope, action=None, actor=None, day=None, limit=200) -> list[AuditEntry]:
    """The audit entries ``scope`` may read (its hospital's; everything for a platform admin),
    newest first, filtered by action, actor and China-time day."""
    statement = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        statement = statement.where(AuditEntry.action == action)
    if actor:
        statement = statement.where(AuditEntry.actor == actor)
    if day is not None:
        start = datetime.combine(day, time(0), tzinfo=clock.CHINA_TZ)
        statement = statement.where(
            AuditEntry.at >= start, AuditEntry.at < start + timedelta(days=1)
        )
    return db.session.scalars(scoped(statement, AuditEntry, scope)).all()
