"""The admin's pages: signing in and out, the dashboard, a schedule (and stopping its clinic), the
visit-day queue console and the waiting-room display. Each view loads what it shows through the
scoping helper and changes things only through the services."""

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.admin import forms, queries
from app.admin.blueprint import IDLE_KEY, StaffUser, bp, login_manager
from app.domain import clock
from app.domain.enums import Period
from app.domain.identity import mask_name
from app.domain.orders import OrderStatus
from app.domain.staff import Scope, StaffRole
from app.errors import AppError
from app.models import Refund, Schedule
from app.services import (
    audit,
    display_links,
    money_ops,
    schedules,
    scoping,
    staff_accounts,
    staff_orders,
    stop_clinic,
    visits,
)
from app.services import dashboard as figures
from app.services import staff as staff_service


def scope() -> Scope:
    """What the signed-in staff member may see."""
    return staff_service.scope_of(g.staff)


def _safe_next(target) -> str:
    """A place in the admin to go back to after signing in; never another site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/"):
        return url_for("admin.dashboard")
    return parts.path


@bp.route("/login", methods=["GET", "POST"])
def login():
    """登录."""
    error, status = None, 200
    if request.method == "POST":
        try:
            staff = staff_service.sign_in(
                request.form.get("username"), request.form.get("password")
            )
        except AppError as refused:
            error, status = refused.message, refused.status
        else:
            session.clear()
            login_user(StaffUser(staff))
            session[IDLE_KEY] = clock.now().timestamp()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("admin/login.html", error=error), status


@bp.post("/logout")
@login_required
def logout():
    """退出: this cookie and every other one of the staff member stop working."""
    staff_service.sign_out(g.staff)
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def dashboard():
    """仪表盘: today in the staff member's scope, the last 30 days and each department's share."""
    recent = figures.trend(scope())
    charts = {
        "labels": [day.strftime("%m-%d") for day, _, _ in recent.days],
        "visits": [count for _, count, _ in recent.days],
        "fees": [fees / 100 for _, _, fees in recent.days],
        "departments": {
            "labels": [name for name, _ in recent.departments],
            "values": [count for _, count in recent.departments],
        },
    }
    return render_template("admin/dashboard.html", today=figures.today(scope()), charts=charts)


@bp.get("/schedules/<int:schedule_id>")
@login_required
def schedule_page(schedule_id):
    """出诊: the schedule, its orders, and stopping its clinic."""
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    return _schedule(schedule)


def _schedule(schedule, result=None, error=None, status=200, changed=False):
    orders = schedules.orders_of(schedule)
    doctor = schedule.doctor
    return (
        render_template(
            "admin/schedule.html",
            schedule=schedule,
            doctor=doctor,
            orders=orders,
            result=result,
            error=error,
            changed=changed,
        ),
        status,
    )


@bp.post("/schedules/<int:schedule_id>/stop")
@login_required
def stop_schedule(schedule_id):
    """停诊: stop the clinic with a reason (stopping it again finishes what is left)."""
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    try:
        result = stop_clinic.stop_clinic(
            schedule.id, request.form.get("reason", ""), g.staff.username, staff=g.staff
        )
    except AppError as refused:
        return _schedule(schedule, error=refused.message, status=refused.status)
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    return _schedule(schedule, result=result)


# --- the visit-day queue console (叫号) --------------------------------------------------------


def _console(schedule, message=None, error=None, status=200, link=None):
    template = "admin/_queue.html" if request.headers.get("HX-Request") else "admin/queue.html"
    return (
        render_template(
            template,
            schedule=schedule,
            doctor=schedule.doctor,
            orders=visits.queue_of(schedule.id),
            message=message,
            error=error,
            Status=OrderStatus,
            link=link,
        ),
        status,
    )


@bp.get("/queue/<int:schedule_id>")
@login_required
def queue_page(schedule_id):
    """叫号台: the schedule's queue, with one click per action."""
    return _console(scoping.get_in_scope(Schedule, schedule_id, scope()))


