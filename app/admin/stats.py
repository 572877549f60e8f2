"""The statistics page (统计) for admins: a day's, week's or month's bookings, revenue,
utilisation and cancellation and no-show rates per department or doctor, read from the daily
rollup (stats_daily) only, and the same rows exported as Excel (.xlsx) or CSV."""

import csv
import io
from datetime import date

from flask import abort, g, render_template, request
from flask_login import login_required
from openpyxl import Workbook

from app.admin.blueprint import bp
from app.admin.views import form_value, scope
from app.domain import clock
from app.domain.staff import StaffRole
from app.services import stats


def _admins_only():
    if g.staff.role == StaffRole.DOCTOR:
        abort(403)


def _asked():
    """The window and grouping asked for (day of today and by department unless said)."""
    period = request.args.get("period", "day")
    if period not in stats.PERIODS:
        period = "day"
    by = request.args.get("by", "department")
    if by not in stats.GROUPINGS:
        by = "department"
    text = request.args.get("start")
    start = form_value(date, text, "start") if text else clock.business_date(clock.now())
    return stats.window(period, start), by


def _table(rows, by):
    """The export's header and rows: money in yuan, rates in per cent."""
    header = ["周期", "科室"] + (["医生"] if by == "doctor" else [])
    header += ["预约数", "收入（元）", "号源", "已约", "使用率%", "取消数", "取消率%"]
    header += ["爽约数", "爽约率%"]
    lines = [header]
    for row in rows:
        line = [row.period, row.department] + ([row.doctor] if by == "doctor" else [])
        line += [row.bookings, stats.yuan(row.revenue_fen), row.capacity, row.taken]
        line += [row.utilisation, row.cancellations, row.cancellation_rate]
        line += [row.no_shows, row.no_show_rate]
        lines.append(line)
    return lines


def _filename(span, by, extension):
    return f"stats-{by}-{span.first.isoformat()}_{span.last.isoformat()}.{extension}"


@bp.get("/stats")
@login_required
def stats_page():
    """统计: the window's figures per department or doctor."""
    _admins_only()
    span, by = _asked()
    return render_template(
        "admin/stats.html", span=span, by=by, rows=stats.figures(scope(), span, by)
    )


@bp.get("/stats.csv")
@login_required
def stats_csv():
    """导出 CSV: the page's rows, UTF-8 with a BOM so that Excel reads the Chinese."""
    _admins_only()
    span, by = _asked()
    text = io.StringIO()
    csv.writer(text).writerows(_table(stats.figures(scope(), span, by), by))
    return (
        "\ufeff" + text.getvalue(),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{_filename(span, by, "csv")}"',
        },
    )


@bp.get("/stats.xlsx")
@login_required
def stats_xlsx():
    """导出 Excel: the page's rows as a workbook."""
    _admins_only()
    span, by = _asked()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("统计")
    for line in _table(stats.figures(scope(), span, by), by):
        sheet.append(line)
    body = io.BytesIO()
    book.save(body)
    return (
        body.getvalue(),
        200,
        {
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="{_filename(span, by, "xlsx")}"',
        },
    )
