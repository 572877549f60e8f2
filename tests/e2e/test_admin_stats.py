"""The statistics pages over HTTP (Flask's test client, the whole WSGI stack): the rollups of a
day with known orders, payments and refunds, run twice to the same rows; the page by day, week
and month, over several periods with totals, per department and per doctor; refunds, the
channel share and the booking hours; the anomalies (bursts of holds, payment failures); every
table's CSV and Excel export with the same rows; the dashboard's trend from the rollup;
scoping (404 for a department or doctor outside it), bad queries 400, doctors 403."""

import csv
import io
import json
import re
import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

import config
from app import create_app
from app.domain import clock
from app.domain.anomalies import BurstKind, BurstRule
from app.domain.orders import OrderStatus
from app.domain.payments import (
    PaymentChannel,
    PaymentStatus,
    RefundReason,
    RefundStatus,
    new_out_refund_no,
    new_out_trade_no,
)
from app.domain.staff import Scope
from app.extensions import db, redis_store
from app.models import (
    Account,
    Department,
    Doctor,
    Order,
    Payment,
    Refund,
    Schedule,
    Slot,
    StatsBurst,
    StatsDaily,
    StatsHour,
    StatsPayment,
)
from app.services import auth, dashboard, scoping, stats
from tests import support
from tests.e2e.test_admin import hospital, signed_in  # noqa: F401 (the fixture is used by name)
from tests.factories import make_doctor, make_schedule
from tests.integration.committed import make_patients
from workers import cron
from workers import stats as stats_jobs

TODAY = clock.business_date(clock.now())
# A Monday between the 4th and the 10th of a past month: its Tuesday is in the same week and month.
_TENTH = (TODAY.replace(day=1) - timedelta(days=45)).replace(day=10)
DAY = _TENTH - timedelta(days=_TENTH.weekday())


@pytest.fixture(scope="module")
def served():
    """The app on a database of its own, through Flask's test client (test_admin's hospital
    fixture builds on it)."""
    app = support.testing_app("_admin_stats", redis_offset=3)
    with app.app_context():
        redis_store.client.flushdb()
    return SimpleNamespace(app=app)


def _order(schedule, slot, patient, status, fee, created=None, account_id=None, ip=None):
    account, patient_id = patient
    return Order(
        account_id=account_id or account,
        patient_id=patient_id,
        schedule_id=schedule.id,
        slot_id=slot.id,
        doctor_id=schedule.doctor_id,
        department_id=schedule.department_id,
        hospital_id=db.session.get(Department, schedule.department_id).hospital_id,
        visit_date=schedule.date,
        seq=slot.seq,
        suggested_time=slot.suggested_time,
        amount_fen=fee,
        status=status,
        active=True if status.is_active else None,
        expires_at=clock.now(),
        idempotency_key=uuid.uuid4().hex,
        request_fingerprint="0" * 64,
        client_ip=ip,
        **({"created_at": created, "updated_at": created} if created else {}),
    )


# The orders visiting DAY were made three days before (China time): doctor A1's five at 07:00,
# 07:01 … 07:04 from one IP address, A2's and B1's three at 20:00, 20:03 and 20:06 by one account.
MADE = DAY - timedelta(days=3)
BURST_IP = "203.0.113.7"
RULES = {BurstKind.ACCOUNT: BurstRule(3, 10), BurstKind.IP: BurstRule(4, 10)}


def _at(day, hour, minute):
    return datetime.combine(day, time(hour, minute), tzinfo=clock.CHINA_TZ)


def _payment(order, channel, status, *, prepay=True):
    """A payment of ``order`` started a minute after it was made."""
    started = order.created_at + timedelta(minutes=1)
    return Payment(
        order_id=order.id,
        channel=channel,
        out_trade_no=new_out_trade_no(order.id, channel),
        amount_fen=order.amount_fen,
        status=status,
        expires_at=started + timedelta(minutes=15),
        prepay_id=f"wx{order.id}" if prepay and channel == PaymentChannel.WECHAT else None,
        pay_url="https://pay.example/" if prepay and channel == PaymentChannel.ALIPAY else None,
        paid_at=started if status == PaymentStatus.PAID else None,
        created_at=started,
        updated_at=started,
    )


