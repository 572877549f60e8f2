"""The catalogue: hospital, department, doctor, schedule, slot.

Revision ID: 0001_catalogue
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_catalogue"
down_revision = None
branch_labels = None
depends_on = None

# Chinese names and text: utf8mb4 everywhere on MySQL (ignored elsewhere).
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def _id():
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def _ref(name, nullable=False):
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=nullable)


def _timestamps():
    # Naive UTC (the models convert); MySQL DATETIME keeps no offset.
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "hospital",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("district", sa.String(32), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("release_time", sa.Time(), nullable=False),
        sa.Column("booking_window_days", sa.SmallInteger(), nullable=False),
        sa.Column("hold_minutes", sa.SmallInteger(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("name", name="uq_hospital_name"),
        sa.CheckConstraint("booking_window_days BETWEEN 1 AND 60", name="ck_hospital_window"),
        sa.CheckConstraint("hold_minutes BETWEEN 1 AND 120", name="ck_hospital_hold"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_hospital_level", "hospital", ["level"])
    op.create_index("ix_hospital_region", "hospital", ["region"])

    op.create_table(
        "department",
        _id(),
        _ref("hospital_id"),
        _ref("parent_id", nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("location", sa.String(100), nullable=False),
        sa.Column("sex_rule", sa.String(8), nullable=False),
        sa.Column("min_age", sa.SmallInteger(), nullable=True),
        sa.Column("max_age", sa.SmallInteger(), nullable=True),
        sa.Column("symptoms", sa.String(500), nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospital.id"], name="fk_department_hospital"),
        sa.ForeignKeyConstraint(["parent_id"], ["department.id"], name="fk_department_parent"),
        sa.UniqueConstraint("hospital_id", "name", name="uq_department_hospital_name"),
        sa.CheckConstraint("min_age IS NULL OR min_age >= 0", name="ck_department_min_age"),
        sa.CheckConstraint(
            "max_age IS NULL OR min_age IS NULL OR max_age >= min_age", name="ck_department_ages"
        ),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_department_hospital_parent", "department", ["hospital_id", "parent_id"])

    op.create_table(
        "doctor",
        _id(),
        _ref("department_id"),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("title", sa.String(32), nullable=False),
        sa.Column("specialty", sa.String(200), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"], name="fk_doctor_department"),
        sa.UniqueConstraint("department_id", "name", name="uq_doctor_department_name"),
        sa.CheckConstraint("fee_fen >= 0", name="ck_doctor_fee"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_doctor_department_id", "doctor", ["department_id"])
    op.create_index("ix_doctor_name", "doctor", ["name"])

    op.create_table(
        "schedule",
        _id(),
        _ref("doctor_id"),
        _ref("department_id"),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=False),
        sa.Column("minutes_per_patient", sa.SmallInteger(), nullable=False),
        sa.Column("release_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stop_reason", sa.String(200), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctor.id"], name="fk_schedule_doctor"),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name="fk_schedule_department"
        ),
        sa.UniqueConstraint("doctor_id", "date", "period", name="uq_schedule_doctor_date_period"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 999", name="ck_schedule_capacity"),
        sa.CheckConstraint("fee_fen >= 0", name="ck_schedule_fee"),
        sa.CheckConstraint("minutes_per_patient >= 1", name="ck_schedule_minutes"),
        sa.CheckConstraint("end_time > start_time", name="ck_schedule_times"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_schedule_department_date", "schedule", ["department_id", "date"])

    op.create_table(
        "slot",
        _id(),
        _ref("schedule_id"),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("suggested_time", sa.Time(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedule.id"], name="fk_slot_schedule"),
        sa.UniqueConstraint("schedule_id", "seq", name="uq_slot_schedule_seq"),
        sa.CheckConstraint("seq >= 1", name="ck_slot_seq"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_slot_schedule_state_seq", "slot", ["schedule_id", "state", "seq"])


def downgrade():
    for table in ("slot", "schedule", "doctor", "department", "hospital"):
        op.drop_table(table)
