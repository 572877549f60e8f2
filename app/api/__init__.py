"""The patient-facing JSON API, /api/v1."""

from app.api import (
    auth,
    catalogue,
    docs,
    health,
    me,
    orders,
    patients,
    subscriptions,
    webhooks,
)
from app.extensions import api


def register_blueprints(app):
    """Mount every API blueprint; OpenAPI is generated from them."""
    for module in (catalogue, auth, me, patients, orders, subscriptions):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(docs.bp)
