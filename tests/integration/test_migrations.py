"""Alembic: from an empty MySQL database to head and back, and the models agree with head."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

import config
from app import create_app
from app.extensions import db
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
