"""Reconciliation (对账) results: one per day and channel, with the differences found."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.payments import PaymentChannel
from app.domain.reconciliation import FindingKind, ReconciliationStatus
from app.extensions import db
from app.models.catalogue import TimestampMixin
from app.models.types import BigId, StrEnum


class Reconciliation(TimestampMixin, db.Model):
    """对账: one channel's bill of one day against our books; running the day again replaces it."""

    __tablename__ = "reconciliation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bill_date: Mapped[date] = mapped_column(sa.Date)
    channel: Mapped[PaymentChannel] = mapped_column(StrEnum(PaymentChannel, 16))
    status: Mapped[ReconciliationStatus] = mapped_column(StrEnum(ReconciliationStatus, 16))
    matched_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    missing_here_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    missing_there_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    amount_mismatch_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The day's money in fen, by the channel's bill and by our books.
    paid_there_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_there_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    paid_here_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_here_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    error: Mapped[str] = mapped_column(sa.String(255), default="")

    items: Mapped[list["ReconciliationItem"]] = relationship(
        order_by="ReconciliationItem.id",
        cascade="all, delete-orphan",
        back_populates="reconciliation",
    )

    __table_args__ = (
        sa.UniqueConstraint("bill_date", "channel", name="uq_reconciliation_day_channel"),
    )

    def count_of(self, kind: FindingKind) -> int:
        """How many payments and refunds of the day were found ``kind``."""
        return getattr(self, f"{FindingKind(kind).value}_count")


class ReconciliationItem(TimestampMixin, db.Model):
    """One difference between a bill and our books, for staff to resolve."""

    __tablename__ = "reconciliation_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("reconciliation.id", name="fk_reconciliation_item_reconciliation")
    )
    kind: Mapped[FindingKind] = mapped_column(StrEnum(FindingKind, 24))
    # Set for a payment and for a refund (its payment's); out_refund_no only for a refund.
    out_trade_no: Mapped[str] = mapped_column(sa.String(64))
    out_refund_no: Mapped[str | None] = mapped_column(sa.String(64))
    amount_here_fen: Mapped[int | None] = mapped_column(sa.Integer)
    amount_there_fen: Mapped[int | None] = mapped_column(sa.Integer)
    note: Mapped[str] = mapped_column(sa.String(255), default="")
    resolved: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    reconciliation: Mapped[Reconciliation] = relationship(back_populates="items")

    __table_args__ = (
        sa.Index("ix_reconciliation_item_reconciliation", "reconciliation_id", "kind"),
        sa.Index("ix_reconciliation_item_out_trade_no", "out_trade_no"),
    )
