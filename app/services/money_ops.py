"""What hospital operations staff act on until the admin page lists it: refunds that failed,
reconciliation differences not yet resolved, and re-running a day's reconciliation."""

from datetime import date

import sqlalchemy as sa

from app.domain.payments import PaymentChannel, RefundStatus
from app.domain.reconciliation import FindingKind
from app.domain.staff import Scope
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Reconciliation, ReconciliationItem, Refund
from app.services import audit, reconciliation
from app.services.payments import refunds
from app.services.scoping import scoped
from app.services.transaction import lock_one, transaction

EVERYTHING = Scope()


def failed_refunds(scope: Scope = EVERYTHING) -> list[Refund]:
    """Refunds the channels would not complete (in ``scope``): money still owed to patients."""
    return db.session.scalars(
        scoped(
            sa.select(Refund).where(Refund.status == RefundStatus.FAILED).order_by(Refund.id),
            Refund,
            scope,
        )
    ).all()


def retry_refund(refund_id, staff=None) -> Refund:
    """Send a failed refund again (after staff fixed what stopped it)."""
    with transaction():
        refund = lock_one(sa.select(Refund).where(Refund.id == refund_id))
        if refund is None:
            raise NotFound("未找到该退款")
        if refund.status != RefundStatus.FAILED:
            raise Conflict("只能重试失败的退款", code="refund_not_failed")
        refund.status = RefundStatus.PENDING
        refund.attempts = 0
        audit.record(
            staff,
            "retry_refund",
            refund,
            before={"status": str(RefundStatus.FAILED)},
            after={"status": str(RefundStatus.PENDING)},
            actor="cli" if staff is None else None,
        )
    refunds.schedule_refund(refund)
    return refund


def open_differences() -> list[tuple[Reconciliation, ReconciliationItem]]:
    """Reconciliation differences staff have not marked resolved, newest day first."""
    return db.session.execute(
        sa.select(Reconciliation, ReconciliationItem)
        .join(ReconciliationItem, ReconciliationItem.reconciliation_id == Reconciliation.id)
        .where(ReconciliationItem.resolved.is_(False))
        .order_by(Reconciliation.bill_date.desc(), ReconciliationItem.id)
    ).all()


def recent_days(limit=30) -> list[Reconciliation]:
    """The latest days' reconciliations of every channel, newest first."""
    return db.session.scalars(
        sa.select(Reconciliation)
        .order_by(Reconciliation.bill_date.desc(), Reconciliation.channel)
        .limit(limit)
    ).all()


def resolve_difference(item_id, note, staff=None) -> ReconciliationItem:
    """Mark a reconciliation difference resolved, saying how (对账差异处理)."""
    note = " ".join(str(note or "").split())
    if not note or len(note) > 255:
        message = "请填写处理说明（1–255 字）"
        raise ValidationFailed.on("note", message)
    with transaction():
        item = lock_one(sa.select(ReconciliationItem).where(ReconciliationItem.id == item_id))
        if item is None or item.kind == FindingKind.MATCHED:
            raise NotFound("未找到该对账差异")
        if item.resolved:
            raise Conflict("该差异已处理", code="already_resolved")
        item.resolved = True
        item.note = note
        audit.record(
            staff,
            "resolve_difference",
            item,
            before={"resolved": False},
            after={"resolved": True, "note": note},
            actor="cli" if staff is None else None,
        )
    return item


def reconcile_day(day: date, channels=tuple(PaymentChannel)) -> list[Reconciliation]:
    """Reconcile ``day`` again for the given channels (e.g. after a failed run)."""
    return [reconciliation.reconcile(channel, day) for channel in channels]
