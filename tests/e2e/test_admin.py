"""The staff admin over HTTP (the app's whole WSGI stack, through Flask's test client): signing
in, lock-out, CSRF, sessions that end, scoping by role, the queue console, stopping a clinic, the
waiting-room display and its link for a screen without a session."""

import itertools
import re
from datetime import datetime, time, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from rq import SimpleWorker
from rq.registry import FailedJobRegistry

from app.admin.blueprint import IDLE_KEY
from app.domain import clock
from app.domain.messages import MessageKind, MessageStatus
from app.domain.orders import OrderStatus
from app.domain.payments import (
    PaymentChannel,
    RefundReason,
    RefundStatus,
)
from app.domain.reconciliation import FindingKind, ReconciliationStatus
from app.domain.staff import Scope
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db, redis_store
from app.infra import queue
from app.models import (
    Account,
    AuditEntry,
    Message,
    Order,
    Reconciliation,
    ReconciliationItem,
    Refund,
    Schedule,
)
from app.services import auth, display_links, schedules, stop_clinic, visits
from app.services import staff as staff_service
from app.services.booking import holds, tickets
from tests import support
from tests.factories import make_department, make_doctor, make_hospital, make_schedule
from tests.integration.committed import make_paid_order, make_patients

PASSWORD = "correct-horse-9"
TODAY = clock.business_date(clock.now())
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HX_CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


@pytest.fixture(scope="module")
def served():
    """The app on a database of its own (its hospitals stay out of the seeded catalogue the
    other e2e tests count), called through its whole WSGI stack with Flask's test client."""
    app = support.testing_app("_admin", redis_offset=3)
    with app.app_context():
        redis_store.client.flushdb()
    return SimpleNamespace(app=app)


@pytest.fixture
def hospital(served):
    """Two departments of one hospital, each with a doctor and an all-day clinic of today with
    two patients booked (free clinics book at once); a staff member of each role."""
    with served.app.app_context():
        hospital = make_hospital()
        places = []
        for _ in range(2):
            doctor = make_doctor(make_department(hospital))
            schedule = make_schedule(
                doctor, on=TODAY, start_time=time(0, 1), end_time=time(23, 59), fee_fen=0
            )
            places.append((doctor, schedule))
        db.session.commit()
        orders = []
        for n, (account_id, patient_id) in enumerate(make_patients(2)):
            order, _ = holds.hold_slot(
                account_id, places[0][1].id, patient_id, f"admin-{places[0][1].id}-{n}"
            )
            orders.append(SimpleNamespace(id=order.id, account_id=account_id, seq=order.seq))
        suffix = places[0][1].id
        people = {
            "platform": staff_service.create_staff(
                f"platform-{suffix}", PASSWORD, "platform_admin"
            ),
            "hospital": staff_service.create_staff(
                f"hospital-{suffix}", PASSWORD, "hospital_admin", hospital_id=hospital.id
            ),
            "department": staff_service.create_staff(
                f"department-{suffix}",
                PASSWORD,
                "department_admin",
                department_id=places[0][0].department_id,
            ),
            "doctor": staff_service.create_staff(
                f"doctor-{suffix}", PASSWORD, "doctor", doctor_id=places[0][0].id
            ),
            "other_doctor": staff_service.create_staff(
                f"other-{suffix}", PASSWORD, "doctor", doctor_id=places[1][0].id
            ),
        }
        return SimpleNamespace(
            id=hospital.id,
            mine=places[0][1].id,
            theirs=places[1][1].id,
            orders=orders,
            staff={role: s.username for role, s in people.items()},
        )


class Browser:
    """A staff member's browser: cookies, and the CSRF token of the last page."""

    def __init__(self, app):
        self.client = app.test_client()
        self.token = None

    def get(self, url, **kwargs):
        answer = self.client.get(url, **kwargs)
        found = _HX_CSRF.search(answer.text) or _CSRF.search(answer.text)
        self.token = found.group(1) if found else self.token
        return answer

    def login(self, username, password=PASSWORD):
        self.get("/admin/login")
        return self.client.post(
            "/admin/login",
            data={"username": username, "password": password, "csrf_token": self.token},
        )

    def post(self, url, data=None, htmx=True, token=True):
        headers = {"HX-Request": "true"} if htmx else {}
        if token:
            headers["X-CSRFToken"] = self.token
        return self.client.post(url, data=data or {}, headers=headers)


@pytest.fixture
def browser(served):
    return Browser(served.app)


def signed_in(served, hospital, role):
    browser = Browser(served.app)
    assert browser.login(hospital.staff[role]).status_code == 302
    browser.get("/admin/")
    return browser


class TestSigningIn:
    def test_a_page_needs_a_session_and_the_right_password_opens_the_dashboard(
        self, browser, hospital
    ):
        first = browser.get("/admin/")
        assert first.status_code == 302 and "/admin/login" in first.headers["Location"]
        assert browser.login(hospital.staff["hospital"], "wrong-password-1").status_code == 401
        assert browser.login(hospital.staff["hospital"]).status_code == 302
        dashboard = browser.get("/admin/")
        assert dashboard.status_code == 200 and "今日概况" in dashboard.text
        cookie = dashboard.headers.get("Set-Cookie") or ""
        assert "no-store" in dashboard.headers["Cache-Control"]
        assert "frame-ancestors 'none'" in dashboard.headers["Content-Security-Policy"]
        assert cookie == "" or "HttpOnly" in cookie

    def test_five_failures_lock_the_account_even_against_the_right_password(
        self, browser, hospital
    ):
        name = hospital.staff["doctor"]
        for _ in range(4):
            assert browser.login(name, "wrong-password-1").status_code == 401
        assert browser.login(name, "wrong-password-1").status_code == 423
        locked = browser.login(name)
        assert locked.status_code == 423 and "锁定" in locked.text

    def test_a_form_without_or_with_a_stale_csrf_token_is_refused(self, served, hospital):
        browser = signed_in(served, hospital, "platform")
        url = f"/admin/queue/{hospital.mine}/call-next"
        assert browser.post(url, token=False).status_code == 400
        stale = Browser(served.app)
        stale.get("/admin/login")  # a token of another session
        browser.token = stale.token
        assert browser.post(url).status_code == 400

    def test_a_cookie_from_before_logout_no_longer_opens_anything(self, served, hospital):
        browser = signed_in(served, hospital, "hospital")
        copy = Browser(served.app)
        for cookie in browser.client._cookies.values():
            copy.client.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
        assert copy.get("/admin/").status_code == 200
        assert browser.post("/admin/logout", htmx=False).status_code == 302
        assert copy.get("/admin/").status_code == 302  # redirected to the login page

    def test_an_idle_session_ends(self, served, hospital):
        browser = signed_in(served, hospital, "hospital")
        with browser.client.session_transaction() as session:
            session[IDLE_KEY] = clock.now().timestamp() - 31 * 60
        answer = browser.get("/admin/")
        assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


