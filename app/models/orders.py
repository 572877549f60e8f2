"""Orders (挂号单): one patient in one numbered slot."""

from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain import orders
from app.domain.orders import CancelledBy, OrderStatus
from app.extensions import db
from app.models.accounts import Patient
from app.models.catalogue import Department, Doctor, Hospital, Schedule, TimestampMixin
from app.models.types import BigId, StrEnum, UTCDateTime


def _fk(target, name):
    return mapped_column(sa.ForeignKey(target, name=name))


class Order(TimestampMixin, db.Model):
    """挂号单: a patient's hold on, then booking of, one numbered slot of a schedule."""

    # "order" is an SQL keyword.
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = _fk("account.id", "fk_orders_account")
    patient_id: Mapped[int] = _fk("patient.id", "fk_orders_patient")
    schedule_id: Mapped[int] = _fk("schedule.id", "fk_orders_schedule")
    slot_id: Mapped[int] = _fk("slot.id", "fk_orders_slot")
    # Copied from the schedule so the rules' questions are one index range each.
    doctor_id: Mapped[int] = _fk("doctor.id", "fk_orders_doctor")
    department_id: Mapped[int] = _fk("department.id", "fk_orders_department")
    hospital_id: Mapped[int] = _fk("hospital.id", "fk_orders_hospital")
    visit_date: Mapped[date] = mapped_column(sa.Date)
    seq: Mapped[int] = mapped_column(sa.SmallInteger)
    suggested_time: Mapped[time] = mapped_column(sa.Time)
    amount_fen: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[OrderStatus] = mapped_column(StrEnum(OrderStatus, 24))
    # 1 while the order holds its slot (pending_payment … called), NULL after: the unique keys
    # below then bind only active orders (MySQL has no partial indexes; NULLs never collide).
    active: Mapped[bool | None] = mapped_column(sa.Boolean)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    request_fingerprint: Mapped[str] = mapped_column(sa.CHAR(64))
    reschedule_count: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    cancelled_by: Mapped[CancelledBy | None] = mapped_column(StrEnum(CancelledBy, 16))
    cancel_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The visit day: check-in (签到), the place in the queue (lower is sooner, see
    # app/domain/visits.py), being called (叫号) and seen, and how often the patient was skipped.
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queue_rank: Mapped[int | None] = mapped_column(sa.Integer)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skips: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    # The address the hold came from, as the app trusts it (TRUSTED_PROXIES): the statistics'
    # bursts of holds from one IP. NULL for orders made otherwise (a reschedule's successor).
    client_ip: Mapped[str | None] = mapped_column(sa.String(45))

    patient: Mapped[Patient] = relationship()
    schedule: Mapped[Schedule] = relationship()
    doctor: Mapped[Doctor] = relationship()
    department: Mapped[Department] = relationship()
    hospital: Mapped[Hospital] = relationship()
    payments: Mapped[list["Payment"]] = relationship(  # noqa: F821 - resolved by name
        order_by="Payment.id", viewonly=True
    )
    refunds: Mapped[list["Refund"]] = relationship(  # noqa: F821 - resolved by name
        order_by="Refund.id", viewonly=True
    )
    # The stop-clinic notice of an order the hospital cancelled (its facts name alternatives).
    stop_notices: Mapped[list["Message"]] = relationship(  # noqa: F821 - resolved by name
        primaryjoin="and_(Message.order_id == Order.id, Message.kind == 'stop_clinic')",
        foreign_keys="Message.order_id",
        viewonly=True,
    )

    __table_args__ = (
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_orders_idempotency"),
        sa.UniqueConstraint("slot_id", "active", name="uq_orders_active_slot"),
        sa.UniqueConstraint(
            "patient_id",
            "doctor_id",
            "visit_date",
            "active",
            name="uq_orders_active_patient_doctor_day",
        ),
        sa.Index("ix_orders_account_created", "account_id", "created_at"),
        # The orders made on a day: the statistics' bursts and the dashboard's bookings today.
        sa.Index("ix_orders_created", "created_at"),
        sa.Index("ix_orders_patient_visit", "patient_id", "visit_date"),
        sa.Index("ix_orders_status_expires", "status", "expires_at"),
        sa.Index("ix_orders_schedule_status", "schedule_id", "status"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_orders_amount"),
    )

    def close(self, status: OrderStatus, by: CancelledBy, reason: str, at: datetime):
        """End the order (expired, cancelled): who ended it, why, when."""
        self.set_status(status)
        self.cancelled_by = by
        self.cancel_reason = reason
        self.closed_at = at

    def set_status(self, status: OrderStatus):
        """Move to ``status`` as the state machine allows (TransitionRefused otherwise), keeping
        the active marker in step."""
        self.status = orders.move(self.status, status)
        self.active = True if status.is_active else None
