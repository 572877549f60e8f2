"""The patient's orders, as they read them."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.errors import NotFound
from app.extensions import db
from app.models import Order
from app.services.pagination import Page, paginate


def list_orders(account_id, status=None, page=1, per_page=20) -> Page:
    """The account's orders, newest first, optionally of one status."""
    statement = (
        sa.select(Order)
        .options(*_order_details())
        .where(Order.account_id == account_id)
        .order_by(Order.id.desc())
    )
    if status:
        statement = statement.where(Order.status == status)
    return paginate(statement, page, per_page)


def _order_details():
    return (
        joinedload(Order.schedule),
        joinedload(Order.doctor),
        joinedload(Order.department),
        joinedload(Order.hospital),
        joinedload(Order.patient),
    )


def get_order(account_id, order_id) -> Order:
    """One of the account's orders; another account's is not_found."""
    order = db.session.scalar(
        sa.select(Order)
        .options(*_order_details())
        .where(Order.id == order_id, Order.account_id == account_id)
    )
    if order is None:
        raise NotFound("未找到该挂号单")
    return order