class TestScope:
    @pytest.mark.parametrize("role", ["department", "doctor"])
    def test_another_departments_or_doctors_schedule_is_not_found(self, served, hospital, role):
        browser = signed_in(served, hospital, role)
        assert browser.get(f"/admin/schedules/{hospital.mine}").status_code == 200
        for url in (
            f"/admin/schedules/{hospital.theirs}",
            f"/admin/queue/{hospital.theirs}",
            f"/admin/display/{hospital.theirs}",
        ):
            assert browser.get(url).status_code == 404, url
        assert browser.post(f"/admin/queue/{hospital.theirs}/call-next").status_code == 404
        stop = browser.post(f"/admin/schedules/{hospital.theirs}/stop", {"reason": "x"})
        assert stop.status_code == 404

    def test_an_order_of_another_schedule_is_not_found_through_this_one(self, served, hospital):
        browser = signed_in(served, hospital, "other_doctor")
        order = hospital.orders[0]
        answer = browser.post(f"/admin/queue/{hospital.theirs}/orders/{order.id}/complete")
        assert answer.status_code == 404

    def test_the_hospital_and_the_platform_see_every_department(self, served, hospital):
        for role in ("hospital", "platform"):
            browser = signed_in(served, hospital, role)
            assert browser.get(f"/admin/queue/{hospital.theirs}").status_code == 200


class TestQueueConsole:
    def test_check_in_by_ticket_call_complete_and_each_step_is_audited(self, served, hospital):
        browser = signed_in(served, hospital, "doctor")
        first, second = hospital.orders
        with served.app.app_context():
            codes = [tickets.ticket(o.account_id, o.id)["qr_payload"] for o in (first, second)]
        url = f"/admin/queue/{hospital.mine}"
        for code, order in zip(codes, (first, second), strict=True):
            checked = browser.post(f"{url}/check-in", {"ticket": code})
            assert checked.status_code == 200 and f"{order.seq} 号已签到" in checked.text
        called = browser.post(f"{url}/call-next")
        assert f"请 {first.seq} 号就诊" in called.text
        done = browser.post(f"{url}/orders/{first.id}/complete")
        assert f"{first.seq} 号就诊完成" in done.text
        skipped = browser.post(f"{url}/call-next")
        assert f"请 {second.seq} 号就诊" in skipped.text
        browser.post(f"{url}/orders/{second.id}/no-show")
        with served.app.app_context():
            statuses = [db.session.get(Order, o.id).status for o in (first, second)]
            actions = db.session.scalars(
                sa.select(AuditEntry.action)
                .where(
                    AuditEntry.target_type == "orders",
                    AuditEntry.target_id.in_([first.id, second.id]),
                )
                .order_by(AuditEntry.id)
            ).all()
        assert statuses == [OrderStatus.COMPLETED, OrderStatus.NO_SHOW]
        assert actions == ["check_in", "check_in", "call_next", "complete", "call_next", "no_show"]

    def test_a_forged_ticket_and_a_wrong_step_are_refused_with_the_reason(self, served, hospital):
        browser = signed_in(served, hospital, "doctor")
        url = f"/admin/queue/{hospital.mine}"
        forged = browser.post(f"{url}/check-in", {"ticket": "T1.abc.def"})
        assert forged.status_code == 422 and "电子凭证无效" in forged.text
        order = hospital.orders[0]
        early = browser.post(f"{url}/orders/{order.id}/complete")
        assert early.status_code == 409 and "只能完成已叫号的患者" in early.text

    def test_the_display_shows_the_called_number_with_the_name_masked(self, served, hospital):
        browser = signed_in(served, hospital, "doctor")
        with served.app.app_context():
            code = tickets.ticket(hospital.orders[0].account_id, hospital.orders[0].id)
        url = f"/admin/queue/{hospital.mine}"
        browser.post(f"{url}/check-in", {"ticket": code["qr_payload"]})
        browser.post(f"{url}/call-next")
        screen = browser.get(f"/admin/display/{hospital.mine}")
        assert f"{hospital.orders[0].seq} 号" in screen.text
        assert "患*" in screen.text and "患者" not in screen.text.replace("患者准备", "").replace(
            "患者就诊", ""
        ).replace("候诊患者", "")


_KEY = re.compile(r"/admin/display/(\d+)\?key=([A-Za-z0-9_.\-]+)")


def _display_key(served, hospital, role="doctor", schedule_id=None):
    """A display link made on the queue console by ``role``: (its schedule id, its key)."""
    browser = signed_in(served, hospital, role)
    schedule_id = schedule_id or hospital.mine
    browser.get(f"/admin/queue/{schedule_id}")
    made = browser.post(f"/admin/queue/{schedule_id}/display-link")
    assert made.status_code == 200, made.text
    found = _KEY.search(made.text)
    return int(found.group(1)), found.group(2)