def _refund(payment, amount, status):
    return Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        out_refund_no=new_out_refund_no(payment.order_id),
        amount_fen=amount,
        reason=RefundReason.STAFF,
        status=status,
        succeeded_at=payment.created_at if status == RefundStatus.SUCCESS else None,
        created_at=payment.created_at,
        updated_at=payment.created_at,
    )


@pytest.fixture
def figures(served, hospital):  # noqa: F811 (test_admin's fixture)
    """On DAY (a Monday): doctor A1 (10 numbers at ¥15, 3 taken) has one booked, one completed,
    one no-show, one cancelled and one expired order; doctor A2 of the same department (5 at
    ¥10, 1 taken) one completed; doctor B1 of the other department (8 at ¥20, 2 taken) two
    booked. On the Tuesday, A1 has one more booked (10 at ¥15, 1 taken).

    Payments: A1's booked, no-show and cancelled by WeChat Pay (the cancelled one refunded in
    full), its completed by Alipay, its expired one closed by WeChat Pay without ever getting the
    means to pay; A2's by WeChat Pay; B1's one by Alipay, one by WeChat Pay whose refund failed;
    the Tuesday's by WeChat Pay. Made as MADE says (the Tuesday's two days before it, 09:00)."""
    booked, completed, no_show = OrderStatus.BOOKED, OrderStatus.COMPLETED, OrderStatus.NO_SHOW
    wechat, alipay = PaymentChannel.WECHAT, PaymentChannel.ALIPAY
    paid, closed = PaymentStatus.PAID, PaymentStatus.CLOSED
    with served.app.app_context():
        a1 = db.session.get(Doctor, db.session.get(Schedule, hospital.mine).doctor_id)
        b1 = db.session.get(Doctor, db.session.get(Schedule, hospital.theirs).doctor_id)
        a2 = make_doctor(db.session.get(Department, a1.department_id))
        plan = [
            (a1, DAY, 10, 1500, 3, [booked, completed, no_show, OrderStatus.CANCELLED]),
            (a2, DAY, 5, 1000, 1, [completed]),
            (b1, DAY, 8, 2000, 2, [booked, booked]),
            (a1, DAY + timedelta(days=1), 10, 1500, 1, [booked]),
        ]
        patients = iter(make_patients(9))
        burster = None  # the account of the evening's three orders
        made = []
        for doctor, day, capacity, fee, taken, statuses in plan:
            schedule = make_schedule(doctor, on=day, capacity=capacity, fee_fen=fee, booked=taken)
            slots = db.session.scalars(
                sa.select(Slot).where(Slot.schedule_id == schedule.id).order_by(Slot.seq)
            ).all()
            for slot, status in zip(slots, statuses, strict=False):
                patient = next(patients)
                if day != DAY:
                    created, account, ip = _at(day - timedelta(days=2), 9, 0), None, None
                elif doctor is a1:
                    created, account, ip = _at(MADE, 7, len(made)), None, BURST_IP
                else:
                    burster = burster or patient[0]
                    evening = sum(1 for order in made if order.account_id == burster)
                    created, account, ip = _at(MADE, 20, 3 * evening), burster, None
                order = _order(schedule, slot, patient, status, fee, created, account, ip)
                db.session.add(order)
                db.session.flush()
                made.append(order)
            if doctor is a1 and day == DAY:
                order = _order(
                    schedule,
                    slots[-1],
                    next(patients),
                    OrderStatus.EXPIRED,
                    fee,
                    _at(MADE, 7, 4),
                    ip=BURST_IP,
                )
                db.session.add(order)
                db.session.flush()
                made.append(order)
        a1_booked, a1_done, a1_no_show, a1_cancelled, a1_expired, a2_done, b1_one, b1_two, tue = (
            made
        )
        payments = [
            _payment(a1_booked, wechat, paid),
            _payment(a1_done, alipay, paid),
            _payment(a1_no_show, wechat, paid),
            _payment(a1_cancelled, wechat, paid),
            _payment(a1_expired, wechat, closed, prepay=False),
            _payment(a2_done, wechat, paid),
            _payment(b1_one, alipay, paid),
            _payment(b1_two, wechat, paid),
            _payment(tue, wechat, paid),
        ]
        db.session.add_all(payments)
        db.session.flush()
        db.session.add(_refund(payments[3], 1500, RefundStatus.SUCCESS))
        db.session.add(_refund(payments[7], 2000, RefundStatus.FAILED))
        db.session.commit()
        names = SimpleNamespace(
            place=hospital,
            a1=a1.name,
            a2=a2.name,
            b1=b1.name,
            a1_id=a1.id,
            b1_id=b1.id,
            burster=burster,
            department=db.session.get(Department, a1.department_id).name,
            other=db.session.get(Department, b1.department_id).name,
            hospital=db.session.get(Department, a1.department_id).hospital.name,
            department_id=a1.department_id,
            other_id=b1.department_id,
        )
        stats.rollup_day(DAY)
        stats.rollup_day(DAY + timedelta(days=1))
        stats.rollup_anomalies(MADE, RULES)
        return names


