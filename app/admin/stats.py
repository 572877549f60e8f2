"""The statistics pages (统计) for admins, read from the rollups only: per day, week or month —
several periods as rows, with totals — and per department or doctor, the bookings, revenue,
utilisation, cancellation, no-show and refund rates; the channel share and the booking-hour
distribution; and the anomalies (异常监测): bursts of holds from one account or IP address,
and payment failures. Every table is exported as Excel (.xlsx) or CSV."""

import csv
import io

from flask import abort, current_app, g, render_template
from flask_login import login_required
from openpyxl import Workbook

from app.admin import queries
from app.admin.blueprint import bp
from app.admin.views import scope
from app.domain import clock
from app.domain.staff import StaffRole
from app.models import Department, Doctor
from app.services import scoping, stats

PERIOD_LABELS = {"day": "日", "week": "周", "month": "月"}
GROUPING_LABELS = {"total": "合计", "department": "科室", "doctor": "医生"}


def _admins_only():
    if g.staff.role == StaffRole.DOCTOR:
        abort(403)


class Asked:
    """What a statistics page was asked for: the periods, the grouping, and the department or
    doctor it is limited to (checked to be in the viewer's scope: 404 otherwise)."""

    def __init__(self):
        self.period = queries.choice("period", stats.PERIODS, "day", "周期")
        self.by = queries.choice("by", stats.GROUPINGS, "department", "分组")
        self.periods = queries.number("periods", 1, 1, stats.MAX_PERIODS, "周期数")
        self.shown = stats.windows(self.period, queries.day("start"), self.periods)
        self.last = self.shown[-1]
        self.span = stats.span_of(self.shown)
        viewer = scope()
        self.department = self.doctor = None
        department_id, doctor_id = (
            queries.record_id("department", "科室"),
            queries.record_id("doctor", "医生"),
        )
        if department_id is not None:
            self.department = scoping.get_in_scope(Department, department_id, viewer)
        if doctor_id is not None:
            self.doctor = scoping.get_in_scope(Doctor, doctor_id, viewer)
        self.where = stats.Filter(viewer, department_id, doctor_id)

    def query(self, **changed) -> dict:
        """The query string of this page, with ``changed`` (for links and exports)."""
        values = {
            "period": self.period,
            "start": self.last.first.isoformat(),
            "periods": self.periods,
            "by": self.by,
            "department": self.department.id if self.department else None,
            "doctor": self.doctor.id if self.doctor else None,
        }
        values.update(changed)
        return {key: value for key, value in values.items() if value is not None}

    def filename(self, name, extension) -> str:
        return (
            f"stats-{name}-{self.span.first.isoformat()}_{self.span.last.isoformat()}.{extension}"
        )


# --- the tables, as exported: header and rows, money in yuan, rates in per cent ------------------


def _figures_table(asked):
    by = asked.by
    header = ["周期", "科室"] + (["医生"] if by == "doctor" else [])
    header += ["预约数", "收入（元）", "号源", "已约", "使用率%", "取消数", "取消率%"]
    header += ["爽约数", "爽约率%", "支付笔数", "退款笔数", "退款率%", "退款金额（元）"]
    lines = [header]
    for row in stats.figures(asked.where, asked.shown, by):
        department = "合计" if row.total else row.department
        line = [row.period, department] + ([row.doctor] if by == "doctor" else [])
        line += [row.bookings, stats.yuan(row.revenue_fen), row.capacity, row.taken]
        line += [row.utilisation, row.cancellations, row.cancellation_rate]
        line += [row.no_shows, row.no_show_rate, row.payments, row.refunds, row.refund_rate]
        line += [stats.yuan(row.refund_fen)]
        lines.append(line)
    return lines


def _channels_table(asked):
    lines = [["支付渠道", "支付笔数", "笔数占比%", "支付金额（元）", "金额占比%"]]
    for share in stats.channel_share(asked.where, asked.span):
        lines.append(
            [
                share.label,
                share.payments,
                share.share,
                stats.yuan(share.amount_fen),
                share.amount_share,
            ]
        )
    return lines


def _hours_table(asked):
    lines = [["下单时段", "挂号数", "其中已预约", "占比%"]]
    for hour in stats.hours(asked.where, asked.span):
        lines.append([hour.label, hour.orders, hour.bookings, hour.share])
    return lines


