"""The one place staff reads are scoped: every query of the admin pages goes through ``scoped``,
and every row fetched by an id from a URL or a form through ``get_in_scope``, so that editing
an id never reaches another hospital's, department's or doctor's row (it is simply not found)."""

import sqlalchemy as sa

from app.domain.staff import Scope
from app.errors import NotFound
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
    StatsBurst,
    StatsDaily,
    StatsHour,
    StatsPayment,
)

# Orders, and the statistics' rollups that copy an order's places (hospital, department and,
# but for payments and bursts, doctor): scoped by the narrowest place the scope names.
_PLACED = (Order, StatsDaily, StatsHour, StatsPayment, StatsBurst)


def _departments_of(hospital_id):
    return sa.select(Department.id).where(Department.hospital_id == hospital_id)


def _conditions(model, scope: Scope) -> list:
    """What limits rows of ``model`` to ``scope`` (the narrowest place the scope names)."""
    hospital, department, doctor = scope.hospital_id, scope.department_id, scope.doctor_id
    if model is Hospital:
        return [Hospital.id == hospital]
    if model is Department:
        if department is not None:
            return [Department.id == department]
        return [Department.hospital_id == hospital]
    if model is Doctor:
        if doctor is not None:
            return [Doctor.id == doctor]
        if department is not None:
            return [Doctor.department_id == department]
        return [Doctor.department_id.in_(_departments_of(hospital))]
    if model is Schedule:
        if doctor is not None:
            return [Schedule.doctor_id == doctor]
        if department is not None:
            return [Schedule.department_id == department]
        return [Schedule.department_id.in_(_departments_of(hospital))]
    if model in _PLACED:
        if doctor is not None:
            doctor_id = getattr(model, "doctor_id", None)
            return [doctor_id == doctor] if doctor_id is not None else [sa.false()]
        if department is not None:
            return [model.department_id == department]
        return [model.hospital_id == hospital]
    if model in (Payment, Refund):
        orders = scoped(sa.select(Order.id), Order, scope)
        return [model.order_id.in_(orders)]
    if model is AuditEntry:
        return [AuditEntry.hospital_id == hospital]
    raise TypeError(f"no scope rule for {model.__name__}")


def conditions(model, scope: Scope) -> list:
    """What limits rows of ``model`` to ``scope``, for a statement that adds them itself (none
    for a scope that sees everything)."""
    return [] if scope.everything else _conditions(model, scope)


def scoped(statement, model, scope: Scope):
    """``statement`` limited to the rows of ``model`` that ``scope`` may see."""
    if scope.everything:
        return statement
    return statement.where(*_conditions(model, scope))


def get_in_scope(model, row_id, scope: Scope, lock=False):
    """The row of ``model`` with id ``row_id`` if ``scope`` may see it; 404 otherwise, exactly
    as for an id that does not exist."""
    statement = scoped(sa.select(model).where(model.id == row_id), model, scope)
    if lock:
        statement = statement.with_for_update()
    row = db.session.scalar(statement)
    if row is None:
        raise NotFound("未找到该记录")
    return row