class TestDisplayLink:
    def test_a_key_opens_the_display_and_its_refresh_without_a_session(self, served, hospital):
        first = hospital.orders[0]
        with served.app.app_context():
            code = tickets.ticket(first.account_id, first.id)["qr_payload"]
            visits.check_in_by_ticket(code, hospital.mine)
            visits.call_next(hospital.mine)
        schedule_id, key = _display_key(served, hospital)
        assert schedule_id == hospital.mine
        wall = served.app.test_client()  # no cookie, no session
        assert wall.get(f"/admin/display/{hospital.mine}").status_code == 302
        screen = wall.get(f"/admin/display/{hospital.mine}", query_string={"key": key})
        assert screen.status_code == 200 and f"<strong>{first.seq} 号</strong> 患*" in screen.text
        assert f'hx-get="/admin/display/{hospital.mine}?key={key}"' in screen.text
        assert "Set-Cookie" not in screen.headers and "csrf" not in screen.text.lower()
        refresh = wall.get(
            f"/admin/display/{hospital.mine}",
            query_string={"key": key},
            headers={"HX-Request": "true"},
        )
        assert refresh.status_code == 200 and f"<strong>{first.seq} 号</strong> 患*" in refresh.text
        assert "<html" not in refresh.text

    def test_a_staff_session_in_the_same_browser_is_neither_kept_alive_nor_needed(
        self, served, hospital
    ):
        _, key = _display_key(served, hospital)
        browser = signed_in(served, hospital, "hospital")
        idle_since = clock.now().timestamp() - 31 * 60
        with browser.client.session_transaction() as session:
            session[IDLE_KEY] = idle_since
        screen = browser.get(f"/admin/display/{hospital.mine}", query_string={"key": key})
        assert screen.status_code == 200 and "诊室" in screen.text
        with browser.client.session_transaction() as session:
            assert session[IDLE_KEY] == idle_since
        ended = browser.get("/admin/")
        assert ended.status_code == 302 and "/admin/login" in ended.headers["Location"]

    def test_making_a_link_is_audited_and_scoped(self, served, hospital):
        _, key = _display_key(served, hospital, role="department")
        with served.app.app_context():
            entry = db.session.scalar(
                sa.select(AuditEntry).where(
                    AuditEntry.action == "create_display_link",
                    AuditEntry.target_type == "schedule",
                    AuditEntry.target_id == hospital.mine,
                )
            )
        end = display_links.valid_until(TODAY).isoformat()
        assert (entry.actor, entry.hospital_id) == (hospital.staff["department"], hospital.id)
        assert entry.after == {"valid_until": end} and key not in str(entry.after)
        other = signed_in(served, hospital, "other_doctor")
        assert other.post(f"/admin/queue/{hospital.mine}/display-link").status_code == 404
        assert (
            other.post(f"/admin/queue/{hospital.mine}/display-link", token=False).status_code == 400
        )

    def test_another_schedules_url_a_tampered_key_or_garbage_answers_404(self, served, hospital):
        _, key = _display_key(served, hospital)
        wall = served.app.test_client()
        payload, signature = key.rsplit(".", 1)
        # The signature's first character carries six bits of it (the last one some padding).
        flipped = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        with served.app.app_context():  # the same payload, naming the other schedule
            forged_payload = display_links._serializer().dumps(
                {"s": hospital.theirs, "d": TODAY.isoformat()}
            )
        forged = forged_payload.rsplit(".", 1)[0] + "." + signature
        for schedule_id, sent in (
            (hospital.theirs, key),
            (hospital.mine, flipped),
            (hospital.theirs, forged),
            (hospital.mine, "garbage"),
            (hospital.mine, ""),
        ):
            answer = wall.get(f"/admin/display/{schedule_id}", query_string={"key": sent})
            assert answer.status_code == 404, (schedule_id, sent)
            assert "未找到" in answer.text and "/admin/login" not in answer.headers.get(
                "Location", ""
            )

    def test_a_key_stops_working_when_its_visit_day_ends(self, served, hospital):
        yesterday = TODAY - timedelta(days=1)
        with served.app.app_context():
            mine = db.session.get(Schedule, hospital.mine)
            past = make_schedule(mine.doctor, on=yesterday, period="evening").id
            db.session.commit()
            then = datetime.combine(yesterday, time(19, 0), tzinfo=clock.CHINA_TZ)
            old = display_links.create_link(Scope(), past, now=then)
            assert display_links.schedule_of_key(past, old.key, now=then).id == past
            end = display_links.valid_until(yesterday)
            assert old.until == end
            assert (
                display_links.schedule_of_key(past, old.key, now=end - timedelta(seconds=1)).id
                == past
            )
            with pytest.raises(NotFound):
                display_links.schedule_of_key(past, old.key, now=end)
        wall = served.app.test_client()
        assert wall.get(f"/admin/display/{past}", query_string={"key": old.key}).status_code == 404
        browser = signed_in(served, hospital, "doctor")
        browser.get(f"/admin/queue/{past}")
        refused = browser.post(f"/admin/queue/{past}/display-link")
        assert refused.status_code == 409 and "该出诊已结束" in refused.text

    def test_a_key_grants_nothing_else(self, served, hospital):
        _, key = _display_key(served, hospital)
        wall = served.app.test_client()
        with_key = {"key": key}
        for url in (
            f"/admin/queue/{hospital.mine}",
            f"/admin/schedules/{hospital.mine}",
            "/admin/",
        ):
            answer = wall.get(url, query_string=with_key)
            assert answer.status_code == 302, url
            assert "/admin/login" in answer.headers["Location"], url
        for url in (
            f"/admin/queue/{hospital.mine}/call-next",
            f"/admin/queue/{hospital.mine}/display-link",
            f"/admin/schedules/{hospital.mine}/stop",
        ):
            answer = wall.post(url, query_string=with_key, data={"reason": "x"})
            assert answer.status_code in (302, 400), url
        # Even with a CSRF token of its own session, the wall's changes need a staff session.
        page = wall.get("/admin/login")
        token = _CSRF.search(page.text).group(1)
        answer = wall.post(
            f"/admin/queue/{hospital.mine}/call-next",
            query_string=with_key,
            headers={"X-CSRFToken": token},
        )
        assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]
        with served.app.app_context():
            statuses = {db.session.get(Order, o.id).status for o in hospital.orders}
        assert statuses == {OrderStatus.BOOKED}

    def test_a_stopped_clinic_gets_no_link(self, served, hospital):
        with served.app.app_context():
            stop_clinic.stop_clinic(hospital.mine, "设备检修", "test")
        browser = signed_in(served, hospital, "hospital")
        browser.get(f"/admin/queue/{hospital.mine}")
        refused = browser.post(f"/admin/queue/{hospital.mine}/display-link")
        assert refused.status_code == 409 and "已停诊" in refused.text

    def test_without_htmx_the_console_is_shown_with_the_link(self, served, hospital):
        browser = signed_in(served, hospital, "doctor")
        browser.get(f"/admin/queue/{hospital.mine}")
        page = browser.post(f"/admin/queue/{hospital.mine}/display-link", htmx=False)
        assert page.status_code == 200 and "叫号台" in page.text and _KEY.search(page.text)