_ACTIONS = {
    "recall": (visits.recall, "已重呼 {seq} 号"),
    "skip": (visits.skip, "{seq} 号已过号"),
    "complete": (visits.complete, "{seq} 号就诊完成"),
    "no-show": (visits.mark_no_show, "{seq} 号已标记爽约"),
}


@bp.post("/queue/<int:schedule_id>/call-next")
@login_required
def call_next(schedule_id):
    """叫下一位."""
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    order = visits.call_next(schedule.id, by=g.staff)
    message = f"请 {order.seq} 号就诊" if order else "没有候诊的患者"
    return _console(schedule, message=message)


@bp.post("/queue/<int:schedule_id>/orders/<int:order_id>/<action>")
@login_required
def queue_action(schedule_id, order_id, action):
    """重呼 / 过号 / 完成 / 爽约 for one patient of the queue."""
    if action not in _ACTIONS:
        abort(404)
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    service, done = _ACTIONS[action]
    try:
        order = service(schedule.id, order_id, by=g.staff)
    except AppError as refused:
        return _console(schedule, error=refused.message, status=refused.status)
    return _console(schedule, message=done.format(seq=order.seq))


@bp.post("/queue/<int:schedule_id>/check-in")
@login_required
def check_in(schedule_id):
    """签到 by the e-ticket's code, scanned or typed."""
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    try:
        order = visits.check_in_by_ticket(
            (request.form.get("ticket") or "").strip(), schedule.id, by=g.staff
        )
    except AppError as refused:
        return _console(schedule, error=refused.message, status=refused.status)
    return _console(schedule, message=f"{order.seq} 号已签到")


@bp.post("/queue/<int:schedule_id>/display-link")
@login_required
def display_link(schedule_id):
    """候诊屏链接: a link opening the schedule's display without a session, until the visit day
    ends (audited)."""
    link = display_links.create_link(scope(), schedule_id, staff=g.staff)
    url = url_for("admin.display", schedule_id=schedule_id, key=link.key, _external=True)
    shown = SimpleNamespace(url=url, day=link.day)
    if request.headers.get("HX-Request"):
        return render_template("admin/_display_link.html", link=shown)
    return _console(scoping.get_in_scope(Schedule, schedule_id, scope()), link=shown)


# --- the waiting-room display (候诊屏) ---------------------------------------------------------


@bp.get("/display/<int:schedule_id>")
def display(schedule_id):
    """The waiting room's screen: the numbers being called and the next ones, names masked.
    Staff open it with their session; a wall screen with a display link's key, which opens
    this screen (and its refreshes) only, and answers 404 when it is not this schedule's or
    its day has ended."""
    key = request.args.get("key")
    if key is not None:
        schedule = display_links.schedule_of_key(schedule_id, key)
    elif not current_user.is_authenticated:
        return login_manager.unauthorized()
    else:
        schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    orders = visits.queue_of(schedule.id)
    called = [o for o in orders if o.status == OrderStatus.CALLED]
    waiting = [o for o in orders if o.status == OrderStatus.CHECKED_IN][:5]
    template = "admin/_display.html" if request.headers.get("HX-Request") else "admin/display.html"
    return render_template(
        template,
        schedule=schedule,
        doctor=schedule.doctor,
        called=called,
        waiting=waiting,
        masked=lambda order: mask_name(order.patient.name),
        key=key,
    )


@bp.app_template_filter("fen")
def _yuan(fen) -> str:
    """Fen as yuan with two decimals."""
    fen = int(fen or 0)
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


@bp.app_template_filter("china")
def _china(moment, pattern="%Y-%m-%d %H:%M") -> str:
    """An aware datetime in China time."""
    return clock.to_china(moment).strftime(pattern) if moment else ""


# --- orders and money --------------------------------------------------------------------------


def _admins_only():
    """Money is handled by admins; a doctor's session is refused (403)."""
    if g.staff.role == StaffRole.DOCTOR:
        abort(403)


