"""Statistics rollups: stats_daily, one row per visit day, department and doctor.

Revision ID: 0013_stats_daily
Revises: 0012_schedule_plan
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_stats_daily"
down_revision = "0012_schedule_plan"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "stats_daily",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hospital_id", ID, nullable=False),
        sa.Column("department_id", ID, nullable=False),
        sa.Column("doctor_id", ID, nullable=False),
        sa.Column("bookings", sa.Integer(), nullable=False),
        sa.Column("revenue_fen", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("cancellations", sa.Integer(), nullable=False),
        sa.Column("no_shows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospital.id"], name="fk_stats_daily_hospital"),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name="fk_stats_daily_department"
        ),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctor.id"], name="fk_stats_daily_doctor"),
        sa.UniqueConstraint("day", "department_id", "doctor_id", name="uq_stats_daily_place"),
        sa.Index("ix_stats_daily_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_daily_department", "department_id"),
        sa.Index("ix_stats_daily_doctor", "doctor_id"),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("stats_daily")
