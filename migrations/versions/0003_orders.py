"""Orders (挂号单), per-hospital booking limits and the no-show blacklist.

Revision ID: 0003_orders
Revises: 0002_accounts
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_orders"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("hospital") as batch:
        batch.add_column(
            sa.Column("max_holds_per_day", sa.SmallInteger(), nullable=False, server_default="3")
        )
        batch.add_column(
            sa.Column(
                "max_departments_per_patient_per_day",
                sa.SmallInteger(),
                nullable=False,
                server_default="3",
            )
        )
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("blocked_until", sa.DateTime(), nullable=True))

    op.create_table(
        "orders",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("schedule_id", ID, nullable=False),
        sa.Column("slot_id", ID, nullable=False),
        sa.Column("doctor_id", ID, nullable=False),
        sa.Column("department_id", ID, nullable=False),
        sa.Column("hospital_id", ID, nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("suggested_time", sa.Time(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("request_fingerprint", sa.CHAR(64), nullable=False),
        sa.Column("reschedule_count", sa.SmallInteger(), nullable=False),
        sa.Column("cancelled_by", sa.String(16), nullable=True),
        sa.Column("cancel_reason", sa.String(200), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_orders_account"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name="fk_orders_patient"),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedule.id"], name="fk_orders_schedule"),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"], name="fk_orders_slot"),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctor.id"], name="fk_orders_doctor"),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"], name="fk_orders_department"),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospital.id"], name="fk_orders_hospital"),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_orders_idempotency"),
        sa.UniqueConstraint("slot_id", "active", name="uq_orders_active_slot"),
        sa.UniqueConstraint(
            "patient_id",
            "doctor_id",
            "visit_date",
            "active",
            name="uq_orders_active_patient_doctor_day",
        ),
        sa.CheckConstraint("amount_fen >= 0", name="ck_orders_amount"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_orders_account_created", "orders", ["account_id", "created_at"])
    op.create_index("ix_orders_patient_visit", "orders", ["patient_id", "visit_date"])
    op.create_index("ix_orders_status_expires", "orders", ["status", "expires_at"])


def downgrade():
    op.drop_table("orders")
    with op.batch_alter_table("account") as batch:
        batch.drop_column("blocked_until")
    with op.batch_alter_table("hospital") as batch:
        batch.drop_column("max_departments_per_patient_per_day")
        batch.drop_column("max_holds_per_day")