def _payments_table(asked):
    lines = [["周期", "支付渠道", "发起支付", "支付成功", "成功率%", "未支付关闭"]]
    lines[0] += ["未能发起支付", "发起失败率%", "退款失败"]
    for row in stats.payment_failures(asked.where, asked.shown):
        lines.append(
            [
                row.period,
                row.label,
                row.started,
                row.paid,
                row.paid_rate,
                row.closed,
                row.no_prepay,
                row.failure_rate,
                row.refunds_failed,
            ]
        )
    return lines


def _bursts_table(asked):
    lines = [["日期", "来源类型", "来源", "医院", "科室（挂号数）", "开始时间", "结束时间"]]
    lines[0] += ["历时（分钟）", "挂号数"]
    for burst in stats.burst_list(asked.where, asked.span):
        lines.append(
            [
                burst.day.isoformat(),
                burst.kind.label,
                burst.subject,
                burst.hospital,
                "、".join(f"{name}（{count}）" for name, count in burst.departments),
                clock.to_china(burst.first_at).strftime("%H:%M:%S"),
                clock.to_china(burst.last_at).strftime("%H:%M:%S"),
                burst.minutes,
                burst.holds,
            ]
        )
    return lines


TABLES = {
    "figures": ("统计", _figures_table),
    "channels": ("支付渠道占比", _channels_table),
    "hours": ("下单时段分布", _hours_table),
    "payments": ("支付异常", _payments_table),
    "bursts": ("突发挂号", _bursts_table),
}


def _csv(lines, filename):
    text = io.StringIO()
    csv.writer(text).writerows(lines)
    return (
        "\ufeff" + text.getvalue(),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


def _xlsx(lines, title, filename):
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for line in lines:
        sheet.append(line)
    body = io.BytesIO()
    book.save(body)
    return (
        body.getvalue(),
        200,
        {
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


def _export(name, extension):
    _admins_only()
    asked = Asked()
    title, table = TABLES[name]
    lines = table(asked)
    filename = asked.filename(name if name != "figures" else asked.by, extension)
    if extension == "csv":
        return _csv(lines, filename)
    return _xlsx(lines, title, filename)


# --- pages -------------------------------------------------------------------------------------


@bp.get("/stats")
@login_required
def stats_page():
    """统计: the periods' figures per department or doctor, the channel share and the hours
    orders were made."""
    _admins_only()
    asked = Asked()
    channels = stats.channel_share(asked.where, asked.span)
    hours = stats.hours(asked.where, asked.span)
    charts = {
        "hours": {
            "labels": [f"{hour.hour:02d}" for hour in hours],
            "orders": [hour.orders for hour in hours],
            "bookings": [hour.bookings for hour in hours],
        },
        "channels": {
            "labels": [share.label for share in channels],
            "values": [share.payments for share in channels],
        },
    }
    return render_template(
        "admin/stats.html",
        asked=asked,
        span=asked.last,
        by=asked.by,
        rows=stats.figures(asked.where, asked.shown, asked.by),
        channels=channels,
        hours=hours,
        charts=charts,
        places=stats.places(scope()),
        period_labels=PERIOD_LABELS,
        grouping_labels=GROUPING_LABELS,
    )


@bp.get("/stats/anomalies")
@login_required
def stats_anomalies():
    """异常监测: bursts of holds from one account or IP address, and payment failures."""
    _admins_only()
    asked = Asked()
    return render_template(
        "admin/stats_anomalies.html",
        asked=asked,
        span=asked.last,
        bursts=stats.burst_list(asked.where, asked.span),
        payments=stats.payment_failures(asked.where, asked.shown),
        rules=stats.burst_rules(current_app.config),
        places=stats.places(scope()),
        period_labels=PERIOD_LABELS,
        max_bursts=stats.MAX_BURSTS,
    )


@bp.get("/stats.csv")
@login_required
def stats_csv():
    """导出 CSV: the page's rows, UTF-8 with a BOM so that Excel reads the Chinese."""
    return _export("figures", "csv")


@bp.get("/stats.xlsx")
@login_required
def stats_xlsx():
    """导出 Excel: the page's rows as a workbook."""
    return _export("figures", "xlsx")


@bp.get("/stats/<any(channels, hours, payments, bursts):name>.<any(csv, xlsx):extension>")
@login_required
def stats_export(name, extension):
    """导出: one of the statistics' other tables as CSV or Excel."""
    return _export(name, extension)