@bp.get("/orders")
@login_required
def orders_page():
    """挂号查询: by order id, merchant order number, mobile number or patient name."""
    text = request.args.get("q", "")
    found = staff_orders.search(scope(), text) if text.strip() else None
    return render_template("admin/orders.html", q=text, found=found)


@bp.get("/orders/<int:order_id>")
@login_required
def order_page(order_id, error=None, message=None, status=200):
    """The order's whole story: holds, payments, refunds, messages, audit."""
    return (
        render_template(
            "admin/order.html",
            story=staff_orders.story(scope(), order_id),
            error=error,
            message=message,
            can_refund=g.staff.role != StaffRole.DOCTOR,
        ),
        status,
    )


@bp.post("/orders/<int:order_id>/refund")
@login_required
def refund_order(order_id):
    """退款 in full, with a reason, through the payment service."""
    _admins_only()
    try:
        refund = staff_orders.refund_in_full(
            scope(), order_id, request.form.get("reason", ""), g.staff
        )
    except AppError as refused:
        if refused.status == 404:
            raise
        return order_page(order_id, error=refused.message, status=refused.status)
    return order_page(order_id, message=f"已发起退款 {_yuan(refund.amount_fen)}")


@bp.get("/refunds/failed")
@login_required
def failed_refunds():
    """失败退款: money still owed, for staff to send again."""
    _admins_only()
    return render_template("admin/failed_refunds.html", refunds=money_ops.failed_refunds(scope()))


@bp.post("/refunds/<int:refund_id>/retry")
@login_required
def retry_refund(refund_id):
    """Send a failed refund again."""
    _admins_only()
    scoping.get_in_scope(Refund, refund_id, scope())
    try:
        money_ops.retry_refund(refund_id, staff=g.staff)
    except AppError as refused:
        flash(refused.message, "error")
    else:
        flash("已重新发起退款", "done")
    return redirect(url_for("admin.failed_refunds"))


# --- schedules (排班) ----------------------------------------------------------------------------


@bp.get("/schedules")
@login_required
def schedules_page(error=None, message=None, status=200):
    """排班: a department's week, and a new schedule."""
    departments = schedules.departments(scope())
    if not departments:
        return render_template("admin/schedules.html", week=None, departments=[]), status
    department_id = request.args.get("department", type=int) or departments[0].id
    shown = schedules.week(scope(), department_id, queries.day("week"))
    return (
        render_template(
            "admin/schedules.html",
            week=shown,
            departments=departments,
            periods=list(Period),
            timedelta=timedelta,
            error=error,
            message=message,
        ),
        status,
    )


@bp.post("/schedules")
@login_required
def create_schedule():
    """A new schedule from the week's form."""
    form = request.form
    try:
        schedule = schedules.create_schedule(
            scope(),
            forms.number(form.get("doctor_id"), "doctor_id", "请选择医生", required=True),
            forms.value(date, form.get("date"), "date"),
            form.get("period"),
            forms.value(time, form.get("start_time"), "start_time"),
            forms.value(time, form.get("end_time"), "end_time"),
            forms.number(form.get("capacity"), "capacity", "请填写号源数", required=True),
            forms.yuan_in_fen(form.get("fee")) if form.get("fee") else None,
            staff=g.staff,
        )
    except AppError as refused:
        if refused.status == 404:
            raise
        return schedules_page(error=refused.message, status=refused.status)
    return redirect(
        url_for(
            "admin.schedules_page",
            department=schedule.department_id,
            week=schedule.date.isoformat(),
        )
    )