_FIGURES = ("bookings", "revenue_fen", "capacity", "taken", "cancellations", "no_shows")
_MONEY = (
    "payments_wechat",
    "paid_wechat_fen",
    "payments_alipay",
    "paid_alipay_fen",
    "refunds",
    "refund_fen",
)


def _rows(served, figures, day=DAY, columns=_FIGURES):
    """stats_daily's ``columns`` of ``day`` per doctor of the fixture's two departments."""
    with served.app.app_context():
        found = db.session.scalars(
            sa.select(StatsDaily).where(
                StatsDaily.day == day,
                StatsDaily.department_id.in_((figures.department_id, figures.other_id)),
            )
        ).all()
        return sorted(
            (db.session.get(Doctor, row.doctor_id).name, *(getattr(row, c) for c in columns))
            for row in found
        )


def _money_rows(served, figures, day=DAY):
    """stats_daily's channel and refund columns of ``day`` per doctor."""
    return _rows(served, figures, day, _MONEY)


_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def _cells(answer, table=None):
    """A table's body rows as lists of cell texts: the first table's, or the one of id ``table``."""
    text = answer.text
    if table is not None:
        text = text.split(f'<table id="{table}">')[1]
    body = text.split("<tbody>")[1].split("</tbody>")[0]
    return [
        [cell.strip() for cell in _CELL.findall(row)]
        for row in _ROW.findall(body)
        if 'class="empty"' not in row
    ]


def _value(cell):
    """A cell as a number when it is one (12.5 from Excel is "12.50" in the CSV)."""
    try:
        return Decimal(str(cell))
    except InvalidOperation:
        return "" if cell is None else str(cell)


def _page(browser, url="/admin/stats", table=None, **query):
    answer = browser.get(url, query_string=query)
    assert answer.status_code == 200, answer.text
    return _cells(answer, table)


def _csv_rows(answer):
    assert answer.status_code == 200 and answer.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))


def _sheet(answer):
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _same(sheet_rows, csv_rows):
    assert sheet_rows[0] == csv_rows[0]
    assert [[_value(v) for v in row] for row in sheet_rows[1:]] == [
        [_value(v) for v in row] for row in csv_rows[1:]
    ]


