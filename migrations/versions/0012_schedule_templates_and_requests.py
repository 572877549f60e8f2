"""Doctors' weekly templates (排班模板) and their requests to stop or change a clinic.

Revision ID: 0012_schedule_plan
Revises: 0011_patient_phone_hash
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_schedule_plan"
down_revision = "0011_patient_phone_hash"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamps():
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "schedule_template",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("doctor_id", ID, nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctor.id"], name="fk_schedule_template_doctor"),
        sa.UniqueConstraint(
            "doctor_id", "weekday", "period", name="uq_schedule_template_doctor_weekday_period"
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_schedule_template_weekday"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 999", name="ck_schedule_template_capacity"),
        sa.CheckConstraint("fee_fen IS NULL OR fee_fen >= 0", name="ck_schedule_template_fee"),
        sa.CheckConstraint("end_time > start_time", name="ck_schedule_template_times"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "schedule_request",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("schedule_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pending_schedule_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_by", ID, nullable=False),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.String(200), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedule.id"], name="fk_schedule_request_schedule"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff.id"], name="fk_schedule_request_requested_by"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["staff.id"], name="fk_schedule_request_decided_by"
        ),
        sa.UniqueConstraint("pending_schedule_id", name="uq_schedule_request_pending"),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity BETWEEN 1 AND 999", name="ck_schedule_request_capacity"
        ),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_schedule_request_status", "schedule_request", ["status", "id"])


def downgrade():
    op.drop_table("schedule_request")
    op.drop_table("schedule_template")
