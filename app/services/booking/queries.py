"""The patient's orders, as they read them."""

from itertools import groupby
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.domain.payments import PaymentStatus
from app.errors import NotFound
from app.extensions import db
from app.infra.packedsql import PackedSelect
from app.models import Department, Doctor, Hospital, Order, Patient, Payment, Refund, Schedule
from app.services.pagination import Page, packed_page

_order, _schedule, _patient = Order.__table__.c, Schedule.__table__.c, Patient.__table__.c
_doctor, _department = Doctor.__table__.c, Department.__table__.c
_hospital, _payment, _refund = Hospital.__table__.c, Payment.__table__.c, Refund.__table__.c


# A page of an account's orders with what their answer shows of the rows they refer to: one
# narrow row per order, packed as one JSON array (ORM objects joined or loaded one relation at a
# time cost several times more, most of it the driver parsing column definitions, which packing
# leaves at one per statement: app/infra/packedsql.py).
_PAGE = (
    sa.select(
        _order.id,
        _order.status,
        _order.seq,
        _order.suggested_time,
        _order.visit_date,
        _order.amount_fen,
        _order.expires_at,
        _order.schedule_id,
        _order.reschedule_count,
        _order.cancelled_by,
        _order.cancel_reason,
        _order.created_at,
        _schedule.period,
        _hospital.id.label("hospital_id"),
        _hospital.name.label("hospital_name"),
        _department.id.label("department_id"),
        _department.name.label("department_name"),
        _department.location,
        _doctor.id.label("doctor_id"),
        _doctor.name.label("doctor_name"),
        _doctor.title,
        _patient.id.label("patient_id"),
        _patient.name_cipher.label("patient_name"),
        _patient.id_number_masked,
        # What the answer shows of the order's payments (the latest one's merchant number,
        # whether any was paid) and whether it has refunds, read with the page: only a page
        # with refunds needs a second statement.
        sa.select(_payment.out_trade_no)
        .where(_payment.order_id == _order.id)
        .order_by(_payment.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("out_trade_no"),
        sa.exists()
        .where(_payment.order_id == _order.id, _payment.status == PaymentStatus.PAID)
        .label("paid"),
        sa.exists().where(_refund.order_id == _order.id).label("refunded"),
    )
    .join(Schedule.__table__, _schedule.id == _order.schedule_id)
    .join(Hospital.__table__, _hospital.id == _order.hospital_id)
    .join(Department.__table__, _department.id == _order.department_id)
    .join(Doctor.__table__, _doctor.id == _order.doctor_id)
    .join(Patient.__table__, _patient.id == _order.patient_id)
    .where(_order.account_id == sa.bindparam("account_id"))
    .order_by(_order.id.desc())
    .limit(sa.bindparam("limit"))
    .offset(sa.bindparam("offset"))
)
_PAGE_OF_STATUS = PackedSelect(
    _PAGE.where(_order.status == sa.bindparam("status", type_=_order.status.type))
)
_PAGE = PackedSelect(_PAGE)
_COUNT = (
    sa.select(sa.func.count())
    .select_from(Order.__table__)
    .where(_order.account_id == sa.bindparam("account_id"))
)
_COUNT_OF_STATUS = _COUNT.where(_order.status == sa.bindparam("status", type_=_order.status.type))
_REFUNDS = PackedSelect(
    sa.select(_refund.order_id, _refund.amount_fen, _refund.fee_fen, _refund.reason, _refund.status)
    .where(_refund.order_id.in_(sa.bindparam("order_ids", expanding=True)))
    .order_by(_refund.order_id, _refund.id)
)


def list_orders(account_id, status=None, page=1, per_page=20) -> Page:
    """The account's orders, newest first, optionally of one status."""
    # Prebuilt statements: compiled once, their cache keys made once.
    params = {"account_id": account_id}
    if status:
        params["status"] = status
    rows, total = packed_page(
        _PAGE_OF_STATUS if status else _PAGE,
        _COUNT_OF_STATUS if status else _COUNT,
        params,
        page,
        per_page,
    )
    refunded = {"order_ids": [row.id for row in rows if row.refunded]}
    refunds = (
        _by_order(_REFUNDS.rows(db.session.connection(), refunded)) if refunded["order_ids"] else {}
    )
    items = [_listed(row, refunds.get(row.id, [])) for row in rows]
    return Page(items=items, page=page, per_page=per_page, total=total)


def _by_order(rows) -> dict:
    return {order_id: list(group) for order_id, group in groupby(rows, lambda row: row.order_id)}


def _listed(row, refunds) -> SimpleNamespace:
    """An order of a page, with the attributes OrderSchema reads of an Order (of its payments:
    the latest one's merchant number and whether any was paid)."""
    return SimpleNamespace(
        **{name: getattr(row, name) for name in _ORDER_COLUMNS},
        schedule=SimpleNamespace(id=row.schedule_id, period=row.period),
        hospital=SimpleNamespace(id=row.hospital_id, name=row.hospital_name),
        department=SimpleNamespace(
            id=row.department_id, name=row.department_name, location=row.location
        ),
        doctor=SimpleNamespace(id=row.doctor_id, name=row.doctor_name, title=row.title),
        patient=SimpleNamespace(
            id=row.patient_id, name=row.patient_name, id_number_masked=row.id_number_masked
        ),
        payments=_payments_shown(row),
        refunds=refunds,
    )


def _payments_shown(row) -> list:
    """The order's payments as OrderSchema reads them: the latest one's merchant number, and
    whether any was paid."""
    if row.out_trade_no is None:
        return []
    status = PaymentStatus.PAID if row.paid else None
    return [SimpleNamespace(out_trade_no=row.out_trade_no, status=status)]


_ORDER_COLUMNS = (
    "id",
    "status",
    "seq",
    "suggested_time",
    "visit_date",
    "amount_fen",
    "expires_at",
    "schedule_id",
    "reschedule_count",
    "cancelled_by",
    "cancel_reason",
    "created_at",
)


def get_order(account_id, order_id) -> Order:
    """One of the account's orders; another account's is not_found."""
    order = db.session.scalar(
        sa.select(Order)
        .options(
            joinedload(Order.schedule),
            joinedload(Order.doctor),
            joinedload(Order.department),
            joinedload(Order.hospital),
            joinedload(Order.patient),
        )
        .where(Order.id == order_id, Order.account_id == account_id)
    )
    if order is None:
        raise NotFound("未找到该挂号单")
    return order
