"""Patients' plain names and birth dates dropped (contract): only the sealed columns remain.

Downgrading decrypts them back into plain columns with the app's field keys.

Revision ID: 0007_drop_plain_patient_identity
Revises: 0006_sealed_patient_identity
Create Date: 2026-12-03
"""

from datetime import date

import sqlalchemy as sa
from alembic import context, op
from flask import current_app

revision = "0007_drop_plain_patient_identity"
down_revision = "0006_sealed_patient_identity"
branch_labels = None
depends_on = None

PATIENT = sa.table(
    "patient",
    sa.column("id"),
    sa.column("name"),
    sa.column("birth_date"),
    sa.column("name_cipher"),
    sa.column("birth_date_cipher"),
)


def upgrade():
    with op.batch_alter_table("patient") as batch:
        batch.alter_column("name_cipher", existing_type=sa.String(255), nullable=False)
        batch.alter_column("birth_date_cipher", existing_type=sa.String(255), nullable=False)
        batch.drop_column("name")
        batch.drop_column("birth_date")


def downgrade():
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("name", sa.String(40), nullable=True))
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
    if context.is_offline_mode():
        raise RuntimeError("opening the rows needs the app's keys: run this revision online")
    cipher = current_app.extensions["field_cipher"]
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(PATIENT.c.id, PATIENT.c.name_cipher, PATIENT.c.birth_date_cipher)
    ).all()
    for row in rows:
        connection.execute(
            PATIENT.update()
            .where(PATIENT.c.id == row.id)
            .values(
                name=cipher.decrypt(row.name_cipher, "patient.name"),
                birth_date=date.fromisoformat(
                    cipher.decrypt(row.birth_date_cipher, "patient.birth_date")
                ),
            )
        )
    with op.batch_alter_table("patient") as batch:
        batch.alter_column("name_cipher", existing_type=sa.String(255), nullable=True)
        batch.alter_column("birth_date_cipher", existing_type=sa.String(255), nullable=True)