class TestStopClinic:
    def test_stopping_from_the_schedule_page_twice_stops_once(self, served, hospital):
        browser = signed_in(served, hospital, "department")
        url = f"/admin/schedules/{hospital.mine}"
        browser.get(url)
        stopped = browser.post(f"{url}/stop", {"reason": "设备检修"}, htmx=False)
        assert stopped.status_code == 200 and "已停诊：取消 2 个挂号" in stopped.text
        again = browser.post(f"{url}/stop", {"reason": "另一个原因"}, htmx=False)
        assert "取消 0 个挂号" in again.text
        with served.app.app_context():
            schedule = db.session.get(Schedule, hospital.mine)
            audits = db.session.scalars(
                sa.select(AuditEntry).where(
                    AuditEntry.target_type == "schedule", AuditEntry.target_id == hospital.mine
                )
            ).all()
        assert schedule.stop_reason == "设备检修"
        assert [(a.action, a.actor) for a in audits] == [
            ("stop_clinic", hospital.staff["department"])
        ]

    def test_a_stop_without_a_reason_is_refused(self, served, hospital):
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/schedules/{hospital.mine}"
        browser.get(url)
        refused = browser.post(f"{url}/stop", {"reason": "  "}, htmx=False)
        assert refused.status_code == 422 and "停诊原因" in refused.text


def test_names_are_escaped_on_every_page(served, hospital):
    with served.app.app_context():
        schedule = db.session.get(Schedule, hospital.mine)
        schedule.doctor.name = "<b>王</b>"
        db.session.commit()
    browser = signed_in(served, hospital, "hospital")
    for url in (
        "/admin/",
        f"/admin/schedules/{hospital.mine}",
        f"/admin/queue/{hospital.mine}",
        f"/admin/display/{hospital.mine}",
    ):
        page = browser.get(url).text
        assert "<b>王</b>" not in page and "&lt;b&gt;王&lt;/b&gt;" in page, url


class TestCreateStaff:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--role", "hospital_admin"], "医院管理员须指定：医院"),
            (["--role", "platform_admin", "--hospital", "1"], "平台管理员不属于"),
            (["--role", "doctor", "--doctor", "999999999"], "未找到该医生"),
        ],
    )
    def test_a_role_without_its_place_is_refused(self, served, args, message):
        runner = served.app.test_cli_runner()
        result = runner.invoke(
            args=["create-staff", "--username", "someone", "--password", PASSWORD, *args]
        )
        assert result.exit_code != 0 and message in result.output

    def test_a_weak_password_and_a_taken_name_are_refused(self, served, hospital):
        runner = served.app.test_cli_runner()
        weak = runner.invoke(
            args=[
                "create-staff",
                "--username",
                "weak",
                "--password",
                "12345678901",
                "--role",
                "platform_admin",
            ]
        )
        assert weak.exit_code != 0 and "密码" in weak.output
        taken = runner.invoke(
            args=[
                "create-staff",
                "--username",
                hospital.staff["platform"],
                "--password",
                PASSWORD,
                "--role",
                "platform_admin",
            ]
        )
        assert taken.exit_code != 0 and "用户名已存在" in taken.output

    def test_a_department_admin_gets_the_departments_hospital(self, served, hospital):
        with served.app.app_context():
            schedule = db.session.get(Schedule, hospital.mine)
            department_id = schedule.department_id
        result = served.app.test_cli_runner().invoke(
            args=[
                "create-staff",
                "--username",
                f"new{hospital.mine}",
                "--password",
                PASSWORD,
                "--role",
                "department_admin",
                "--department",
                str(department_id),
            ]
        )
        assert result.exit_code == 0, result.output
        browser = Browser(served.app)
        assert browser.login(f"new{hospital.mine}").status_code == 302


@pytest.fixture
def paid(served, hospital):
    """A patient with a phone, who paid 20.00 元 (WeChat Pay, confirmed as a notify confirms it)
    for tomorrow's clinic of the first department's doctor."""
    with served.app.app_context():
        mine = db.session.get(Schedule, hospital.mine)
        return make_paid_order(mine.doctor, TODAY + timedelta(days=1), with_phone=True)


class TestOrdersAndMoney:
    def test_an_order_is_found_by_id_trade_number_phone_or_name(self, served, hospital, paid):
        browser = signed_in(served, hospital, "department")
        for text in (str(paid.id), paid.out_trade_no, paid.phone, "患者"):
            page = browser.get("/admin/orders", query_string={"q": text})
            assert f'href="/admin/orders/{paid.id}"' in page.text, text
        nothing = browser.get("/admin/orders", query_string={"q": "13800000000"})
        assert "没有找到匹配的挂号" in nothing.text

    def test_another_departments_admin_finds_nothing_and_opens_nothing(
        self, served, hospital, paid
    ):
        browser = signed_in(served, hospital, "other_doctor")
        page = browser.get("/admin/orders", query_string={"q": str(paid.id)})
        assert f'href="/admin/orders/{paid.id}"' not in page.text
        assert browser.get(f"/admin/orders/{paid.id}").status_code == 404

    def test_a_full_refund_cancels_the_order_once_and_never_more_than_was_paid(
        self, served, hospital, paid
    ):
        browser = signed_in(served, hospital, "hospital")
        story = browser.get(f"/admin/orders/{paid.id}")
        assert story.status_code == 200 and paid.out_trade_no in story.text
        done = browser.post(f"/admin/orders/{paid.id}/refund", {"reason": "患者投诉"}, htmx=False)
        assert done.status_code == 200 and "已发起退款 ¥20.00" in done.text
        again = browser.post(f"/admin/orders/{paid.id}/refund", {"reason": "再退一次"}, htmx=False)
        assert again.status_code == 409, again.text
        assert "已全部退款" in again.text, again.text[again.text.find("<main>") :][:600]
        with served.app.app_context():
            order = db.session.get(Order, paid.id)
            refunds_made = db.session.scalars(sa.select(Refund).where(Refund.order_id == paid.id))
            made = [(r.reason, r.amount_fen, r.fee_fen) for r in refunds_made]
        assert order.status == OrderStatus.CANCELLED and order.cancelled_by == "hospital"
        assert made == [(RefundReason.STAFF, 2000, 0)]

    def test_a_doctor_may_read_an_order_but_not_refund_it(self, served, hospital, paid):
        browser = signed_in(served, hospital, "doctor")
        page = browser.get(f"/admin/orders/{paid.id}")
        assert page.status_code == 200 and "全额退款" not in page.text
        refused = browser.post(f"/admin/orders/{paid.id}/refund", {"reason": "x"}, htmx=False)
        assert refused.status_code == 403
        assert browser.get("/admin/refunds/failed").status_code == 403

    def test_a_failed_refund_is_listed_in_scope_and_sent_again(self, served, hospital, paid):
        browser = signed_in(served, hospital, "hospital")
        browser.post(f"/admin/orders/{paid.id}/refund", {"reason": "患者投诉"}, htmx=False)
        with served.app.app_context():
            refund = db.session.scalar(sa.select(Refund).where(Refund.order_id == paid.id))
            refund.status, refund.last_error = RefundStatus.FAILED, "channel says ABNORMAL"
            db.session.commit()
            refund_id = refund.id
        listed = browser.get("/admin/refunds/failed")
        assert refund.out_refund_no in listed.text and "channel says ABNORMAL" in listed.text
        other = signed_in(served, hospital, "platform")
        assert refund.out_refund_no in other.get("/admin/refunds/failed").text
        retried = browser.post(f"/admin/refunds/{refund_id}/retry", htmx=False)
        assert retried.status_code == 302
        with served.app.app_context():
            assert db.session.get(Refund, refund_id).status == RefundStatus.PENDING


