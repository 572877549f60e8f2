"""The staff admin in a real browser: signing in and out, the dashboard, the queue console's
in-place updates (htmx under the pages' Content-Security-Policy), stopping a clinic, the
waiting-room display refreshing itself, and a department admin's edited URL."""

import re

from playwright.sync_api import expect

from app.domain import clock
from app.services import stats, visits

# A value set on the window survives an htmx swap and is gone after any page load.
MARK = "window.__stayedOnPage = true"
STAYED = "window.__stayedOnPage === true"


def row_of(page, seq):
    """The queue table's row of number ``seq``."""
    return page.locator("table.queue tbody tr").filter(
        has=page.locator("td:first-child", has_text=re.compile(rf"^{seq}$"))
    )


class TestSigningIn:
    def test_the_right_password_opens_the_dashboard_with_todays_clinics(
        self, page, sign_in, served, hospital, screenshot
    ):
        with served.app.app_context():  # as the rollup job has done: the 30 days' charts
            stats.rollup_day(clock.business_date(clock.now()))
        page.goto("/admin/")
        expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/$"))
        expect(page.get_by_role("button", name="登录")).to_be_visible()
        screenshot(page, "login")
        sign_in(hospital.staff("hospital"))
        expect(page).to_have_url(re.compile(r"/admin/$"))
        expect(page.get_by_role("heading", name="今日概况")).to_be_visible()
        figures = page.locator("ul.figures li")
        expect(figures.filter(has_text="今日预约").locator("strong")).to_have_text("2")
        clinics = page.locator("table tbody tr")
        expect(clinics).to_have_count(2)
        for doctor in hospital.doctors:
            row = clinics.filter(has_text=doctor)
            expect(row.locator("td").nth(2)).to_have_text("出诊")
            expect(row.get_by_role("link", name="叫号台")).to_be_visible()
        # The 30 days' charts are drawn (by the vendored Chart.js, within the page's CSP).
        expect(page.locator("body")).to_have_attribute("data-charts-drawn", "true")
        expect(page.locator("#trend-chart")).to_be_visible()
        screenshot(page, "dashboard")

    def test_a_wrong_password_shows_why_and_stays_on_the_form(self, page, sign_in, hospital):
        page.goto("/admin/login")
        sign_in(hospital.staff("hospital"), "wrong-password-1")
        expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")
        expect(page.get_by_label("用户名")).to_be_visible()
        expect(page.get_by_role("heading", name="今日概况")).to_have_count(0)

    def test_after_signing_out_back_and_reopening_ask_to_sign_in_again(
        self, page, sign_in, hospital
    ):
        page.goto(f"/admin/schedules/{hospital.mine}")
        sign_in(hospital.staff("hospital"))
        expect(page).to_have_url(re.compile(rf"/admin/schedules/{hospital.mine}$"))
        expect(page.get_by_role("heading", name=re.compile(hospital.doctors[0]))).to_be_visible()
        page.get_by_role("button", name="退出").click()
        expect(page.get_by_role("button", name="登录")).to_be_visible()
        page.go_back()
        expect(page).to_have_url(re.compile(r"/admin/login"))
        expect(page.get_by_role("button", name="登录")).to_be_visible()
        expect(page.get_by_role("heading", name=re.compile(hospital.doctors[0]))).to_have_count(0)
        page.goto("/admin/")
        expect(page).to_have_url(re.compile(r"/admin/login"))
        expect(page.get_by_role("heading", name="今日概况")).to_have_count(0)


