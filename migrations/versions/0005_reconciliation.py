"""Reconciliation (对账) per day and channel, its differences; payments found by reconciliation.

A payment the channel's bill shows and no order of ours explains is recorded without an order and
refunded in full, so payment.order_id and refund.order_id become nullable.

Revision ID: 0005_reconciliation
Revises: 0004_payments
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_reconciliation"
down_revision = "0004_payments"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("payment") as batch:
        batch.alter_column("order_id", existing_type=ID, nullable=True)
    with op.batch_alter_table("refund") as batch:
        batch.alter_column("order_id", existing_type=ID, nullable=True)

    op.create_table(
        "reconciliation",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("bill_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("matched_count", sa.Integer(), nullable=False),
        sa.Column("missing_here_count", sa.Integer(), nullable=False),
        sa.Column("missing_there_count", sa.Integer(), nullable=False),
        sa.Column("amount_mismatch_count", sa.Integer(), nullable=False),
        sa.Column("paid_there_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_there_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_here_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_here_fen", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("bill_date", "channel", name="uq_reconciliation_day_channel"),
        **TABLE_OPTIONS,
    )

    op.create_table(
        "reconciliation_item",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("reconciliation_id", ID, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("out_trade_no", sa.String(64), nullable=False),
        sa.Column("out_refund_no", sa.String(64), nullable=True),
        sa.Column("amount_here_fen", sa.Integer(), nullable=True),
        sa.Column("amount_there_fen", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(255), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reconciliation_id"],
            ["reconciliation.id"],
            name="fk_reconciliation_item_reconciliation",
        ),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_reconciliation_item_reconciliation",
        "reconciliation_item",
        ["reconciliation_id", "kind"],
    )
    op.create_index("ix_reconciliation_item_out_trade_no", "reconciliation_item", ["out_trade_no"])


def downgrade():
    # Payments and refunds found by reconciliation have no order. Money records are never
    # deleted to make a downgrade fit, so it stops (before changing anything) while any exist.
    found = op.get_bind().scalar(sa.text("SELECT COUNT(*) FROM payment WHERE order_id IS NULL"))
    if found:
        raise RuntimeError(f"{found} payments found by reconciliation have no order")
    op.drop_table("reconciliation_item")
    op.drop_table("reconciliation")
    with op.batch_alter_table("refund") as batch:
        batch.alter_column("order_id", existing_type=ID, nullable=False)
    with op.batch_alter_table("payment") as batch:
        batch.alter_column("order_id", existing_type=ID, nullable=False)
