"""The application factory."""

from pathlib import Path

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app import admin, cli, sandbox
from app.api import register_blueprints as register_api
from app.api.hot import HotPaths
from app.api.observed import Observed, name_endpoint, uncacheable_by_default
from app.errors import register_error_handlers as register_errors
from app.extensions import JsonProvider, api, db, migrate, redis_store
from app.infra import database, logs, sqlbatch
from app.infra.crypto import FieldCipher, LookupHasher
from app.services import account_pages
from app.services.messages import outbox
from config import load_config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config=None):
    """Build the app for ``config``: a config object, an environment name, or None for APP_ENV."""
    if config is None or isinstance(config, str):
        config = load_config(config)
    app = Flask(__name__)
    app.config.from_object(config)
    app.json = JsonProvider(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.wsgi_app = Observed(
        HotPaths(app, app.wsgi_app), app.config["LOG_REQUESTS"], app.config["TRUSTED_PROXIES"]
    )
    app.before_request(lambda: name_endpoint(request))
    app.after_request(uncacheable_by_default)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    if not app.debug and not app.testing:
        logs.configure()
    return app


def register_extensions(app):
    # The keys are parsed here, at start, so that a malformed one stops the app at once.
    app.extensions["field_cipher"] = FieldCipher(app.config["FIELD_ENCRYPTION_KEYS"])
    app.extensions["lookup_hasher"] = LookupHasher(app.config["LOOKUP_HASH_KEY"])
    db.init_app(app)
    outbox.install()
    account_pages.install()
    with app.app_context():
        database.tune_pool(db.engine)
        sqlbatch.register(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    redis_store.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
    )


def register_blueprints(app):
    register_api(app)
    admin.register(app)
    if app.config["SANDBOX_ENABLED"]:
        sandbox.register(app)


def register_error_handlers(app):
    register_errors(app)


def register_commands(app):
    cli.register(app)
