"""Orders as hospital staff handle them: finding one, its whole story, refunding it in full."""

import re
from dataclasses import dataclass

import sqlalchemy as sa

from app.domain import clock
from app.domain.orders import CancelledBy, OrderStatus
from app.domain.payments import PaymentStatus, RefundReason
from app.domain.staff import Scope
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import Account, AuditEntry, Message, Order, Patient, Payment, Refund
from app.services import audit, protection
from app.services.booking import slots
from app.services.payments import refunds
from app.services.scoping import get_in_scope, scoped
from app.services.transaction import transaction

SEARCH_LIMIT = 50
_TRADE_NO = re.compile(r"[A-Za-z0-9_-]{6,64}")


def search(scope: Scope, text) -> list[Order]:
    """Orders in scope matching ``text``: an order id, a merchant order number (out_trade_no),
    a mobile number (the patient's or the account's, through their keyed hashes) or a patient's
    exact real name (through its keyed hash); newest first."""
    keys = protection.search_keys(text)
    if not keys.text:
        return []
    matches = []
    if keys.row_id is not None:
        matches.append(Order.id == keys.row_id)
    if keys.phone_hash is not None:
        matches.append(
            Order.patient_id.in_(sa.select(Patient.id).where(Patient.phone_hash == keys.phone_hash))
        )
        matches.append(
            Order.account_id.in_(sa.select(Account.id).where(Account.phone_hash == keys.phone_hash))
        )
    if _TRADE_NO.fullmatch(keys.text) and not keys.text.isdigit():
        matches.append(
            Order.id.in_(sa.select(Payment.order_id).where(Payment.out_trade_no == keys.text))
        )
    if keys.name_hash is not None:
        matches.append(
            Order.patient_id.in_(sa.select(Patient.id).where(Patient.name_hash == keys.name_hash))
        )
    if not matches:
        return []
    statement = sa.select(Order).where(sa.or_(*matches)).order_by(Order.id.desc())
    return db.session.scalars(scoped(statement, Order, scope).limit(SEARCH_LIMIT)).all()


@dataclass(frozen=True)
class Story:
    """An order and everything that happened to it."""

    order: Order
    payments: list
    refunds: list
    messages: list
    audit: list


def story(scope: Scope, order_id) -> Story:
    """The order's whole story, if the scope may see it (404 otherwise)."""
    order = get_in_scope(Order, order_id, scope)

    def rows(model, *where):
        return db.session.scalars(sa.select(model).where(*where).order_by(model.id)).all()

    return Story(
        order=order,
        payments=rows(Payment, Payment.order_id == order.id),
        refunds=rows(Refund, Refund.order_id == order.id),
        messages=rows(Message, Message.order_id == order.id),
        audit=rows(
            AuditEntry, AuditEntry.target_type == "orders", AuditEntry.target_id == order.id
        ),
    )


def refund_in_full(scope: Scope, order_id, reason, staff, now=None) -> Refund:
    """退款: what is left of the order's payment goes back by its channel, for ``reason``; an
    order still to be seen is cancelled by the hospital and its number freed. Refused when
    nothing was paid or everything was refunded already."""
    now = now or clock.now()
    reason = " ".join(str(reason or "").split())
    if not reason or len(reason) > 200:
        message = "请填写退款原因（1–200 字）"
        raise ValidationFailed.on("reason", message)
    freed = False
    with transaction():
        order = get_in_scope(Order, order_id, scope, lock=True)
        paid = db.session.scalars(
            sa.select(Payment)
            .where(Payment.order_id == order.id, Payment.status == PaymentStatus.PAID)
            .order_by(Payment.id)
            .with_for_update()
        ).all()
        if not paid:
            raise Conflict("该挂号单没有已支付的款项", code="nothing_paid")
        left = [(payment, refunds.unrefunded(payment)) for payment in paid]
        payment, owed = next(((p, owed) for p, owed in left if owed > 0), (None, 0))
        if payment is None:
            raise Conflict("该挂号单的款项已全部退款", code="refund_exceeds_payment")
        before = {"status": str(order.status)}
        if order.status in (OrderStatus.BOOKED, OrderStatus.CHECKED_IN):
            order.close(
                OrderStatus.CANCELLED, CancelledBy.HOSPITAL, f"医院退款：{reason}"[:200], now
            )
            slots.release_slot(order)
            freed = True
        refund = refunds.new_refund(payment, owed, 0, RefundReason.STAFF)
        db.session.flush()
        audit.record(
            staff,
            "refund",
            order,
            before=before,
            after={"status": str(order.status), "refund_fen": owed, "reason": reason},
        )
    if freed:
        slots.released(order)
    refunds.schedule_refund(refund)
    return refund
