"""Payments and refunds; each hospital's refund tiers.

Revision ID: 0004_payments
Revises: 0003_orders
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_payments"
down_revision = "0003_orders"
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
            sa.Column(
                "refund_tiers", sa.String(120), nullable=False, server_default="24:0,2:20,0:none"
            )
        )

    op.create_table(
        "payment",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("prepay_id", sa.String(64), nullable=True),
        sa.Column("pay_url", sa.Text(), nullable=True),
        sa.Column("provider_trade_no", sa.String(64), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_payment_order"),
        sa.UniqueConstraint("out_trade_no", name="uq_payment_out_trade_no"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_payment_amount"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_payment_order", "payment", ["order_id"])
    op.create_index("ix_payment_status_created", "payment", ["status", "created_at"])

    op.create_table(
        "refund",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("out_refund_no", sa.String(32), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_refund_no", sa.String(64), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payment.id"], name="fk_refund_payment"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_refund_order"),
        sa.UniqueConstraint("out_refund_no", name="uq_refund_out_refund_no"),
        sa.CheckConstraint("amount_fen > 0", name="ck_refund_amount"),
        sa.CheckConstraint("fee_fen >= 0", name="ck_refund_fee"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_refund_payment", "refund", ["payment_id"])
    op.create_index("ix_refund_status", "refund", ["status"])


def downgrade():
    op.drop_table("refund")
    op.drop_table("payment")
    with op.batch_alter_table("hospital") as batch:
        batch.drop_column("refund_tiers")