@pytest.fixture
def tomorrow(served, hospital):
    """Tomorrow's 08:00–12:00 clinic (10 numbers, 10 minutes apart) of the first department's
    doctor, free, numbers 1 and 2 booked."""
    with served.app.app_context():
        mine = db.session.get(Schedule, hospital.mine)
        schedule = make_schedule(mine.doctor, on=TODAY + timedelta(days=1), fee_fen=0)
        db.session.commit()
        orders = []
        for n, (account_id, patient_id) in enumerate(make_patients(2)):
            order, _ = holds.hold_slot(account_id, schedule.id, patient_id, f"t-{schedule.id}-{n}")
            orders.append(SimpleNamespace(id=order.id, account_id=account_id, seq=order.seq))
        return SimpleNamespace(
            id=schedule.id, department_id=schedule.department_id, date=schedule.date, orders=orders
        )


def _times_of(served, schedule_id):
    """A schedule's (start, end, minutes per patient), its numbers' suggested times and its
    orders' (seq, suggested time), as "HH:MM"."""
    with served.app.app_context():
        schedule = db.session.get(Schedule, schedule_id)
        orders = db.session.scalars(
            sa.select(Order).where(Order.schedule_id == schedule_id).order_by(Order.seq)
        ).all()
        return (
            (
                f"{schedule.start_time:%H:%M}",
                f"{schedule.end_time:%H:%M}",
                schedule.minutes_per_patient,
            ),
            [f"{slot.suggested_time:%H:%M}" for slot in schedule.slots],
            [(order.seq, f"{order.suggested_time:%H:%M}") for order in orders],
        )


def _version(served, department_id):
    with served.app.app_context():
        return int(redis_store.client.get(f"catalogue:dept:{department_id}:version") or 0)


class TestMovingTimes:
    def test_a_later_start_recomputes_every_number_and_is_audited(self, served, hospital, tomorrow):
        browser = signed_in(served, hospital, "department")
        url = f"/admin/schedules/{tomorrow.id}"
        assert "开始时间" in browser.get(url).text
        version = _version(served, tomorrow.department_id)
        form = {"capacity": "10", "start_time": "09:00", "end_time": "12:00"}
        moved = browser.post(f"{url}/change", form, htmx=False)
        assert moved.status_code == 200 and "已保存" in moved.text
        assert "09:00–12:00" in moved.text
        schedule, slots, orders = _times_of(served, tomorrow.id)
        assert schedule == ("09:00", "12:00", 18)  # 180 minutes over 10 numbers
        assert slots[:3] == ["09:00", "09:18", "09:36"] and slots[-1] == "11:42"
        assert orders == [(1, "09:00"), (2, "09:18")]
        assert _version(served, tomorrow.department_id) > version  # the public answers dropped
        with served.app.app_context():
            entry = db.session.scalars(
                sa.select(AuditEntry).where(
                    AuditEntry.action == "change_schedule",
                    AuditEntry.target_type == "schedule",
                    AuditEntry.target_id == tomorrow.id,
                )
            ).one()
            ticket = tickets.ticket(tomorrow.orders[1].account_id, tomorrow.orders[1].id)
        assert (entry.before["start_time"], entry.before["end_time"]) == ("08:00", "12:00")
        assert (entry.after["start_time"], entry.after["end_time"]) == ("09:00", "12:00")
        assert f"{ticket['order'].suggested_time:%H:%M}" == "09:18"

    def test_the_same_times_with_another_capacity_change_only_the_capacity(self, served, hospital):
        # The page sends the times it shows: a clinic already begun keeps its capacity form.
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/schedules/{hospital.mine}"
        browser.get(url)
        form = {"capacity": "12", "start_time": "00:01", "end_time": "23:59"}
        assert browser.post(f"{url}/change", form, htmx=False).status_code == 200
        with served.app.app_context():
            assert db.session.get(Schedule, hospital.mine).capacity == 12

    @pytest.mark.parametrize(
        ("form", "status", "reason"),
        [
            ({"start_time": "12:00", "end_time": "09:00"}, 422, "结束时间须晚于开始时间"),
            ({"start_time": "07:00", "end_time": "12:00"}, 422, "1 号已有患者预约"),
            ({"start_time": "09:00", "end_time": "10:00", "capacity": "1"}, 422, "不能少于 2"),
            ({"start_time": "23:50", "end_time": "23:55", "capacity": "999"}, 422, "时段太短"),
            ({"start_time": "nine", "end_time": "12:00"}, 422, "start_time 格式不正确"),
        ],
    )
    def test_bad_times_are_refused_with_the_reason(
        self, served, hospital, tomorrow, form, status, reason
    ):
        browser = signed_in(served, hospital, "department")
        url = f"/admin/schedules/{tomorrow.id}"
        browser.get(url)
        refused = browser.post(f"{url}/change", form, htmx=False)
        assert refused.status_code == status and reason in refused.text, refused.text[-800:]
        assert _times_of(served, tomorrow.id)[0] == ("08:00", "12:00", 10)

    def test_an_earlier_number_is_named_with_both_times(self, served, hospital, tomorrow):
        browser = signed_in(served, hospital, "department")
        url = f"/admin/schedules/{tomorrow.id}"
        browser.get(url)
        refused = browser.post(f"{url}/change", {"start_time": "07:30"}, htmx=False)
        assert "1 号已有患者预约，调整后其建议就诊时间将由 08:00 提前到 07:30" in refused.text

    def test_a_clinic_begun_stopped_or_past_keeps_its_times(self, served, hospital, tomorrow):
        browser = signed_in(served, hospital, "hospital")
        begun = f"/admin/schedules/{hospital.mine}"
        browser.get(begun)
        answer = browser.post(f"{begun}/change", {"start_time": "23:00"}, htmx=False)
        assert answer.status_code == 409 and "该出诊已开始" in answer.text
        with served.app.app_context():
            mine = db.session.get(Schedule, hospital.mine)
            past = make_schedule(mine.doctor, on=TODAY - timedelta(days=1)).id
            db.session.commit()
            stop_clinic.stop_clinic(tomorrow.id, "设备检修", "test")
        for schedule_id, reason in ((past, "该出诊已结束"), (tomorrow.id, "该出诊已停诊")):
            url = f"/admin/schedules/{schedule_id}"
            browser.get(url)
            answer = browser.post(f"{url}/change", {"start_time": "09:00"}, htmx=False)
            assert answer.status_code == 409 and reason in answer.text, schedule_id

    def test_on_the_visit_day_before_the_start_a_check_in_or_a_gone_start_refuse(
        self, served, hospital, tomorrow
    ):
        day = tomorrow.date
        at = lambda hour, minute: datetime.combine(  # noqa: E731
            day, time(hour, minute), tzinfo=clock.CHINA_TZ
        )
        with served.app.app_context():
            with pytest.raises(ValidationFailed, match="开始时间已过"):
                schedules.change_schedule(Scope(), tomorrow.id, start=time(7, 30), now=at(7, 40))
            with pytest.raises(Conflict, match="该出诊已开始"):
                schedules.change_schedule(Scope(), tomorrow.id, start=time(9, 0), now=at(8, 0))
            first = tomorrow.orders[0]
            visits.check_in(first.account_id, first.id, now=at(7, 30))
            with pytest.raises(Conflict, match="已有患者签到"):
                schedules.change_schedule(Scope(), tomorrow.id, start=time(9, 0), now=at(7, 40))
        assert _times_of(served, tomorrow.id)[0] == ("08:00", "12:00", 10)

    def test_the_service_moves_a_clinic_with_a_new_capacity_at_its_new_pace(
        self, served, hospital, tomorrow
    ):
        with served.app.app_context():
            schedules.change_schedule(
                Scope(), tomorrow.id, capacity=4, start=time(9, 0), end=time(11, 0)
            )
        schedule, slots, orders = _times_of(served, tomorrow.id)
        assert schedule == ("09:00", "11:00", 30)
        assert slots == ["09:00", "09:30", "10:00", "10:30"]
        assert orders == [(1, "09:00"), (2, "09:30")]


