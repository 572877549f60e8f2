"""Integration tier: real MariaDB and Redis; each test runs in a transaction that is rolled back."""

import pytest
from flask_migrate import upgrade
from sqlalchemy import orm

import config as settings
from app import create_app
from app.extensions import db, redis_store
from tests.integration.committed import empty_tables
from tests.support import testing_app


@pytest.fixture(scope="session")
def app():
    return testing_app()


@pytest.fixture
def redis(app):
    with app.app_context():
        client = redis_store.client
        client.flushdb()
        yield client
        client.flushdb()


@pytest.fixture
def session(app, redis):
    """A session joined to an outer transaction: commits become savepoints, all rolled back."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        scoped = orm.scoped_session(
            orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        original, db.session = db.session, scoped
        try:
            yield scoped
        finally:
            scoped.remove()
            outer.rollback()
            connection.close()
            db.session = original


@pytest.fixture(scope="session")
def committed_app():
    """An app on its own database whose tests commit for real (threads see each other's work)."""
    return testing_app("_committed", redis_offset=2)


@pytest.fixture
def committed(committed_app):
    """An app context on the committed database, with Redis and the tables emptied afterwards."""
    with committed_app.app_context():
        redis_store.client.flushdb()
        try:
            yield committed_app
        finally:
            db.session.rollback()
            empty_tables()
            redis_store.client.flushdb()


@pytest.fixture
def sqlite_app(tmp_path, committed_app):
    """An app on a fresh, migrated SQLite file (what `make run` serves on by default), with the
    committed tier's Redis, flushed before and after."""
    config = settings.TestingConfig()
    config.SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'dev.db'}"
    config.SQLALCHEMY_ENGINE_OPTIONS = settings.Config.SQLALCHEMY_ENGINE_OPTIONS  # no MySQL level
    config.REDIS_URL = committed_app.config["REDIS_URL"]
    app = create_app(config)
    with app.app_context():
        redis_store.client.flushdb()
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            redis_store.client.flushdb()
            db.session.remove()
            db.engine.dispose()
