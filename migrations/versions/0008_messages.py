"""Messages to patients: subscription consents per account and kind, and the outbox.

Revision ID: 0008_messages
Revises: 0007_drop_plain_patient_identity
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_messages"
down_revision = "0007_drop_plain_patient_identity"
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
        "subscription_consent",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "kind"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name="fk_subscription_consent_account"
        ),
        sa.CheckConstraint("remaining >= 0", name="ck_subscription_remaining"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "message",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("event_key", sa.String(64), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("last_error", sa.String(255), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_message_account"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_message_order"),
        sa.UniqueConstraint("event_key", name="uq_message_event"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_message_status_updated", "message", ["status", "updated_at"])
    op.create_index("ix_message_order", "message", ["order_id"])


def downgrade():
    op.drop_table("message")
    op.drop_table("subscription_consent")