class TestRollup:
    def test_a_day_with_known_orders_gives_the_right_numbers(self, served, figures):
        assert _rows(served, figures) == sorted(
            [
                (figures.a1, 3, 4500, 10, 3, 1, 1),
                (figures.a2, 1, 1000, 5, 1, 0, 0),
                (figures.b1, 2, 4000, 8, 2, 0, 0),
            ]
        )

    def test_payments_by_channel_and_refunds_are_rolled_up_by_visit_day(self, served, figures):
        assert _money_rows(served, figures) == sorted(
            [
                (figures.a1, 3, 4500, 1, 1500, 1, 1500),
                (figures.a2, 1, 1000, 0, 0, 0, 0),
                (figures.b1, 1, 2000, 1, 2000, 0, 0),  # a failed refund gives nothing back
            ]
        )

    def test_orders_are_counted_by_the_hour_they_were_made(self, served, figures):
        with served.app.app_context():
            found = db.session.execute(
                sa.select(StatsHour.doctor_id, StatsHour.hour, StatsHour.orders, StatsHour.bookings)
                .where(
                    StatsHour.day == DAY,
                    StatsHour.department_id.in_((figures.department_id, figures.other_id)),
                )
                .order_by(StatsHour.hour, StatsHour.doctor_id)
            ).all()
        a1, b1 = figures.a1_id, figures.b1_id
        assert [(row.hour, row.orders, row.bookings) for row in found if row.doctor_id == a1] == [
            (7, 5, 3)
        ]
        assert [(row.hour, row.orders) for row in found if row.doctor_id == b1] == [(20, 2)]
        assert sum(row.orders for row in found) == 8

    def test_payments_started_on_a_day_and_their_failures(self, served, figures):
        with served.app.app_context():
            found = db.session.execute(
                sa.select(
                    StatsPayment.department_id,
                    StatsPayment.channel,
                    StatsPayment.started,
                    StatsPayment.paid,
                    StatsPayment.closed,
                    StatsPayment.no_prepay,
                    StatsPayment.refunds_failed,
                ).where(
                    StatsPayment.day == MADE,
                    StatsPayment.department_id.in_((figures.department_id, figures.other_id)),
                )
            ).all()
        mine, other = figures.department_id, figures.other_id
        assert sorted(tuple(row) for row in found) == sorted(
            [
                (mine, "wechat", 5, 4, 1, 1, 0),
                (mine, "alipay", 1, 1, 0, 0, 0),
                (other, "wechat", 1, 1, 0, 0, 1),
                (other, "alipay", 1, 1, 0, 0, 0),
            ]
        )

    def test_bursts_from_one_address_and_from_one_account(self, served, figures):
        with served.app.app_context():
            found = db.session.execute(
                sa.select(
                    StatsBurst.kind,
                    StatsBurst.subject,
                    StatsBurst.department_id,
                    StatsBurst.holds,
                    StatsBurst.department_holds,
                    StatsBurst.first_at,
                    StatsBurst.last_at,
                ).where(StatsBurst.day == MADE, StatsBurst.hospital_id == figures.place.id)
            ).all()
        burster = str(figures.burster)
        mine, other = figures.department_id, figures.other_id
        assert sorted(tuple(row[:5]) for row in found) == sorted(
            [
                ("ip", BURST_IP, mine, 5, 5),
                ("account", burster, mine, 3, 1),
                ("account", burster, other, 3, 2),
            ]
        )
        ip = next(row for row in found if row.kind == "ip")
        assert (ip.first_at, ip.last_at) == (_at(MADE, 7, 0), _at(MADE, 7, 4))

    def test_running_them_twice_gives_the_same_rows(self, served, figures):
        first = _rows(served, figures), _money_rows(served, figures)
        with served.app.app_context():
            bursts = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(StatsBurst)
                .where(StatsBurst.day == MADE, StatsBurst.hospital_id == figures.place.id)
            )
            stats.rollup_day(DAY)
            stats.rollup_day(DAY)
            stats.rollup_anomalies(MADE, RULES)
            again = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(StatsBurst)
                .where(StatsBurst.day == MADE, StatsBurst.hospital_id == figures.place.id)
            )
        assert (_rows(served, figures), _money_rows(served, figures)) == first
        assert again == bursts == 3

    def test_the_configured_thresholds_find_no_burst_in_five_orders_of_one_address(
        self, served, figures
    ):
        with served.app.app_context():
            assert served.app.config["STATS_BURST_IP_HOLDS"] == 10
            stats.rollup_anomalies(MADE)
            kinds = db.session.scalars(
                sa.select(StatsBurst.kind).where(
                    StatsBurst.day == MADE, StatsBurst.hospital_id == figures.place.id
                )
            ).all()
        assert sorted(kinds) == ["account", "account"]

    def test_the_job_recomputes_today_and_the_two_days_before(self, served, figures):
        (job,) = [job for job in cron.PERIODIC if job.name == "rollup-stats"]
        assert (job.func, job.interval) == (stats_jobs.rollup_recent, 15 * cron.MINUTE)
        with served.app.app_context():
            assert stats_jobs.rollup_recent() >= 2  # the hospital fixture's two clinics of today
        today = _rows(served, figures, TODAY)
        assert sorted(row[1:] for row in today) == [(0, 0, 10, 0, 0, 0), (2, 0, 10, 2, 0, 0)]

    def test_the_job_recomputes_the_visit_days_still_being_booked(self, served, figures):
        """Patients book days ahead: the days up to the longest booking window are kept current."""
        ahead = TODAY + timedelta(days=7)  # the factories' hospitals book 7 days ahead
        with served.app.app_context():
            doctor = db.session.get(Doctor, figures.a1_id)
            make_schedule(doctor, on=ahead, capacity=6, booked=0)
            db.session.commit()
            stats_jobs.rollup_recent()
        assert [row[1:4] for row in _rows(served, figures, ahead)] == [(0, 0, 6)]


