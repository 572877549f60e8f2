"""Statistics: channels and refunds in stats_daily; stats_hour, stats_payment and stats_burst;
the client address of an order and the indexes the dashboard and the rollup read by.

Revision ID: 0014_stats_channels_hours
Revises: 0013_stats_daily
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_stats_channels_hours"
down_revision = "0013_stats_daily"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DAILY_COUNTS = (
    "payments_wechat",
    "paid_wechat_fen",
    "payments_alipay",
    "paid_alipay_fen",
    "refunds",
    "refund_fen",
)


def _place(table):
    """The day, hospital and department columns of a rollup table, with their foreign keys."""
    return [
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hospital_id", ID, nullable=False),
        sa.Column("department_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospital.id"], name=f"fk_{table}_hospital"),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=f"fk_{table}_department"
        ),
    ]


def upgrade():
    # Both are instant or online on MariaDB 10.3+ (a nullable column at the end; an index
    # built while writes go on).
    op.add_column("orders", sa.Column("client_ip", sa.String(45), nullable=True))
    op.create_index("ix_orders_created", "orders", ["created_at"])
    op.create_index("ix_refund_status_succeeded", "refund", ["status", "succeeded_at"])
    op.drop_index("ix_refund_status", table_name="refund")
    for name in DAILY_COUNTS:
        op.add_column(
            "stats_daily", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "stats_hour",
        *_place("stats_hour"),
        sa.Column("doctor_id", ID, nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("bookings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctor.id"], name="fk_stats_hour_doctor"),
        sa.UniqueConstraint("doctor_id", "day", "hour", name="uq_stats_hour_place"),
        sa.Index("ix_stats_hour_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_hour_department_day", "department_id", "day"),
        sa.Index("ix_stats_hour_day", "day"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "stats_payment",
        *_place("stats_payment"),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("no_prepay", sa.Integer(), nullable=False),
        sa.Column("refunds_failed", sa.Integer(), nullable=False),
        sa.UniqueConstraint("department_id", "day", "channel", name="uq_stats_payment_place"),
        sa.Index("ix_stats_payment_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_payment_day", "day"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "stats_burst",
        *_place("stats_burst"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("holds", sa.Integer(), nullable=False),
        sa.Column("department_holds", sa.Integer(), nullable=False),
        sa.Index("ix_stats_burst_hospital_day", "hospital_id", "day"),
        sa.Index("ix_stats_burst_department_day", "department_id", "day"),
        sa.Index("ix_stats_burst_day", "day"),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("stats_burst")
    op.drop_table("stats_payment")
    op.drop_table("stats_hour")
    for name in reversed(DAILY_COUNTS):
        op.drop_column("stats_daily", name)
    op.create_index("ix_refund_status", "refund", ["status"])
    op.drop_index("ix_refund_status_succeeded", table_name="refund")
    op.drop_index("ix_orders_created", table_name="orders")
    op.drop_column("orders", "client_ip")
