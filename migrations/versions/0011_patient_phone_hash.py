"""Patients' phone numbers findable by their keyed hash (staff search orders by phone).

Revision ID: 0011_patient_phone_hash
Revises: 0010_staff
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import context, op
from flask import current_app

revision = "0011_patient_phone_hash"
down_revision = "0010_staff"
branch_labels = None
depends_on = None

PATIENT = sa.table("patient", sa.column("id"), sa.column("phone_cipher"), sa.column("phone_hash"))


def upgrade():
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("phone_hash", sa.CHAR(64), nullable=True))
    op.create_index("ix_patient_phone_hash", "patient", ["phone_hash"])
    if context.is_offline_mode():
        raise RuntimeError("hashing the phones needs the app's keys: run this revision online")
    cipher = current_app.extensions["field_cipher"]
    hasher = current_app.extensions["lookup_hasher"]
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(PATIENT.c.id, PATIENT.c.phone_cipher).where(PATIENT.c.phone_cipher.is_not(None))
    ).all()
    for row in rows:
        phone = cipher.decrypt(row.phone_cipher, "patient.phone")
        connection.execute(
            PATIENT.update()
            .where(PATIENT.c.id == row.id)
            .values(phone_hash=hasher.digest(phone, "phone"))
        )


def downgrade():
    op.drop_index("ix_patient_phone_hash", table_name="patient")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("phone_hash")
