"""A change request's asked-for start and end times, on the request itself.

Revision ID: 0015_schedule_request_times
Revises: 0014_stats_channels_hours
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_schedule_request_times"
down_revision = "0014_stats_channels_hours"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("schedule_request") as table:
        table.add_column(sa.Column("start_time", sa.Time(), nullable=True))
        table.add_column(sa.Column("end_time", sa.Time(), nullable=True))


def downgrade():
    with op.batch_alter_table("schedule_request") as table:
        table.drop_column("end_time")
        table.drop_column("start_time")
