"""Statistics rollups (统计): one row per day, department and doctor, recomputed from orders and
schedules by app/services/stats.py, so the statistics pages never scan orders."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import BigId


class StatsDaily(db.Model):
    """One visit day's figures of one doctor in one department (the ids copied, not joined)."""

    __tablename__ = "stats_daily"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)
    hospital_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hospital.id", name="fk_stats_daily_hospital")
    )
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("department.id", name="fk_stats_daily_department")
    )
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", name="fk_stats_daily_doctor"))
    bookings: Mapped[int] = mapped_column(sa.Integer)  # orders booked or later, visiting that day
    revenue_fen: Mapped[int] = mapped_column(sa.Integer)  # their fees
    capacity: Mapped[int] = mapped_column(sa.Integer)  # numbers of that day's schedules
    taken: Mapped[int] = mapped_column(sa.Integer)  # of which not free
    cancellations: Mapped[int] = mapped_column(sa.Integer)  # orders of that day cancelled
    no_shows: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.UniqueConstraint("day", "department_id", "doctor_id", name="uq_stats_daily_place"),
        sa.Index("ix_stats_daily_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_daily_department", "department_id"),
        sa.Index("ix_stats_daily_doctor", "doctor_id"),
    )