class TestPage:
    def test_by_department_and_by_doctor_for_a_day(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        label = DAY.isoformat()
        by_department = _page(browser, period="day", start=label)
        assert sorted(by_department[:2]) == sorted(
            [
                [
                    label,
                    figures.department,
                    "4",
                    "¥55.00",
                    "26.7%（4/15）",
                    "20.0%（1）",
                    "25.0%（1）",
                    "20.0%（1/5）",
                ],
                [
                    label,
                    figures.other,
                    "2",
                    "¥40.00",
                    "25.0%（2/8）",
                    "0.0%（0）",
                    "0.0%（0）",
                    "0.0%（0/2）",
                ],
            ]
        )
        assert by_department[2:] == [
            [
                label,
                "合计",
                "6",
                "¥95.00",
                "26.1%（6/23）",
                "14.3%（1）",
                "16.7%（1）",
                "14.3%（1/7）",
            ]
        ]
        by_doctor = _page(browser, period="day", start=label, by="doctor")
        assert sorted(row[:5] for row in by_doctor[:-1]) == sorted(
            [
                [label, figures.department, figures.a1, "3", "¥45.00"],
                [label, figures.department, figures.a2, "1", "¥10.00"],
                [label, figures.other, figures.b1, "2", "¥40.00"],
            ]
        )
        assert by_doctor[-1][:5] == [label, "合计", "", "6", "¥95.00"]

    def test_a_week_and_a_month_add_up_their_days(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        week = _page(browser, period="week", start=(DAY + timedelta(days=3)).isoformat())
        label = f"{DAY.isoformat()} 至 {(DAY + timedelta(days=6)).isoformat()}"
        mine = next(row for row in week if row[1] == figures.department)
        assert mine[:4] == [label, figures.department, "5", "¥70.00"]
        assert mine[4] == "20.0%（5/25）"
        month = _page(browser, period="month", start=DAY.isoformat(), by="doctor")
        a1 = next(row for row in month if row[2] == figures.a1)
        assert a1[:5] == [DAY.strftime("%Y-%m"), figures.department, figures.a1, "4", "¥60.00"]

    def test_several_periods_are_rows_each_with_its_totals_and_the_span_totalled(
        self, served, figures
    ):
        browser = signed_in(served, figures.place, "hospital")
        monday, tuesday = DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()
        query = {
            "period": "day",
            "start": tuesday,
            "periods": 2,
            "department": figures.department_id,
        }
        rows = _page(browser, **query)
        assert [row[:4] for row in rows] == [
            [monday, figures.department, "4", "¥55.00"],
            [monday, "合计", "4", "¥55.00"],
            [tuesday, figures.department, "1", "¥15.00"],
            [tuesday, "合计", "1", "¥15.00"],
            [f"{monday} 至 {tuesday}", "合计", "5", "¥70.00"],
        ]
        totals = _page(browser, period="day", start=tuesday, periods=2, by="total")
        assert [row[:4] for row in totals] == [
            [monday, "合计", "6", "¥95.00"],
            [tuesday, "合计", "1", "¥15.00"],
            [f"{monday} 至 {tuesday}", "合计", "7", "¥110.00"],
        ]
        assert totals[-1][7] == "12.5%（1/8）"  # refunds of the paid payments

    def test_the_channel_share_and_the_booking_hours(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        query = {"period": "day", "start": DAY.isoformat()}
        assert _page(browser, table="channels", **query) == [
            ["微信支付", "5", "71.4%", "¥75.00", "68.2%"],
            ["支付宝", "2", "28.6%", "¥35.00", "31.8%"],
        ]
        hours = _page(browser, table="hours", **query)
        assert len(hours) == 24
        assert hours[7] == ["07:00–07:59", "5", "3", "62.5%"]
        assert hours[20] == ["20:00–20:59", "3", "3", "37.5%"]
        assert sum(int(row[1]) for row in hours) == 8
        page = browser.get("/admin/stats", query_string=query).text
        assert "chart-4.6.1.umd.min.js" in page and "stats.js" in page
        mine = _page(
            browser, table="channels", department=figures.other_id, **query
        )  # B1's department alone
        assert [row[:2] for row in mine] == [["微信支付", "1"], ["支付宝", "1"]]

    def test_every_table_is_exported_as_csv_and_excel_with_the_same_rows(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        query = {"period": "week", "start": DAY.isoformat(), "by": "doctor"}
        page = browser.get("/admin/stats", query_string=query)
        assert "导出 Excel" in page.text and "导出 CSV" in page.text
        answer = browser.get("/admin/stats.csv", query_string=query)
        dates = f"{DAY.isoformat()}_{(DAY + timedelta(days=6)).isoformat()}"
        assert dates in answer.headers["Content-Disposition"]
        rows = _csv_rows(answer)
        assert rows[0][:4] == ["周期", "科室", "医生", "预约数"]
        assert rows[0][-4:] == ["支付笔数", "退款笔数", "退款率%", "退款金额（元）"]
        assert sorted(row[2] for row in rows[1:-1]) == sorted([figures.a1, figures.a2, figures.b1])
        a1 = next(row for row in rows if row[2] == figures.a1)
        assert a1[3:] == [
            *["4", "60.00", "20", "4", "20.0", "1", "20.0", "1", "25.0"],
            *["5", "1", "20.0", "15.00"],
        ]
        assert rows[-1][1:4] == ["合计", "", "7"]
        excel = browser.client.get("/admin/stats.xlsx", query_string=query)
        assert dates in excel.headers["Content-Disposition"]
        _same(_sheet(excel), rows)

        for name, header in (
            ("channels", ["支付渠道", "支付笔数", "笔数占比%", "支付金额（元）", "金额占比%"]),
            ("hours", ["下单时段", "挂号数", "其中已预约", "占比%"]),
        ):
            rows = _csv_rows(browser.get(f"/admin/stats/{name}.csv", query_string=query))
            assert rows[0] == header
            excel = browser.client.get(f"/admin/stats/{name}.xlsx", query_string=query)
            assert f"stats-{name}-{dates}.xlsx" in excel.headers["Content-Disposition"]
            _same(_sheet(excel), rows)
        channels = _sheet(browser.client.get("/admin/stats/channels.xlsx", query_string=query))
        assert channels[1][:2] == ["微信支付", 6] and channels[2][:2] == ["支付宝", 2]
        assert Decimal(str(channels[1][3])) == Decimal("90.00")
        hours = _sheet(browser.client.get("/admin/stats/hours.xlsx", query_string=query))
        assert [_value(v) for v in hours[8]] == ["07:00–07:59", 5, 3, Decimal("55.6")]


class TestAnomalies:
    URL = "/admin/stats/anomalies"

    def test_bursts_and_payment_failures_of_a_day(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        query = {"period": "day", "start": MADE.isoformat()}
        bursts = _page(browser, self.URL, table="bursts", **query)
        assert [row[1:5] + row[7:] for row in bursts] == [
            [
                "账号",
                str(figures.burster),
                figures.hospital,
                f"{figures.department}（1）、{figures.other}（2）",
                "6.0",
                "3",
            ],
            ["IP 地址", BURST_IP, figures.hospital, f"{figures.department}（5）", "4.0", "5"],
        ]
        payments = _page(browser, self.URL, table="payments", **query)
        assert payments == [
            [MADE.isoformat(), "微信支付", "6", "5", "83.3%", "1", "1", "16.7%", "1"],
            [MADE.isoformat(), "支付宝", "2", "2", "100.0%", "0", "0", "0.0%", "0"],
        ]

    def test_a_department_admin_sees_the_bursts_that_reached_their_department(
        self, served, figures
    ):
        browser = signed_in(served, figures.place, "department")
        query = {"period": "week", "start": MADE.isoformat()}
        bursts = _page(browser, self.URL, table="bursts", **query)
        account = next(row for row in bursts if row[1] == "账号")
        assert account[4] == f"{figures.department}（1）" and account[-1] == "3"
        payments = _page(browser, self.URL, table="payments", **query)
        assert [row[1:4] for row in payments] == [["微信支付", "5", "4"], ["支付宝", "1", "1"]]

    def test_the_bursts_and_payments_exported_as_csv_and_excel(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        query = {"period": "day", "start": MADE.isoformat(), "periods": 2}
        rows = _csv_rows(browser.get("/admin/stats/bursts.csv", query_string=query))
        assert rows[0] == [
            "日期",
            "来源类型",
            "来源",
            "医院",
            "科室（挂号数）",
            "开始时间",
            "结束时间",
            "历时（分钟）",
            "挂号数",
        ]
        excel = _sheet(browser.client.get("/admin/stats/bursts.xlsx", query_string=query))
        _same(excel, rows)
        ip = next(row for row in excel if row[1] == "IP 地址")
        assert ip[:3] == [MADE.isoformat(), "IP 地址", BURST_IP]
        assert [_value(v) for v in ip[5:]] == ["07:00:00", "07:04:00", Decimal("4.0"), 5]
        rows = _csv_rows(browser.get("/admin/stats/payments.csv", query_string=query))
        excel = _sheet(browser.client.get("/admin/stats/payments.xlsx", query_string=query))
        _same(excel, rows)
        assert excel[0][:3] == ["周期", "支付渠道", "发起支付"]
        wechat = next(row for row in excel[1:] if row[1] == "微信支付")
        assert wechat[2:4] == [6, 5] and wechat[-1] == 1


class TestScopeOfRollups:
    """The rollups are scoped by the rule orders are (app/services/scoping.py)."""

    def test_each_scope_sees_its_own_places_rows(self, served, figures):
        with served.app.app_context():
            a1 = db.session.get(Doctor, figures.a1_id)
            scopes = {
                "hospital": Scope(hospital_id=figures.place.id),
                "department": Scope(figures.place.id, figures.department_id),
                "other department": Scope(figures.place.id, figures.other_id),
                "doctor": Scope(figures.place.id, a1.department_id, a1.id),
            }

            def seen(model, day, scope):
                statement = sa.select(sa.func.count()).select_from(model).where(model.day == day)
                return db.session.scalar(statement.where(*scoping.conditions(model, scope)))

            daily = {name: seen(StatsDaily, DAY, scope) for name, scope in scopes.items()}
            bursts = {name: seen(StatsBurst, MADE, scope) for name, scope in scopes.items()}
        # DAY's rows: A1 and A2 of the department, B1 of the other.
        assert daily == {"hospital": 3, "department": 2, "other department": 1, "doctor": 1}
        # MADE's bursts (the IP's in the department, the evening account's across both) are not
        # a doctor's: a doctor's scope sees none of them.
        assert bursts["hospital"] >= bursts["department"] >= 1 and bursts["doctor"] == 0


class TestDashboard:
    def test_the_trend_reads_the_rollup(self, served, figures):
        scope = Scope(hospital_id=figures.place.id)
        now = _at(DAY + timedelta(days=5), 12, 0)
        with served.app.app_context():
            recent = dashboard.trend(scope, now=now)
            assert recent.days[-6] == (DAY, 6, 9500)
            assert recent.days[-5] == (DAY + timedelta(days=1), 1, 1500)
            assert recent.departments == [(figures.department, 5), (figures.other, 2)]
            db.session.execute(sa.delete(StatsDaily).where(StatsDaily.day == DAY))
            db.session.commit()
            assert dashboard.trend(scope, now=now).days[-6] == (DAY, 0, 0)

    def test_today_counts_todays_visits_bookings_and_money(self, served, figures):
        scope = Scope(hospital_id=figures.place.id)
        with served.app.app_context():
            today = dashboard.today(scope)
            by_the_tuesday = dashboard.today(scope, now=_at(DAY + timedelta(days=1), 12, 0))
            made_day = dashboard.today(scope, now=_at(MADE, 23, 0))
        # The hospital fixture: two free-clinic numbers of today, booked when made.
        assert (today.visits, today.bookings, today.capacity, today.taken) == (2, 2, 20, 2)
        assert (by_the_tuesday.visits, by_the_tuesday.cancellations) == (1, 0)
        # MADE: seven payments paid (¥110), less the ¥15 refunded that day.
        assert made_day.revenue_fen == 1500 * 4 + 1000 + 2000 * 2 - 1500
        assert made_day.bookings == 6


class TestClientAddress:
    def test_a_hold_records_the_address_the_app_trusts(self, served, hospital):  # noqa: F811
        """Through the pre-Flask path and through Flask; behind one trusted proxy, the address
        it forwarded (ProxyFix, TRUSTED_PROXIES=1)."""
        settings = config.TestingConfig()
        settings.SQLALCHEMY_DATABASE_URI = served.app.config["SQLALCHEMY_DATABASE_URI"]
        settings.REDIS_URL = served.app.config["REDIS_URL"]
        settings.TRUSTED_PROXIES = 1
        proxied = create_app(settings)
        with served.app.app_context():
            people = [
                (patient_id, auth.issue_token(db.session.get(Account, account_id))[0])
                for account_id, patient_id in make_patients(3)
            ]
        plain = json.dumps({"schedule_id": hospital.mine, "patient_id": 0})
        cases = [
            # A body of the usual shape: app/api/hot.py holds it.
            (served.app, "198.51.100.7", {}, "198.51.100.7", False),
            # A body over the pre-Flask path's 1 KiB: Flask's endpoint holds it.
            (served.app, "198.51.100.8", {}, "198.51.100.8", True),
            (proxied, "10.0.0.1", {"X-Forwarded-For": "198.51.100.9"}, "198.51.100.9", False),
        ]
        for (app, peer, headers, expected, padded), (patient_id, token) in zip(
            cases, people, strict=True
        ):
            body = plain.replace('"patient_id": 0', f'"patient_id": {patient_id}')
            answer = app.test_client().post(
                "/api/v1/orders",
                data=body + " " * 1100 if padded else body,
                content_type="application/json",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": uuid.uuid4().hex,
                    **headers,
                },
                environ_base={"REMOTE_ADDR": peer},
            )
            assert answer.status_code == 201, answer.text
            with served.app.app_context():
                order = db.session.get(Order, answer.json["id"])
                assert order.client_ip == expected


class TestScope:
    def test_a_department_admin_sees_only_their_department(self, served, figures):
        browser = signed_in(served, figures.place, "department")
        query = {"period": "day", "start": DAY.isoformat(), "by": "doctor"}
        page = _page(browser, **query)
        assert sorted(row[2] for row in page[:-1]) == sorted([figures.a1, figures.a2])
        exported = browser.get("/admin/stats.csv", query_string=query).data.decode("utf-8-sig")
        assert figures.b1 not in exported and figures.other not in exported
        excel = browser.client.get("/admin/stats.xlsx", query_string=query)
        sheet = load_workbook(io.BytesIO(excel.data), read_only=True).active
        names = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert sorted(names[:-1]) == sorted([figures.a1, figures.a2])
        channels = _page(browser, table="channels", **query)
        assert [row[1] for row in channels] == ["4", "1"]

    URLS = (
        "/admin/stats",
        "/admin/stats.csv",
        "/admin/stats.xlsx",
        "/admin/stats/anomalies",
        "/admin/stats/channels.xlsx",
        "/admin/stats/hours.csv",
        "/admin/stats/bursts.xlsx",
        "/admin/stats/payments.csv",
    )

    def test_another_departments_or_doctors_id_is_not_found(self, served, figures):
        browser = signed_in(served, figures.place, "department")
        for url in self.URLS:
            for query in ({"department": figures.other_id}, {"doctor": figures.b1_id}):
                answer = browser.client.get(url, query_string=query)
                assert answer.status_code == 404, (url, query)
            mine = browser.client.get(url, query_string={"doctor": figures.a1_id})
            assert mine.status_code == 200

    def test_bad_queries_are_refused_with_the_reason(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        bad = (
            ({"period": "year"}, "周期只能是"),
            ({"by": "ward"}, "分组只能是"),
            ({"start": "2026-13-01"}, "日期格式"),
            ({"periods": "0"}, "周期数须为 1–36"),
            ({"periods": "99"}, "周期数须为 1–36"),
            ({"periods": "abc"}, "周期数须为 1–36"),
            ({"department": "x1"}, "科室编号有误"),
            ({"doctor": "-3"}, "医生编号有误"),
        )
        for url in self.URLS:
            for query, reason in bad:
                answer = browser.get(url, query_string=query)
                assert answer.status_code == 400, (url, query)
                assert reason in answer.text
        assert browser.get("/admin/stats/orders.csv").status_code == 404

    def test_doctors_are_refused(self, served, hospital):  # noqa: F811 (test_admin's fixture)
        browser = signed_in(served, hospital, "doctor")
        for url in self.URLS:
            assert browser.client.get(url).status_code == 403
