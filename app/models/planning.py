"""The week's plan: doctors' weekly templates and their requests to stop or change a clinic."""

from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.enums import Period
from app.domain.planning import RequestKind, RequestStatus
from app.extensions import db
from app.models.catalogue import Doctor, Schedule, TimestampMixin
from app.models.types import BigId, StrEnum, UTCDateTime


class ScheduleTemplate(TimestampMixin, db.Model):
    """排班模板: a doctor's clinic every week on one weekday and period, from which the coming
    schedules are made."""

    __tablename__ = "schedule_template"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(
        sa.ForeignKey("doctor.id", name="fk_schedule_template_doctor")
    )
    # 0 is Monday, as date.weekday() counts.
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    period: Mapped[Period] = mapped_column(StrEnum(Period, 16))
    start_time: Mapped[time] = mapped_column(sa.Time)
    end_time: Mapped[time] = mapped_column(sa.Time)
    capacity: Mapped[int] = mapped_column(sa.SmallInteger)
    # None: the doctor's fee at the time each schedule is made.
    fee_fen: Mapped[int | None] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    doctor: Mapped[Doctor] = relationship()

    __table_args__ = (
        sa.UniqueConstraint(
            "doctor_id", "weekday", "period", name="uq_schedule_template_doctor_weekday_period"
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_schedule_template_weekday"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 999", name="ck_schedule_template_capacity"),
        sa.CheckConstraint("fee_fen IS NULL OR fee_fen >= 0", name="ck_schedule_template_fee"),
        sa.CheckConstraint("end_time > start_time", name="ck_schedule_template_times"),
    )


class ScheduleRequest(TimestampMixin, db.Model):
    """停诊 / 调诊申请: a doctor asking to stop a schedule's clinic or change its capacity or its
    times, and the admin's decision."""

    __tablename__ = "schedule_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        sa.ForeignKey("schedule.id", name="fk_schedule_request_schedule")
    )
    kind: Mapped[RequestKind] = mapped_column(StrEnum(RequestKind, 16))
    reason: Mapped[str] = mapped_column(sa.String(200))
    # A change request's new capacity, and its new start and end times (both or neither).
    capacity: Mapped[int | None] = mapped_column(sa.SmallInteger)
    start_time: Mapped[time | None] = mapped_column(sa.Time)
    end_time: Mapped[time | None] = mapped_column(sa.Time)
    status: Mapped[RequestStatus] = mapped_column(
        StrEnum(RequestStatus, 16), default=RequestStatus.PENDING
    )
    # The schedule's id while the request is pending, None once decided: its unique key lets a
    # schedule have one pending request at most.
    pending_schedule_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    requested_by: Mapped[int] = mapped_column(
        sa.ForeignKey("staff.id", name="fk_schedule_request_requested_by")
    )
    decided_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff.id", name="fk_schedule_request_decided_by")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(sa.String(200), default="")

    schedule: Mapped[Schedule] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("pending_schedule_id", name="uq_schedule_request_pending"),
        sa.Index("ix_schedule_request_status", "status", "id"),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity BETWEEN 1 AND 999", name="ck_schedule_request_capacity"
        ),
    )