class TestSchedules:
    def test_the_week_shows_the_departments_schedules_with_numbers_taken(self, served, hospital):
        browser = signed_in(served, hospital, "department")
        page = browser.get("/admin/schedules")
        assert page.status_code == 200 and "排班" in page.text
        assert f'href="/admin/schedules/{hospital.mine}"' in page.text
        assert "2/10" in page.text  # two of ten numbers taken today
        assert f'href="/admin/schedules/{hospital.theirs}"' not in page.text

    def test_a_new_schedule_gets_its_numbers_and_is_audited(self, served, hospital):
        browser = signed_in(served, hospital, "department")
        browser.get("/admin/schedules")
        with served.app.app_context():
            doctor_id = db.session.get(Schedule, hospital.mine).doctor_id
        day = (TODAY + timedelta(days=3)).isoformat()
        form = {
            "doctor_id": doctor_id,
            "date": day,
            "period": "afternoon",
            "start_time": "14:00",
            "end_time": "17:00",
            "capacity": "12",
            "fee": "35.5",
        }
        created = browser.post("/admin/schedules", form, htmx=False)
        assert created.status_code == 302
        again = browser.post("/admin/schedules", form, htmx=False)
        assert again.status_code == 409 and "已有排班" in again.text
        with served.app.app_context():
            schedule = db.session.scalar(
                sa.select(Schedule).where(
                    Schedule.doctor_id == doctor_id, Schedule.date == TODAY + timedelta(days=3)
                )
            )
            slots = len(schedule.slots)
            action = db.session.scalar(
                sa.select(AuditEntry.action).where(
                    AuditEntry.target_type == "schedule", AuditEntry.target_id == schedule.id
                )
            )
        assert (schedule.capacity, schedule.fee_fen, slots) == (12, 3550, 12)
        assert action == "create_schedule"

    def test_numbers_that_would_fall_on_the_next_day_are_refused(self, served, hospital):
        browser = signed_in(served, hospital, "department")
        browser.get("/admin/schedules")
        with served.app.app_context():
            doctor_id = db.session.get(Schedule, hospital.mine).doctor_id
        form = {
            "doctor_id": doctor_id,
            "date": (TODAY + timedelta(days=4)).isoformat(),
            "period": "evening",
            "start_time": "23:50",
            "end_time": "23:55",
            "capacity": "999",
        }
        created = browser.post("/admin/schedules", form, htmx=False)
        assert created.status_code == 422 and "时段太短，排不下 999 个号" in created.text
        url = f"/admin/schedules/{hospital.mine}"  # 00:01–23:59, ten minutes a number
        browser.get(url)
        grown = browser.post(f"{url}/change", {"capacity": "999"}, htmx=False)
        assert grown.status_code == 422 and "第 999 号将排到次日" in grown.text

    @pytest.mark.parametrize(
        "typed, field, words",
        [
            ({"doctor_id": "abc"}, "doctor_id", "请选择医生"),
            ({"doctor_id": ""}, "doctor_id", "请选择医生"),
            ({"capacity": "abc"}, "capacity", "请填写号源数"),
            ({"capacity": "9" * 30}, "capacity", "请填写号源数"),
            ({"fee": "1e400"}, "fee", "请填写金额"),
            ({"fee": "99999999999999999"}, "fee", "请填写金额"),
            ({"fee": "NaN"}, "fee", "请填写金额"),
            ({"date": "0001-01-01"}, "date", "不能为过去的日期排班"),
            ({"date": (TODAY + timedelta(days=367)).isoformat()}, "date", "366 天之内"),
            ({"date": "9999-12-31"}, "date", "366 天之内"),
        ],
    )
    def test_what_a_new_schedules_form_cannot_hold_is_refused_and_nothing_made(
        self, served, hospital, typed, field, words
    ):
        browser = signed_in(served, hospital, "department")
        browser.get("/admin/schedules")
        with served.app.app_context():
            doctor_id = db.session.get(Schedule, hospital.mine).doctor_id
            before = db.session.scalar(sa.select(sa.func.count()).select_from(Schedule))
        form = {
            "doctor_id": doctor_id,
            "date": (TODAY + timedelta(days=5)).isoformat(),
            "period": "morning",
            "start_time": "08:00",
            "end_time": "12:00",
            "capacity": "10",
            "fee": "20",
        }
        refused = browser.post("/admin/schedules", form | typed, htmx=False)
        assert refused.status_code == 422 and words in refused.text, (field, refused.text[:300])
        with served.app.app_context():
            after = db.session.scalar(sa.select(sa.func.count()).select_from(Schedule))
        assert after == before

    @pytest.mark.parametrize(
        "typed, words",
        [
            ({"capacity": "abc"}, "请填写正确的数字"),
            ({"fee": "1e400"}, "请填写金额"),
            ({"release_at": "0001-01-01T00:00"}, "出诊前 366 天之内"),
            ({"release_at": "9999-12-31T23:59"}, "放号时间须早于出诊结束时间"),
        ],
    )
    def test_what_a_schedules_change_cannot_hold_is_refused_and_nothing_changed(
        self, served, hospital, typed, words
    ):
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/schedules/{hospital.mine}"
        with served.app.app_context():
            before = _changeable_of(db.session.get(Schedule, hospital.mine))
        browser.get(url)
        refused = browser.post(f"{url}/change", typed, htmx=False)
        assert refused.status_code == 422 and words in refused.text
        with served.app.app_context():
            assert _changeable_of(db.session.get(Schedule, hospital.mine)) == before

    def test_a_release_moved_within_its_bounds_is_kept(self, served, hospital):
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/schedules/{hospital.mine}"
        with served.app.app_context():
            schedule = db.session.get(Schedule, hospital.mine)
            earlier = datetime.combine(schedule.date - timedelta(days=365), schedule.end_time)
        browser.get(url)
        moved = browser.post(f"{url}/change", {"release_at": earlier.isoformat(timespec="minutes")})
        assert moved.status_code == 200 and "已保存" in moved.text
        with served.app.app_context():
            kept = clock.to_china(db.session.get(Schedule, hospital.mine).release_at)
        assert kept.replace(tzinfo=None) == earlier

    @pytest.mark.parametrize(
        "url",
        [
            "/admin/schedules?week=garbage",
            "/admin/schedules?week=9999-12-31",
            "/admin/schedules?week=0001-01-01",
            "/admin/stats?start=9999-12-31&period=month&periods=12",
            "/admin/stats?start=0001-01-01&period=week",
            "/admin/stats/anomalies?start=9999-12-31",
            "/admin/audit?day=9999-12-31",
            "/admin/audit?day=garbage",
        ],
    )
    def test_a_day_a_page_cannot_show_is_a_400_saying_why(self, served, hospital, url):
        browser = signed_in(served, hospital, "hospital")
        page = browser.get(url)
        assert page.status_code == 400
        assert "日期格式应为 YYYY-MM-DD" in page.text or "2000-01-01 至 2099-12-31" in page.text

    @pytest.mark.parametrize(
        "query, words",
        [
            ("periods=²", "周期数须为 1–36 的整数"),  # a digit to str.isdigit, not to int()
            ("periods=" + "9" * 5000, "周期数须为 1–36 的整数"),  # past int()'s 4,300 digits
            ("department=" + "9" * 5000, "科室编号有误"),
            ("doctor=１２", "医生编号有误"),  # full-width digits
        ],
    )
    def test_a_number_a_page_cannot_read_is_a_400_saying_why(self, served, hospital, query, words):
        browser = signed_in(served, hospital, "hospital")
        page = browser.get(f"/admin/stats?{query}")
        assert page.status_code == 400 and words in page.text

    def test_another_departments_doctor_cannot_be_scheduled(self, served, hospital):
        browser = signed_in(served, hospital, "department")
        browser.get("/admin/schedules")
        with served.app.app_context():
            theirs = db.session.get(Schedule, hospital.theirs).doctor_id
        refused = browser.post(
            "/admin/schedules",
            {
                "doctor_id": theirs,
                "date": (TODAY + timedelta(days=3)).isoformat(),
                "period": "morning",
                "start_time": "08:00",
                "end_time": "12:00",
                "capacity": "10",
            },
            htmx=False,
        )
        assert refused.status_code == 404

    def test_capacity_never_goes_below_the_numbers_taken(self, served, hospital):
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/schedules/{hospital.mine}"
        browser.get(url)
        refused = browser.post(f"{url}/change", {"capacity": "1"}, htmx=False)
        assert refused.status_code == 422 and "不能少于 2" in refused.text
        grown = browser.post(f"{url}/change", {"capacity": "15", "fee": "12"}, htmx=False)
        assert grown.status_code == 200 and "已保存" in grown.text
        shrunk = browser.post(f"{url}/change", {"capacity": "3"}, htmx=False)
        assert shrunk.status_code == 200
        with served.app.app_context():
            schedule = db.session.get(Schedule, hospital.mine)
            seqs = sorted(slot.seq for slot in schedule.slots)
        assert (schedule.capacity, schedule.fee_fen, seqs) == (3, 1200, [1, 2, 3])


