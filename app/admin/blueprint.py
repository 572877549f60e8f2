"""The admin's blueprint and its session: who is signed in, CSRF, the idle timeout, headers.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure in production) naming the
staff member and their current session token, so that signing out voids every cookie issued
before; a session idle for ADMIN_IDLE_MINUTES ends. Every form and every htmx request carries the
CSRF token (Flask-WTF), checked for every change. Views call the same services as the API; every
read of theirs is scoped (app/services/scoping.py) and every change audited.
"""

from datetime import timedelta

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from app.domain import clock
from app.errors import AppError
from app.services import staff as staff_service

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
login_manager = LoginManager()
csrf = CSRFProtect()

IDLE_KEY = "admin_seen"


class StaffUser:
    """The signed-in staff member as Flask-Login sees them."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, staff):
        self.staff = staff

    def get_id(self):
        return staff_service.session_id(self.staff)


@login_manager.user_loader
def _load(value):
    staff = staff_service.from_session(value)
    return StaffUser(staff) if staff is not None else None


@login_manager.unauthorized_handler
def _unauthorized():
    if request.headers.get("HX-Request"):
        return "", 401, {"HX-Redirect": url_for("admin.login")}
    return redirect(url_for("admin.login", next=request.path))


@bp.before_request
def _guard():
    """CSRF on every change; the idle timeout; the signed-in staff member as ``g.staff``."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    g.staff = None
    if request.endpoint == "admin.display" and "key" in request.args:
        # A wall screen's display link: its key decides, and its refreshes every 5 s neither
        # keep a staff session of that browser alive nor end it.
        return None
    if not current_user.is_authenticated:
        return None
    now = clock.now().timestamp()
    idle = timedelta(minutes=current_app.config["ADMIN_IDLE_MINUTES"]).total_seconds()
    seen = session.get(IDLE_KEY)
    if seen is not None and now - seen > idle:
        logout_user()
        session.clear()
        return _unauthorized()
    session[IDLE_KEY] = now
    g.staff = current_user.staff
    return None


def _refused(status, message):
    """An admin page's refusal, as a page, or for htmx a message shown above the page (the
    htmx configuration swaps these answers in)."""
    if request.headers.get("HX-Request"):
        body = render_template("admin/_refused.html", message=message)
        return body, status, {"HX-Retarget": "#refused", "HX-Reswap": "innerHTML"}
    return render_template("admin/refused.html", message=message, status=status), status


@bp.errorhandler(AppError)
def _app_error(error):
    return _refused(error.status, error.message)


@bp.errorhandler(HTTPException)
def _http_error(error):
    messages = {
        400: "请求无效或页面已过期，请刷新后重试",
        403: "没有权限进行该操作",
        404: "未找到该页面或记录",
        405: "不支持该操作",
    }
    return _refused(error.code or 500, messages.get(error.code, "请求无法处理"))


@bp.after_request
def _headers(response):
    """Admin pages are never cached, never framed, and load scripts only from here."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return response
