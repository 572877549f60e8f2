"""Accounts and their patients (就诊人), identity data encrypted at rest.

Revision ID: 0002_accounts
Revises: 0001_catalogue
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_accounts"
down_revision = "0001_catalogue"
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
        "account",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("openid", sa.String(64), nullable=True),
        sa.Column("unionid", sa.String(64), nullable=True),
        sa.Column("phone_cipher", sa.String(255), nullable=True),
        sa.Column("phone_hash", sa.CHAR(64), nullable=True),
        sa.Column("phone_masked", sa.String(16), nullable=True),
        sa.Column("nickname", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("openid", name="uq_account_openid"),
        sa.UniqueConstraint("phone_hash", name="uq_account_phone_hash"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_account_unionid", "account", ["unionid"])

    op.create_table(
        "patient",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("id_type", sa.String(40), nullable=False),
        sa.Column("id_number_cipher", sa.String(255), nullable=True),
        sa.Column("id_number_hash", sa.CHAR(64), nullable=True),
        sa.Column("id_number_masked", sa.String(32), nullable=False),
        sa.Column("sex", sa.String(8), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone_cipher", sa.String(255), nullable=True),
        sa.Column("phone_masked", sa.String(16), nullable=True),
        sa.Column("relationship", sa.String(16), nullable=False),
        sa.Column("insured", sa.Boolean(), nullable=False),
        sa.Column("medical_card_no", sa.String(32), nullable=True),
        sa.Column("live", sa.Boolean(), nullable=True),
        sa.Column("is_self", sa.Boolean(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_patient_account"),
        sa.UniqueConstraint(
            "account_id", "id_number_hash", "live", name="uq_patient_account_id_number"
        ),
        sa.UniqueConstraint("account_id", "is_self", name="uq_patient_account_self"),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("patient")
    op.drop_table("account")
