"""Statistics rollups (统计), recomputed from orders, payments, refunds and schedules by
app/services/stats.py, so the statistics pages and the dashboard never scan orders: per visit
day, department and doctor (stats_daily); per visit day, department and hour the orders were
made (stats_hour); per day, department and channel the payments were made (stats_payment);
the bursts of holds from one account or one IP address (stats_burst)."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import BigId, UTCDateTime


def _count(**kwargs):
    return mapped_column(sa.Integer, server_default="0", **kwargs)


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
    # The paid payments of that day's orders by channel (the channel share) and their amounts;
    # of them, those with money back (refunded in whole or in part) and the amounts refunded.
    payments_wechat: Mapped[int] = _count()
    paid_wechat_fen: Mapped[int] = _count()
    payments_alipay: Mapped[int] = _count()
    paid_alipay_fen: Mapped[int] = _count()
    refunds: Mapped[int] = _count()
    refund_fen: Mapped[int] = _count()

    __table_args__ = (
        sa.UniqueConstraint("day", "department_id", "doctor_id", name="uq_stats_daily_place"),
        sa.Index("ix_stats_daily_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_daily_department", "department_id"),
        sa.Index("ix_stats_daily_doctor", "doctor_id"),
    )


class StatsHour(db.Model):
    """How many orders visiting one day with one doctor were made in one hour of the day
    (China time, 0–23), and how many of them are booked or later; hours without orders have
    no row."""

    __tablename__ = "stats_hour"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)  # the visit day
    hospital_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hospital.id", name="fk_stats_hour_hospital")
    )
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("department.id", name="fk_stats_hour_department")
    )
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", name="fk_stats_hour_doctor"))
    hour: Mapped[int] = mapped_column(sa.SmallInteger)
    orders: Mapped[int] = mapped_column(sa.Integer)
    bookings: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.UniqueConstraint("doctor_id", "day", "hour", name="uq_stats_hour_place"),
        sa.Index("ix_stats_hour_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_hour_department_day", "department_id", "day"),
        sa.Index("ix_stats_hour_day", "day"),
    )


class StatsPayment(db.Model):
    """One day's payments of one department's orders through one channel, by the day they were
    started (China time): started, paid, closed unpaid, never given the means to pay (the
    channel's prepay failed), and the refunds asked that day that the channel would not
    complete."""

    __tablename__ = "stats_payment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)  # the day the payments were started
    hospital_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hospital.id", name="fk_stats_payment_hospital")
    )
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("department.id", name="fk_stats_payment_department")
    )
    channel: Mapped[str] = mapped_column(sa.String(16))
    started: Mapped[int] = mapped_column(sa.Integer)
    paid: Mapped[int] = mapped_column(sa.Integer)
    closed: Mapped[int] = mapped_column(sa.Integer)  # closed unpaid
    no_prepay: Mapped[int] = mapped_column(sa.Integer)  # never paid, no means to pay given
    refunds_failed: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.UniqueConstraint("department_id", "day", "channel", name="uq_stats_payment_place"),
        sa.Index("ix_stats_payment_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_payment_day", "day"),
    )


class StatsBurst(db.Model):
    """A burst of holds (突发挂号): one account or one IP address making many orders in one
    hospital within a short time. One row per department the burst's orders went to, each
    with the burst's total and that department's share, so that a department's staff see the
    bursts that touched their department."""

    __tablename__ = "stats_burst"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)  # the day the orders were made (China time)
    hospital_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hospital.id", name="fk_stats_burst_hospital")
    )
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("department.id", name="fk_stats_burst_department")
    )
    kind: Mapped[str] = mapped_column(sa.String(16))  # "account" or "ip"
    subject: Mapped[str] = mapped_column(sa.String(64))  # the account id or the IP address
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    holds: Mapped[int] = mapped_column(sa.Integer)  # the burst's orders, every department
    department_holds: Mapped[int] = mapped_column(sa.Integer)  # of them in this department

    __table_args__ = (
        sa.Index("ix_stats_burst_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_burst_department_day", "department_id", "day"),
        sa.Index("ix_stats_burst_day", "day"),
    )