@bp.post("/schedules/<int:schedule_id>/change")
@login_required
def change_schedule(schedule_id):
    """号源数 / 挂号费 / 放号时间 / 出诊时间 of a schedule."""
    schedule = scoping.get_in_scope(Schedule, schedule_id, scope())
    form = request.form

    def given(kind, field):
        return forms.value(kind, form[field], field) if form.get(field) else None

    try:
        schedules.change_schedule(
            scope(),
            schedule.id,
            capacity=forms.number(form.get("capacity"), "capacity", "请填写正确的数字"),
            fee_fen=forms.yuan_in_fen(form["fee"]) if form.get("fee") else None,
            release=given(datetime, "release_at"),
            start=given(time, "start_time"),
            end=given(time, "end_time"),
            staff=g.staff,
        )
    except AppError as refused:
        if refused.status == 404:
            raise
        return _schedule(schedule, error=refused.message, status=refused.status)
    return _schedule(scoping.get_in_scope(Schedule, schedule_id, scope()), changed=True)


# --- reconciliation (对账) ---------------------------------------------------------------------


def _platform_only():
    """Reconciliation is of the merchant accounts, which serve every hospital: platform admins'."""
    if g.staff.role != StaffRole.PLATFORM_ADMIN:
        abort(403)


@bp.get("/reconciliation")
@login_required
def reconciliation_page(error=None, status=200):
    """对账: each channel's days, and the differences not yet resolved."""
    _platform_only()
    return (
        render_template(
            "admin/reconciliation.html",
            days=money_ops.recent_days(),
            differences=money_ops.open_differences(),
            error=error,
        ),
        status,
    )


@bp.post("/reconciliation/items/<int:item_id>/resolve")
@login_required
def resolve_difference(item_id):
    """处理: a difference marked resolved, with a note."""
    _platform_only()
    try:
        money_ops.resolve_difference(item_id, request.form.get("note", ""), staff=g.staff)
    except AppError as refused:
        if refused.status == 404:
            raise
        return reconciliation_page(error=refused.message, status=refused.status)
    return redirect(url_for("admin.reconciliation_page"))


# --- accounts ----------------------------------------------------------------------------------


@bp.get("/accounts")
@login_required
def accounts_page():
    """账号: by id, verified phone or a patient's name (platform admins: accounts book in every
    hospital)."""
    _platform_only()
    text = request.args.get("q", "")
    found = staff_accounts.find(text) if text.strip() else None
    return render_template("admin/accounts.html", q=text, found=found)


@bp.get("/accounts/<int:account_id>")
@login_required
def account_page(account_id, error=None, message=None, status=200):
    """An account: its patients (masked), no-show strikes and block, freeze and unfreeze."""
    _platform_only()
    return (
        render_template(
            "admin/account.html",
            shown=staff_accounts.view(account_id),
            now=clock.now(),
            error=error,
            message=message,
        ),
        status,
    )


_ACCOUNT_ACTIONS = {
    "freeze": (staff_accounts.freeze, "账号已冻结"),
    "unfreeze": (staff_accounts.unfreeze, "账号已解冻"),
    "lift-block": (staff_accounts.lift_block, "已解除爽约限制"),
}


@bp.post("/accounts/<int:account_id>/<action>")
@login_required
def account_action(account_id, action):
    """冻结 / 解冻 / 解除爽约限制, each with a reason."""
    _platform_only()
    if action not in _ACCOUNT_ACTIONS:
        abort(404)
    service, done = _ACCOUNT_ACTIONS[action]
    try:
        service(account_id, request.form.get("reason", ""), g.staff)
    except AppError as refused:
        if refused.status == 404:
            raise
        return account_page(account_id, error=refused.message, status=refused.status)
    return account_page(account_id, message=done)


# --- the audit log (操作日志) ---------------------------------------------------------------------


@bp.get("/audit")
@login_required
def audit_page():
    """操作日志: who changed what, filtered by action, actor and day (hospital and platform
    admins)."""
    if g.staff.role not in (StaffRole.PLATFORM_ADMIN, StaffRole.HOSPITAL_ADMIN):
        abort(403)
    args = request.args
    day = queries.day("day", today_by_default=False)
    shown = audit.entries(
        scope(), action=args.get("action") or None, actor=args.get("actor") or None, day=day
    )
    return render_template("admin/audit.html", entries=shown, args=args)