def _changeable_of(schedule):
    return (schedule.capacity, schedule.fee_fen, schedule.release_at, schedule.end_time)


_BILL_DAYS = itertools.count(1)


class TestReconciliation:
    @pytest.fixture
    def difference(self, served):
        with served.app.app_context():
            day = Reconciliation(
                bill_date=TODAY - timedelta(days=next(_BILL_DAYS)),
                channel=PaymentChannel.WECHAT,
                status=ReconciliationStatus.DONE,
                missing_here_count=1,
                error="",
            )
            db.session.add(day)
            db.session.flush()
            item = ReconciliationItem(
                reconciliation_id=day.id,
                kind=FindingKind.MISSING_HERE,
                out_trade_no=f"BKX{day.id}W00000000",
                amount_there_fen=2000,
                note="",
                resolved=False,
            )
            db.session.add(item)
            db.session.commit()
            return SimpleNamespace(id=item.id, out_trade_no=item.out_trade_no)

    def test_the_platform_admin_resolves_a_difference_with_a_note(
        self, served, hospital, difference
    ):
        browser = signed_in(served, hospital, "platform")
        page = browser.get("/admin/reconciliation")
        assert page.status_code == 200 and difference.out_trade_no in page.text
        url = f"/admin/reconciliation/items/{difference.id}/resolve"
        assert browser.post(url, {"note": "  "}, htmx=False).status_code == 422
        assert browser.post(url, {"note": "已人工退款"}, htmx=False).status_code == 302
        assert browser.post(url, {"note": "再处理"}, htmx=False).status_code == 409
        with served.app.app_context():
            item = db.session.get(ReconciliationItem, difference.id)
        assert item.resolved and item.note == "已人工退款"

    def test_other_roles_may_not_open_it(self, served, hospital, difference):
        for role in ("hospital", "department", "doctor"):
            browser = signed_in(served, hospital, role)
            assert browser.get("/admin/reconciliation").status_code == 403
            url = f"/admin/reconciliation/items/{difference.id}/resolve"
            assert browser.post(url, {"note": "x"}, htmx=False).status_code == 403


