"""The visit day: who stopped a clinic and when; an order's check-in, place in the queue, call,
completion and skips.

Revision ID: 0009_visit_day
Revises: 0008_messages
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_visit_day"
down_revision = "0008_messages"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("schedule") as batch:
        batch.add_column(sa.Column("stopped_by", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("stopped_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("checked_in_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("queue_rank", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("called_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("completed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("skips", sa.SmallInteger(), nullable=False, server_default="0"))
    op.create_index("ix_orders_schedule_status", "orders", ["schedule_id", "status"])
    with op.batch_alter_table("schedule") as batch:
        batch.alter_column("stopped_by", server_default=None, existing_type=sa.String(64))
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("skips", server_default=None, existing_type=sa.SmallInteger())


def downgrade():
    if op.get_bind().dialect.name == "mysql":
        # The foreign key on schedule_id used the new index in place of its own: give it back.
        op.create_index("fk_orders_schedule", "orders", ["schedule_id"])
    op.drop_index("ix_orders_schedule_status", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        for column in ("skips", "completed_at", "called_at", "queue_rank", "checked_in_at"):
            batch.drop_column(column)
    with op.batch_alter_table("schedule") as batch:
        batch.drop_column("stopped_at")
        batch.drop_column("stopped_by")
