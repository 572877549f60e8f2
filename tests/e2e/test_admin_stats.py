"""The statistics page over HTTP (Flask's test client, the whole WSGI stack): the daily rollup of
a day with known orders, run twice to the same rows, the page by day, week and month per
department and per doctor, its CSV and Excel exports with the same rows, scoping, doctors 403."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.domain import clock
from app.domain.orders import OrderStatus
from app.extensions import db, redis_store
from app.models import Department, Doctor, Order, Schedule, Slot, StatsDaily
from app.services import stats
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


def _order(schedule, slot, patient, status, fee):
    account_id, patient_id = patient
    return Order(
        account_id=account_id,
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
    )


@pytest.fixture
def figures(served, hospital):  # noqa: F811 (test_admin's fixture)
    """On DAY (a Monday): doctor A1 (10 numbers at ¥15, 3 taken) has one booked, one completed,
    one no-show, one cancelled and one expired order; doctor A2 of the same department (5 at
    ¥10, 1 taken) one completed; doctor B1 of the other department (8 at ¥20, 2 taken) two
    booked. On the Tuesday, A1 has one more booked (10 at ¥15, 1 taken)."""
    booked, completed, no_show = OrderStatus.BOOKED, OrderStatus.COMPLETED, OrderStatus.NO_SHOW
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
        for doctor, day, capacity, fee, taken, statuses in plan:
            schedule = make_schedule(doctor, on=day, capacity=capacity, fee_fen=fee, booked=taken)
            slots = db.session.scalars(
                sa.select(Slot).where(Slot.schedule_id == schedule.id).order_by(Slot.seq)
            ).all()
            for slot, status in zip(slots, statuses, strict=False):
                db.session.add(_order(schedule, slot, next(patients), status, fee))
            if doctor is a1 and day == DAY:
                db.session.add(
                    _order(schedule, slots[-1], next(patients), OrderStatus.EXPIRED, fee)
                )
        db.session.commit()
        names = SimpleNamespace(
            place=hospital,
            a1=a1.name,
            a2=a2.name,
            b1=b1.name,
            department=db.session.get(Department, a1.department_id).name,
            other=db.session.get(Department, b1.department_id).name,
            department_id=a1.department_id,
            other_id=b1.department_id,
        )
        stats.rollup_day(DAY)
        stats.rollup_day(DAY + timedelta(days=1))
        return names


def _rows(served, figures, day=DAY):
    with served.app.app_context():
        found = db.session.scalars(
            sa.select(StatsDaily).where(
                StatsDaily.day == day,
                StatsDaily.department_id.in_((figures.department_id, figures.other_id)),
            )
        ).all()
        return sorted(
            (
                db.session.get(Doctor, row.doctor_id).name,
                row.bookings,
                row.revenue_fen,
                row.capacity,
                row.taken,
                row.cancellations,
                row.no_shows,
            )
            for row in found
        )


def _cells(answer):
    """The page's table rows as lists of cell texts."""
    body = answer.text.split("<tbody>")[1].split("</tbody>")[0]
    rows = []
    for row in body.split("<tr>")[1:]:
        cells = [cell.split("</td>")[0].strip() for cell in row.split("<td>")[1:]]
        rows.append(cells)
    return rows


def _value(cell):
    """A cell as a number when it is one (12.5 from Excel is "12.50" in the CSV)."""
    try:
        return Decimal(str(cell))
    except InvalidOperation:
        return str(cell)


def _page(browser, **query):
    answer = browser.get("/admin/stats", query_string=query)
    assert answer.status_code == 200, answer.text
    return _cells(answer)


