"""The supply side: hospitals, their department trees, doctors, schedules and numbered slots."""

from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.enums import DoctorTitle, HospitalLevel, Period, ScheduleStatus, SexRule, SlotState
from app.extensions import db
from app.models.types import BigId, StrEnum, UTCDateTime, utcnow


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class Hospital(TimestampMixin, db.Model):
    """医院: where patients are seen, with its own booking rules."""

    __tablename__ = "hospital"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[HospitalLevel] = mapped_column(StrEnum(HospitalLevel, 8), index=True)
    region: Mapped[str] = mapped_column(sa.String(32), index=True)
    district: Mapped[str] = mapped_column(sa.String(32), default="")
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    phone: Mapped[str] = mapped_column(sa.String(32), default="")
    intro: Mapped[str] = mapped_column(sa.Text, default="")
    release_time: Mapped[time] = mapped_column(sa.Time)
    booking_window_days: Mapped[int] = mapped_column(sa.SmallInteger)
    hold_minutes: Mapped[int] = mapped_column(sa.SmallInteger)
    max_holds_per_day: Mapped[int] = mapped_column(sa.SmallInteger, default=3)
    max_departments_per_patient_per_day: Mapped[int] = mapped_column(sa.SmallInteger, default=3)
    # Refund tiers, "hours:fee percent" from the most hours down ("24:0,2:20,0:none").
    refund_tiers: Mapped[str] = mapped_column(sa.String(120), default="24:0,2:20,0:none")

    departments: Mapped[list["Department"]] = relationship(back_populates="hospital")

    __table_args__ = (
        sa.UniqueConstraint("name", name="uq_hospital_name"),
        sa.CheckConstraint("booking_window_days BETWEEN 1 AND 60", name="ck_hospital_window"),
        sa.CheckConstraint("hold_minutes BETWEEN 1 AND 120", name="ck_hospital_hold"),
    )


class Department(TimestampMixin, db.Model):
    """科室: a node of a hospital's department tree, with who it may see."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hospital.id", name="fk_department_hospital")
    )
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("department.id", name="fk_department_parent")
    )
    name: Mapped[str] = mapped_column(sa.String(64))
    intro: Mapped[str] = mapped_column(sa.Text, default="")
    location: Mapped[str] = mapped_column(sa.String(100), default="")
    sex_rule: Mapped[SexRule] = mapped_column(StrEnum(SexRule, 8), default=SexRule.ANY)
    min_age: Mapped[int | None] = mapped_column(sa.SmallInteger)
    max_age: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # Symptom keywords separated by 、 — what a patient might type instead of the department name.
    symptoms: Mapped[str] = mapped_column(sa.String(500), default="")
    sort_order: Mapped[int] = mapped_column(sa.SmallInteger, default=0)

    hospital: Mapped[Hospital] = relationship(back_populates="departments")

    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "name", name="uq_department_hospital_name"),
        sa.Index("ix_department_hospital_parent", "hospital_id", "parent_id"),
        sa.CheckConstraint("min_age IS NULL OR min_age >= 0", name="ck_department_min_age"),
        sa.CheckConstraint(
            "max_age IS NULL OR min_age IS NULL OR max_age >= min_age", name="ck_department_ages"
        ),
    )


class Doctor(TimestampMixin, db.Model):
    """医生: sees patients in one department."""

    __tablename__ = "doctor"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("department.id", name="fk_doctor_department"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(32), index=True)
    title: Mapped[DoctorTitle] = mapped_column(StrEnum(DoctorTitle, 32))
    specialty: Mapped[str] = mapped_column(sa.String(200), default="")
    intro: Mapped[str] = mapped_column(sa.Text, default="")
    fee_fen: Mapped[int] = mapped_column(sa.Integer)

    department: Mapped[Department] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("department_id", "name", name="uq_doctor_department_name"),
        sa.CheckConstraint("fee_fen >= 0", name="ck_doctor_fee"),
    )


class Schedule(TimestampMixin, db.Model):
    """出诊: one doctor, one date, one period, with a capacity of numbered slots."""

    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", name="fk_schedule_doctor"))
    # The doctor's department, kept on the row so a department's day is one index range.
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("department.id", name="fk_schedule_department")
    )
    date: Mapped[date] = mapped_column(sa.Date)
    period: Mapped[Period] = mapped_column(StrEnum(Period, 16))
    start_time: Mapped[time] = mapped_column(sa.Time)
    end_time: Mapped[time] = mapped_column(sa.Time)
    capacity: Mapped[int] = mapped_column(sa.SmallInteger)
    fee_fen: Mapped[int] = mapped_column(sa.Integer)
    minutes_per_patient: Mapped[int] = mapped_column(sa.SmallInteger)
    release_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ScheduleStatus] = mapped_column(
        StrEnum(ScheduleStatus, 16), default=ScheduleStatus.OPEN
    )
    stop_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    # Who stopped the clinic (停诊) and when: a staff member's name, or "cli:<user>".
    stopped_by: Mapped[str] = mapped_column(sa.String(64), default="")
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    doctor: Mapped[Doctor] = relationship()
    slots: Mapped[list["Slot"]] = relationship(back_populates="schedule", order_by="Slot.seq")

    __table_args__ = (
        sa.UniqueConstraint("doctor_id", "date", "period", name="uq_schedule_doctor_date_period"),
        sa.Index("ix_schedule_department_date", "department_id", "date"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 999", name="ck_schedule_capacity"),
        sa.CheckConstraint("fee_fen >= 0", name="ck_schedule_fee"),
        sa.CheckConstraint("minutes_per_patient >= 1", name="ck_schedule_minutes"),
        sa.CheckConstraint("end_time > start_time", name="ck_schedule_times"),
    )


class Slot(db.Model):
    """号源: numbered place ``seq`` of a schedule, with its suggested arrival time."""

    __tablename__ = "slot"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(sa.ForeignKey("schedule.id", name="fk_slot_schedule"))
    seq: Mapped[int] = mapped_column(sa.SmallInteger)
    state: Mapped[SlotState] = mapped_column(StrEnum(SlotState, 16), default=SlotState.FREE)
    suggested_time: Mapped[time] = mapped_column(sa.Time)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )

    schedule: Mapped[Schedule] = relationship(back_populates="slots")

    __table_args__ = (
        sa.UniqueConstraint("schedule_id", "seq", name="uq_slot_schedule_seq"),
        # Counting free numbers and taking the lowest free seq are both ranges of this index.
        sa.Index("ix_slot_schedule_state_seq", "schedule_id", "state", "seq"),
        sa.CheckConstraint("seq >= 1", name="ck_slot_seq"),
    )
