"""Patients' real names and birth dates sealed at rest (expand): the sealed columns and the name's
keyed hash are added beside the plain ones and filled from them; masked ID numbers of 15 or more
characters keep only their first character and last 4.

With the birth date in the clear, a masked resident ID number (first 3 and last 4 kept) and its
check digit leave one candidate for the whole number. The names and birth dates are encrypted
with the app's field keys (the contexts "patient.name" and "patient.birth_date"); a name is
found by exact match through its keyed hash. 0007 then drops the plain columns. Downgrading
restores the longer masks from the encrypted numbers (an anonymised patient has none left).

Revision ID: 0006_sealed_patient_identity
Revises: 0005_reconciliation
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import context, op
from flask import current_app

revision = "0006_sealed_patient_identity"
down_revision = "0005_reconciliation"
branch_labels = None
depends_on = None

PATIENT = sa.table(
    "patient",
    sa.column("id"),
    sa.column("name"),
    sa.column("birth_date"),
    sa.column("id_number_cipher"),
    sa.column("id_number_masked"),
    sa.column("name_cipher"),
    sa.column("name_hash"),
    sa.column("birth_date_cipher"),
)


def upgrade():
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("name_cipher", sa.String(255), nullable=True))
        batch.add_column(sa.Column("name_hash", sa.CHAR(64), nullable=True))
        batch.add_column(sa.Column("birth_date_cipher", sa.String(255), nullable=True))
    op.create_index("ix_patient_name_hash", "patient", ["name_hash"])
    if context.is_offline_mode():
        raise RuntimeError("sealing the rows needs the app's keys: run this revision online")
    cipher = current_app.extensions["field_cipher"]
    hasher = current_app.extensions["lookup_hasher"]
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            PATIENT.c.id,
            PATIENT.c.name,
            PATIENT.c.birth_date,
            PATIENT.c.id_number_cipher,
            PATIENT.c.id_number_masked,
        )
    ).all()
    for row in rows:
        # A patient whose account was deleted keeps a placeholder name that must find no one.
        anonymised = row.id_number_cipher is None
        connection.execute(
            PATIENT.update()
            .where(PATIENT.c.id == row.id)
            .values(
                name_cipher=cipher.encrypt(row.name, "patient.name"),
                name_hash=None if anonymised else hasher.digest(row.name.casefold(), "name"),
                birth_date_cipher=cipher.encrypt(row.birth_date.isoformat(), "patient.birth_date"),
                id_number_masked=_shorter(row.id_number_masked),
            )
        )


def _shorter(masked):
    """A mask of a long number that kept the first 3 and last 4, keeping the first 1 and last 4."""
    if len(masked) < 15:
        return masked
    return masked[0] + "*" * (len(masked) - 5) + masked[-4:]


def downgrade():
    if context.is_offline_mode():
        raise RuntimeError("restoring the masks needs the app's keys: run this revision online")
    cipher = current_app.extensions["field_cipher"]
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(PATIENT.c.id, PATIENT.c.id_number_cipher).where(
            PATIENT.c.id_number_cipher.is_not(None)
        )
    ).all()
    for row in rows:
        number = cipher.decrypt(row.id_number_cipher, "patient.id_number")
        if len(number) >= 15:
            connection.execute(
                PATIENT.update()
                .where(PATIENT.c.id == row.id)
                .values(id_number_masked=number[:3] + "*" * (len(number) - 7) + number[-4:])
            )
    op.drop_index("ix_patient_name_hash", table_name="patient")
    with op.batch_alter_table("patient") as batch:
        batch.alter_column("name", existing_type=sa.String(40), nullable=False)
        batch.alter_column("birth_date", existing_type=sa.Date(), nullable=False)
        batch.drop_column("birth_date_cipher")
        batch.drop_column("name_hash")
        batch.drop_column("name_cipher")