class TestRollup:
    def test_a_day_with_known_orders_gives_the_right_numbers(self, served, figures):
        assert _rows(served, figures) == sorted(
            [
                (figures.a1, 3, 4500, 10, 3, 1, 1),
                (figures.a2, 1, 1000, 5, 1, 0, 0),
                (figures.b1, 2, 4000, 8, 2, 0, 0),
            ]
        )

    def test_running_it_twice_gives_the_same_rows(self, served, figures):
        first = _rows(served, figures)
        with served.app.app_context():
            stats.rollup_day(DAY)
            stats.rollup_day(DAY)
        assert _rows(served, figures) == first

    def test_the_job_recomputes_today_and_the_two_days_before(self, served, figures):
        (job,) = [job for job in cron.PERIODIC if job.name == "rollup-stats"]
        assert (job.func, job.interval) == (stats_jobs.rollup_recent, 15 * cron.MINUTE)
        with served.app.app_context():
            assert stats_jobs.rollup_recent() >= 2  # the hospital fixture's two clinics of today
        today = _rows(served, figures, TODAY)
        assert sorted(row[1:] for row in today) == [(0, 0, 10, 0, 0, 0), (2, 0, 10, 2, 0, 0)]


class TestPage:
    def test_by_department_and_by_doctor_for_a_day(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        label = DAY.isoformat()
        by_department = _page(browser, period="day", start=label)
        assert sorted(by_department) == sorted(
            [
                [
                    label,
                    figures.department,
                    "4",
                    "¥55.00",
                    "26.7%（4/15）",
                    "20.0%（1）",
                    "25.0%（1）",
                ],
                [label, figures.other, "2", "¥40.00", "25.0%（2/8）", "0.0%（0）", "0.0%（0）"],
            ]
        )
        by_doctor = _page(browser, period="day", start=label, by="doctor")
        assert [row[:5] for row in sorted(by_doctor, key=lambda row: row[2])] == sorted(
            [
                [label, figures.department, figures.a1, "3", "¥45.00"],
                [label, figures.department, figures.a2, "1", "¥10.00"],
                [label, figures.other, figures.b1, "2", "¥40.00"],
            ],
            key=lambda row: row[2],
        )

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

    def test_the_csv_and_the_excel_file_hold_the_same_rows(self, served, figures):
        browser = signed_in(served, figures.place, "hospital")
        query = {"period": "week", "start": DAY.isoformat(), "by": "doctor"}
        page = browser.get("/admin/stats", query_string=query)
        assert "导出 Excel" in page.text and "导出 CSV" in page.text
        answer = browser.get("/admin/stats.csv", query_string=query)
        assert answer.status_code == 200
        assert answer.data.startswith(b"\xef\xbb\xbf")
        dates = f"{DAY.isoformat()}_{(DAY + timedelta(days=6)).isoformat()}"
        assert dates in answer.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
        assert rows[0][:4] == ["周期", "科室", "医生", "预约数"]
        assert sorted(row[2] for row in rows[1:]) == sorted([figures.a1, figures.a2, figures.b1])
        a1 = next(row for row in rows if row[2] == figures.a1)
        assert a1[3:] == ["4", "60.00", "20", "4", "20.0", "1", "20.0", "1", "25.0"]

        excel = browser.client.get("/admin/stats.xlsx", query_string=query)
        assert excel.status_code == 200 and dates in excel.headers["Content-Disposition"]
        sheet = load_workbook(io.BytesIO(excel.data), read_only=True).active
        cells = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert cells[0] == rows[0]
        assert [[_value(v) for v in row] for row in cells[1:]] == [
            [_value(v) for v in row] for row in rows[1:]
        ]


class TestScope:
    def test_a_department_admin_sees_only_their_department(self, served, figures):
        browser = signed_in(served, figures.place, "department")
        query = {"period": "day", "start": DAY.isoformat(), "by": "doctor"}
        page = _page(browser, **query)
        assert sorted(row[2] for row in page) == sorted([figures.a1, figures.a2])
        exported = browser.get("/admin/stats.csv", query_string=query).data.decode("utf-8-sig")
        assert figures.b1 not in exported and figures.other not in exported
        excel = browser.client.get("/admin/stats.xlsx", query_string=query)
        sheet = load_workbook(io.BytesIO(excel.data), read_only=True).active
        names = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert sorted(names) == sorted([figures.a1, figures.a2])

    def test_doctors_are_refused(self, served, hospital):  # noqa: F811 (test_admin's fixture)
        browser = signed_in(served, hospital, "doctor")
        for url in ("/admin/stats", "/admin/stats.csv", "/admin/stats.xlsx"):
            assert browser.get(url).status_code == 403