class TestQueueConsole:
    def test_check_in_call_and_complete_update_the_table_without_a_reload(
        self, page, sign_in, hospital
    ):
        first = hospital.orders[0]
        page.goto(f"/admin/queue/{hospital.mine}")
        sign_in(hospital.staff("doctor"))
        expect(row_of(page, first.seq)).to_contain_text("已预约")
        page.evaluate(MARK)

        page.get_by_label("电子凭证").fill(first.ticket)
        page.get_by_role("button", name="签到").click()
        expect(page.get_by_role("status")).to_have_text(f"{first.seq} 号已签到")
        expect(row_of(page, first.seq).locator("td").nth(2)).to_have_text("已签到")
        expect(row_of(page, first.seq).locator("td").nth(3)).to_have_text(re.compile(r"\d\d:\d\d"))

        page.get_by_role("button", name="叫下一位").click()
        expect(page.get_by_role("status")).to_have_text(f"请 {first.seq} 号就诊")
        called = row_of(page, first.seq)
        expect(called.locator("td").nth(2)).to_have_text("已叫号")
        expect(called).to_have_class("called")

        called.get_by_role("button", name="完成").click()
        expect(page.get_by_role("status")).to_have_text(f"{first.seq} 号就诊完成")
        expect(row_of(page, first.seq).locator("td").nth(2)).to_have_text("已就诊")
        expect(row_of(page, first.seq).get_by_role("button")).to_have_count(0)
        assert page.evaluate(STAYED), "the page was loaded again"

    def test_the_10_s_refresh_updates_the_table_and_keeps_a_half_typed_ticket(
        self, page, sign_in, served, hospital
    ):
        first = hospital.orders[0]
        page.clock.install()  # the page's timers run when the test says so
        page.goto(f"/admin/queue/{hospital.mine}")
        sign_in(hospital.staff("doctor"))
        expect(row_of(page, first.seq).locator("td").nth(2)).to_have_text("已预约")
        page.get_by_label("电子凭证").fill("T1.eyJkIjoi")
        with served.app.app_context():  # checked in at another desk
            visits.check_in_by_ticket(first.ticket, hospital.mine)
        page.clock.run_for(10_500)
        expect(row_of(page, first.seq).locator("td").nth(2)).to_have_text("已签到")
        expect(page.get_by_label("电子凭证")).to_have_value("T1.eyJkIjoi")

    def test_a_mistyped_ticket_shows_the_reason_in_place(self, page, sign_in, hospital):
        page.goto(f"/admin/queue/{hospital.mine}")
        sign_in(hospital.staff("doctor"))
        page.evaluate(MARK)
        page.get_by_label("电子凭证").fill("T1.abc.def")
        page.get_by_role("button", name="签到").click()
        expect(page.get_by_role("alert")).to_have_text("电子凭证无效")
        expect(row_of(page, hospital.orders[0].seq).locator("td").nth(2)).to_have_text("已预约")
        assert page.evaluate(STAYED), "the page was loaded again"


def test_stopping_a_clinic_from_its_schedule_page_shows_what_was_done(
    page, sign_in, hospital, screenshot
):
    page.goto(f"/admin/schedules/{hospital.mine}")
    sign_in(hospital.staff("department"))
    bookings = page.locator("table tbody tr")
    expect(bookings.filter(has_text="已预约")).to_have_count(2)
    page.get_by_label("停诊原因").fill("设备检修")
    page.get_by_role("button", name="停诊并全额退款").click()
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"^已停诊：取消 2 个挂号，发起退款 \d+ 笔")
    )
    expect(page.locator("strong.stopped")).to_have_text("已停诊")
    expect(page.get_by_text("（设备检修）")).to_be_visible()
    expect(page.get_by_role("button", name="停诊并全额退款")).to_have_count(0)
    expect(bookings.filter(has_text="已预约")).to_have_count(0)
    screenshot(page, "schedule-stopped")


def test_the_display_shows_the_called_number_masked_and_refreshes_itself(
    page, sign_in, served, hospital, screenshot
):
    first, second = hospital.orders
    with served.app.app_context():
        for order in (first, second):
            visits.check_in_by_ticket(order.ticket, hospital.mine)
        visits.call_next(hospital.mine)
    page.clock.install()  # the screen's timers run when the test says so
    page.goto(f"/admin/display/{hospital.mine}")
    sign_in(hospital.staff("doctor"))
    expect(page.locator(".calling .called")).to_have_text(f"{first.seq} 号 患*")
    expect(page.locator(".next li")).to_have_text([f"{second.seq} 号 患*"])
    screenshot(page, "display")
    page.evaluate(MARK)

    with served.app.app_context():
        visits.complete(hospital.mine, first.id)
        visits.call_next(hospital.mine)
    # The screen asks for itself every 5 s.
    page.clock.run_for(5_500)
    expect(page.locator(".calling .called")).to_have_text(f"{second.seq} 号 患*")
    expect(page.locator(".next li")).to_have_text(["暂无候诊患者"])
    assert page.evaluate(STAYED), "the display was loaded again instead of refreshing in place"


def test_a_department_admin_editing_the_url_to_another_departments_queue_gets_404(
    page, sign_in, hospital
):
    page.goto(f"/admin/queue/{hospital.mine}")
    sign_in(hospital.staff("department"))
    expect(page.get_by_role("heading", name=re.compile("^叫号台"))).to_be_visible()
    answer = page.goto(f"/admin/queue/{hospital.theirs}")
    assert answer.status == 404
    expect(page.locator("body")).to_contain_text("未找到")
    expect(page.get_by_role("heading", name=re.compile("^叫号台"))).to_have_count(0)
    expect(page.get_by_role("button", name="叫下一位")).to_have_count(0)
    expect(page.get_by_text(hospital.doctors[1])).to_have_count(0)
