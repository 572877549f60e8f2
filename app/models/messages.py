"""Messages to patients: the consents they granted and the outbox of what is sent to them."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.messages import MessageChannel, MessageKind, MessageStatus
from app.extensions import db
from app.models.catalogue import TimestampMixin
from app.models.types import BigId, JsonText, StrEnum, UTCDateTime, utcnow


class SubscriptionConsent(db.Model):
    """订阅消息授权: how many messages of a kind the account may still receive (one per grant)."""

    __tablename__ = "subscription_consent"

    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("account.id", name="fk_subscription_consent_account"), primary_key=True
    )
    kind: Mapped[MessageKind] = mapped_column(StrEnum(MessageKind, 24), primary_key=True)
    remaining: Mapped[int] = mapped_column(sa.Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.CheckConstraint("remaining >= 0", name="ck_subscription_remaining"),)


class Message(TimestampMixin, db.Model):
    """A message of the outbox: written in the transaction of the change that causes it, then
    sent by a job. It holds no personal data: names and times are read from the order when it
    is sent, so that a message never says what is no longer true."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[MessageKind] = mapped_column(StrEnum(MessageKind, 24))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id", name="fk_message_account"))
    order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("orders.id", name="fk_message_order")
    )
    # One message per event: e.g. "visit_reminder:evening:42". A second write of the same event
    # finds the first and adds nothing.
    event_key: Mapped[str] = mapped_column(sa.String(64))
    # What the event adds to the order (a stop reason, the alternatives, a refund's amount).
    facts: Mapped[dict] = mapped_column(JsonText, default=dict)
    channel: Mapped[MessageChannel | None] = mapped_column(StrEnum(MessageChannel, 8))
    status: Mapped[MessageStatus] = mapped_column(
        StrEnum(MessageStatus, 16), default=MessageStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    last_error: Mapped[str] = mapped_column(sa.String(255), default="")
    # WeChat's msgid or the SMS serial number of the message as sent.
    provider_id: Mapped[str | None] = mapped_column(sa.String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("event_key", name="uq_message_event"),
        sa.Index("ix_message_status_updated", "status", "updated_at"),
        sa.Index("ix_message_order", "order_id"),
    )
