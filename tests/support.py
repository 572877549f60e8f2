"""Helpers shared by the test tiers: test databases on the real MariaDB, a served app."""

import threading

import pymysql
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from config import TestingConfig


def fresh_database(name):
    """Drop and create database ``name`` (utf8mb4) on the test MariaDB; return its URL."""
    base = make_url(TestingConfig().SQLALCHEMY_DATABASE_URI)
    connection = pymysql.connect(
        host=base.host or "127.0.0.1",
        port=base.port or 3306,
        user=base.username or "root",
        password=base.password or "",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        connection.close()
    return base.set(database=name).render_as_string(hide_password=False)


def testing_app(database, redis_db, **overrides):
    """An app on a fresh, migrated test database ``database`` and Redis db ``redis_db``."""
    config = TestingConfig()
    config.SQLALCHEMY_DATABASE_URI = fresh_database(database)
    config.REDIS_URL = f"{config.REDIS_URL.rsplit('/', 1)[0]}/{redis_db}"
    for key, value in overrides.items():
        setattr(config, key, value)
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


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