class TestAccounts:
    def test_freezing_stops_the_accounts_tokens_and_unfreezing_lets_it_sign_in(
        self, served, hospital
    ):
        order = hospital.orders[0]
        with served.app.app_context():
            token, _ = auth.issue_token(db.session.get(Account, order.account_id))
        api = served.app.test_client()
        bearer = {"Authorization": f"Bearer {token}"}
        assert api.get("/api/v1/me", headers=bearer).status_code == 200
        browser = signed_in(served, hospital, "platform")
        found = browser.get("/admin/accounts", query_string={"q": "患者"})
        assert f'href="/admin/accounts/{order.account_id}"' in found.text
        url = f"/admin/accounts/{order.account_id}"
        browser.get(url)
        assert browser.post(f"{url}/freeze", {"reason": " "}, htmx=False).status_code == 422
        frozen = browser.post(f"{url}/freeze", {"reason": "恶意占号"}, htmx=False)
        assert frozen.status_code == 200 and "账号已冻结" in frozen.text
        assert api.get("/api/v1/me", headers=bearer).status_code == 401
        assert browser.post(f"{url}/freeze", {"reason": "again"}, htmx=False).status_code == 409
        thawed = browser.post(f"{url}/unfreeze", {"reason": "误冻结"}, htmx=False)
        assert "账号已解冻" in thawed.text
        with served.app.app_context():
            actions = db.session.scalars(
                sa.select(AuditEntry.action).where(
                    AuditEntry.target_type == "account", AuditEntry.target_id == order.account_id
                )
            ).all()
        assert actions == ["freeze_account", "unfreeze_account"]

    def test_a_block_is_lifted_with_a_reason(self, served, hospital):
        order = hospital.orders[1]
        with served.app.app_context():
            db.session.get(Account, order.account_id).blocked_until = clock.now() + timedelta(
                days=9
            )
            db.session.commit()
        browser = signed_in(served, hospital, "platform")
        url = f"/admin/accounts/{order.account_id}"
        assert "爽约限制" in browser.get(url).text
        lifted = browser.post(f"{url}/lift-block", {"reason": "患者已说明情况"}, htmx=False)
        assert lifted.status_code == 200 and "已解除爽约限制" in lifted.text
        again = browser.post(f"{url}/lift-block", {"reason": "再来"}, htmx=False)
        assert again.status_code == 409
        with served.app.app_context():
            assert db.session.get(Account, order.account_id).blocked_until is None

    def test_only_platform_admins_handle_accounts(self, served, hospital):
        account_id = hospital.orders[0].account_id
        for role in ("hospital", "department", "doctor"):
            browser = signed_in(served, hospital, role)
            assert browser.get(f"/admin/accounts/{account_id}").status_code == 403
            refused = browser.post(f"/admin/accounts/{account_id}/freeze", {"reason": "x"})
            assert refused.status_code == 403


class TestAuditLog:
    def test_admins_read_and_filter_their_hospitals_entries(self, served, hospital):
        doctor = signed_in(served, hospital, "doctor")
        assert doctor.get("/admin/audit").status_code == 403
        admin = signed_in(served, hospital, "department")
        url = f"/admin/schedules/{hospital.mine}"
        admin.get(url)
        admin.post(f"{url}/change", {"capacity": "12"}, htmx=False)
        reader = signed_in(served, hospital, "hospital")
        page = reader.get("/admin/audit", query_string={"action": "change_schedule"})
        assert "change_schedule" in page.text and hospital.staff["department"] in page.text
        assert "create_staff" not in page.text
        by_other = reader.get("/admin/audit", query_string={"actor": "nobody"})
        assert "没有记录" in by_other.text
        today = reader.get("/admin/audit", query_string={"day": TODAY.isoformat()})
        assert "change_schedule" in today.text


class TestOperations:
    def test_a_failed_job_is_listed_and_put_back_on_its_queue(self, served, hospital):
        with served.app.app_context():
            rq_queue = queue.get_queue(queue.DEFAULT)
            job = rq_queue.enqueue("workers.nonexistent.job", 7, job_id="admin-failing-job")
            SimpleWorker([rq_queue], connection=rq_queue.connection).work(burst=True)
            assert job.id in FailedJobRegistry(queue=rq_queue).get_job_ids()
        browser = signed_in(served, hospital, "platform")
        page = browser.get("/admin/jobs")
        assert "admin-failing-job" in page.text and "workers.nonexistent.job" in page.text
        done = browser.post("/admin/jobs/admin-failing-job/requeue", htmx=False)
        assert done.status_code == 200 and "已重新排入 default 队列" in done.text
        gone = browser.post("/admin/jobs/no-such-job/requeue", htmx=False)
        assert gone.status_code == 404
        with served.app.app_context():
            assert "admin-failing-job" in queue.get_queue(queue.DEFAULT).get_job_ids()
            queue.get_queue(queue.DEFAULT).empty()

    def test_a_failed_message_is_listed_and_sent_again(self, served, hospital):
        order = hospital.orders[0]
        with served.app.app_context():
            message = Message(
                kind=MessageKind.VISIT_REMINDER,
                account_id=order.account_id,
                order_id=order.id,
                event_key=f"visit_reminder:test:{order.id}",
                facts={},
                status=MessageStatus.FAILED,
                attempts=8,
                last_error="47003 argument invalid!",
            )
            db.session.add(message)
            db.session.commit()
            message_id = message.id
        browser = signed_in(served, hospital, "platform")
        listed = browser.get("/admin/outbox")
        assert "47003 argument invalid!" in listed.text
        assert browser.post(f"/admin/outbox/{message_id}/resend", htmx=False).status_code == 302
        again = browser.post(f"/admin/outbox/{message_id}/resend", htmx=False)
        assert again.status_code == 409
        with served.app.app_context():
            resent = db.session.get(Message, message_id)
            assert (resent.status, resent.attempts) == (MessageStatus.PENDING, 0)
            assert queue.get_queue(queue.NOTIFICATIONS).fetch_job(f"message-{message_id}")

    def test_only_platform_admins_see_operations(self, served, hospital):
        for role in ("hospital", "department", "doctor"):
            browser = signed_in(served, hospital, role)
            assert browser.get("/admin/jobs").status_code == 403
            assert browser.get("/admin/outbox").status_code == 403
