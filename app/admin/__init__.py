"""The staff admin (/admin/): server-rendered Jinja pages in Chinese, htmx for the live parts.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure in production) naming the
staff member and their current session token, so that signing out voids every cookie issued
before; a session idle for ADMIN_IDLE_MINUTES ends. Every form and every htmx request carries the
CSRF token (Flask-WTF), checked for every change. Views call the same services as the API; every
read of theirs is scoped (app/services/scoping.py) and every change audited.
"""

from app.admin import catalogue, operations, planning, stats, views
from app.admin.blueprint import csrf, login_manager

# The modules whose routes attach to the blueprint (views' bp is theirs too).
PAGES = (views, operations, planning, catalogue, stats)


def register(app):
    """Mount the admin on ``app``."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the admin checks its own changes
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's idle timeout bounds it
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    app.register_blueprint(views.bp)
