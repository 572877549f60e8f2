"""Payments (one per attempt and channel) and refunds: every fen that moves."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.payments import (
    PaymentChannel,
    PaymentStatus,
    RefundReason,
    RefundStatus,
    new_out_trade_no,
)
from app.extensions import db
from app.models.catalogue import TimestampMixin
from app.models.orders import Order
from app.models.types import BigId, StrEnum, UTCDateTime


class Payment(TimestampMixin, db.Model):
    """A payment attempt for an order through one channel; marked paid only by the channel."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # NULL only for money a channel's bill showed and no order of ours explains (found by
    # reconciliation, recorded so that it can be refunded in full).
    order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("orders.id", name="fk_payment_order")
    )
    channel: Mapped[PaymentChannel] = mapped_column(StrEnum(PaymentChannel, 16))
    out_trade_no: Mapped[str] = mapped_column(sa.String(32))
    amount_fen: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[PaymentStatus] = mapped_column(
        StrEnum(PaymentStatus, 16), default=PaymentStatus.PENDING
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What the channel gave us to start paying: WeChat's prepay_id, or Alipay's cashier URL.
    prepay_id: Mapped[str | None] = mapped_column(sa.String(64))
    pay_url: Mapped[str | None] = mapped_column(sa.Text)
    provider_trade_no: Mapped[str | None] = mapped_column(sa.String(64))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("out_trade_no", name="uq_payment_out_trade_no"),
        sa.Index("ix_payment_order", "order_id"),
        sa.Index("ix_payment_status_created", "status", "created_at"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_payment_amount"),
    )

    @classmethod
    def pending_for(cls, order, channel: PaymentChannel, **fields) -> "Payment":
        """A new pending payment of ``order`` through ``channel``: a fresh merchant order number,
        the order's amount, expiring with its hold (``fields`` set more, e.g. a prepay id)."""
        return cls(
            order_id=order.id,
            channel=channel,
            out_trade_no=new_out_trade_no(order.id, channel),
            amount_fen=order.amount_fen,
            expires_at=order.expires_at,
            status=PaymentStatus.PENDING,
            **fields,
        )


class Refund(TimestampMixin, db.Model):
    """Money going back by the payment's channel, with the fee the hospital keeps."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id", name="fk_refund_payment"))
    # NULL for the refund of a payment found by reconciliation (see Payment.order_id).
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", name="fk_refund_order"))
    out_refund_no: Mapped[str] = mapped_column(sa.String(32))
    amount_fen: Mapped[int] = mapped_column(sa.Integer)
    fee_fen: Mapped[int] = mapped_column(sa.Integer, default=0)
    reason: Mapped[RefundReason] = mapped_column(StrEnum(RefundReason, 24))
    status: Mapped[RefundStatus] = mapped_column(
        StrEnum(RefundStatus, 16), default=RefundStatus.PENDING
    )
    provider_refund_no: Mapped[str | None] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    last_error: Mapped[str] = mapped_column(sa.String(200), default="")
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("out_refund_no", name="uq_refund_out_refund_no"),
        sa.Index("ix_refund_payment", "payment_id"),
        # Refunds by status, and the day's successful ones (the dashboard's revenue today).
        sa.Index("ix_refund_status_succeeded", "status", "succeeded_at"),
        sa.CheckConstraint("amount_fen > 0", name="ck_refund_amount"),
        sa.CheckConstraint("fee_fen >= 0", name="ck_refund_fee"),
    )
