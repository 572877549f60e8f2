"""Alembic: from an empty MySQL database to head and back, and the models agree with head."""

from datetime import date

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

import config
from app import create_app
from app.extensions import db
from app.models import Patient
from app.services import protection
from tests.factories import resident_id
from tests.support import database_name, fresh_database

CATALOGUE_TABLES = {"hospital", "department", "doctor", "schedule", "slot"}


def _app_on(database):
    settings = config.TestingConfig()
    settings.SQLALCHEMY_DATABASE_URI = fresh_database(database)
    return create_app(settings)


def _tables():
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_to_head_and_downgrade_to_base():
    app = _app_on(database_name("_migrations"))
    with app.app_context():
        assert _tables() == set()
        upgrade()
        assert _tables() >= CATALOGUE_TABLES
        downgrade(revision="base")
        assert _tables() == set()
        upgrade()  # and up again: the downgrade left nothing behind that blocks it
        assert _tables() >= CATALOGUE_TABLES
        db.engine.dispose()


def test_models_match_the_migrations(app):
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_tables_are_utf8mb4(app):
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT table_name, table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
            )
        ).all()
    assert rows and all(collation.startswith("utf8mb4") for _, collation in rows)


def test_patients_names_and_birth_dates_are_sealed_by_the_upgrade_and_opened_by_the_downgrade():
    app = _app_on(database_name("_migrations_sealing"))
    number = resident_id(birth="19750203")
    with app.app_context():
        upgrade(revision="0005_reconciliation")
        now = "2026-12-01 08:00:00"
        db.session.execute(
            sa.text(
                "INSERT INTO account (id, nickname, status, token_version, created_at, updated_at)"
                " VALUES (1, '', 'active', 1, :now, :now)"
            ),
            {"now": now},
        )
        db.session.execute(
            sa.text(
                "INSERT INTO patient (id, account_id, name, id_type, id_number_cipher,"
                " id_number_hash, id_number_masked, sex, birth_date, relationship, insured, live,"
                " created_at, updated_at) VALUES (1, 1, '郑十', 'resident_id', :cipher, :hash,"
                " :masked, 'male', '1975-02-03', 'self', 0, 1, :now, :now)"
            ),
            {
                "cipher": protection.seal(number, "patient.id_number"),
                "hash": protection.lookup_hash(f"resident_id:{number}", "id_number"),
                "masked": number[:3] + "*" * 11 + number[-4:],
                "now": now,
            },
        )
        db.session.commit()

        upgrade()
        raw = db.session.execute(sa.text("SELECT * FROM patient")).mappings().one()
        assert "name" not in raw and "birth_date" not in raw
        assert "郑十" not in str(dict(raw)) and "1975" not in str(dict(raw))
        assert raw["id_number_masked"] == number[0] + "*" * 13 + number[-4:]
        patient = db.session.get(Patient, 1)
        assert (patient.name, patient.birth_date) == ("郑十", date(1975, 2, 3))
        assert patient.name_hash == protection.name_hash("郑十")
        db.session.rollback()

        downgrade(revision="0005_reconciliation")
        raw = db.session.execute(sa.text("SELECT * FROM patient")).mappings().one()
        assert (raw["name"], raw["birth_date"]) == ("郑十", date(1975, 2, 3))
        assert raw["id_number_masked"] == number[:3] + "*" * 11 + number[-4:]
        db.session.rollback()
        db.engine.dispose()
