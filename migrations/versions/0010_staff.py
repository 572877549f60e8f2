"""Hospital staff of the admin pages, and the audit log of their changes.

Revision ID: 0010_staff
Revises: 0009_visit_day
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_staff"
down_revision = "0009_visit_day"
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
        "staff",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("hospital_id", ID, nullable=True),
        sa.Column("department_id", ID, nullable=True),
        sa.Column("doctor_id", ID, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.SmallInteger(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("session_token", sa.String(64), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospital.id"], name="fk_staff_hospital"),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"], name="fk_staff_department"),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctor.id"], name="fk_staff_doctor"),
        sa.UniqueConstraint("username", name="uq_staff_username"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("staff_id", ID, nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("hospital_id", sa.BigInteger(), nullable=True),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_audit_staff"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_audit_hospital_at", "audit_entry", ["hospital_id", "at"])
    op.create_index("ix_audit_target", "audit_entry", ["target_type", "target_id"])


def downgrade():
    op.drop_table("audit_entry")
    op.drop_table("staff")
