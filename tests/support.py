"""Helpers shared by the test tiers: test databases on the real MariaDB, a served app, keys."""

import threading

import sqlalchemy as sa
from flask_migrate import upgrade
from rq import SimpleWorker
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from app.infra import queue
from app.infra.database import create_database
from config import TestingConfig


def _base_url():
    """The test database URL of TestingConfig (TEST_DATABASE_URL)."""
    return make_url(TestingConfig().SQLALCHEMY_DATABASE_URI)


def database_name(suffix=""):
    """The tier's database: the TEST_DATABASE_URL database name, plus ``suffix``."""
    return _base_url().database + suffix


def fresh_database(name):
    """Drop and create database ``name`` (utf8mb4) on the test MariaDB; return its URL."""
    url = _base_url().set(database=name).render_as_string(hide_password=False)
    create_database(url, recreate=True)
    return url


def testing_app(suffix="", redis_offset=0, **overrides):
    """An app on a fresh, migrated test database and its own Redis db.

    The integration tier uses the TEST_DATABASE_URL database and TEST_REDIS_URL's db; other tiers
    add a suffix and step down from that db, so two checkouts can test side by side with
    different TEST_* settings.
    """
    config = TestingConfig()
    config.SQLALCHEMY_DATABASE_URI = fresh_database(database_name(suffix))
    prefix, db_number = config.REDIS_URL.rsplit("/", 1)
    tier_db = int(db_number) - redis_offset
    if tier_db < 1:
        # The tiers flush their Redis databases; db 0 is the development one.
        raise RuntimeError(
            f"TEST_REDIS_URL db {db_number} is too low: the tiers use it and the 3 below it; "
            "choose 4 or more (default 15)"
        )
    config.REDIS_URL = f"{prefix}/{tier_db}"
    for key, value in overrides.items():
        setattr(config, key, value)
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


def run_queued_jobs(with_scheduler=False):
    """Run the jobs on the app's RQ queues as a worker does, until none is left (in an app
    context). ``with_scheduler`` also moves timers that are due onto their queue first."""
    queues = queue.get_queues()
    worker = SimpleWorker(queues, connection=queues[0].connection)
    worker.work(burst=True, with_scheduler=with_scheduler)


class ServedApp:
    """The app served over real HTTP on 127.0.0.1, in a background thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)


class SentQueries:
    """The queries SQLAlchemy sends on ``engine`` while inside (pings, COMMITs and ROLLBACKs are
    not among them; statements sent together through app.infra.sqlbatch are one)."""

    def __init__(self, engine):
        self.engine = engine

    def __enter__(self):
        self.sent = []
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def _seen(self, connection, cursor, statement, *args):
        self.sent.append(statement)

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)
