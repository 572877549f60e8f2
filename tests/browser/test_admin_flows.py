"""More of a staff member's day in a real browser: a schedule added from the week grid, a paid
order refunded from its page, the statistics exported as Excel and CSV and the files opened,
and the waiting-room display link opened on another machine without signing in."""

import csv
import re
from datetime import timedelta

from openpyxl import load_workbook
from playwright.sync_api import expect

from app.domain import clock
from app.services import stats, visits


def test_a_schedule_added_from_the_week_grid_shows_in_its_cell(page, sign_in, hospital):
    day = clock.business_date(clock.now()) + timedelta(days=2)
    page.goto("/admin/schedules")
    sign_in(hospital.staff("department"))
    expect(page.get_by_role("heading", name="排班", exact=True)).to_be_visible()
    form = page.locator("form.grid")
    form.locator("select[name=doctor_id]").select_option(label=hospital.doctors[0])
    form.get_by_label("日期").fill(day.isoformat())
    form.locator("select[name=period]").select_option(label="下午")
    form.get_by_label("开始", exact=True).fill("14:00")
    form.get_by_label("结束", exact=True).fill("17:00")
    form.get_by_label("号源数").fill("12")
    form.get_by_label("挂号费").fill("25")
    form.get_by_role("button", name="新增").click()

    expect(page).to_have_url(re.compile(rf"/admin/schedules\?department=\d+&week={day}$"))
    row = page.locator("table.week tbody tr").filter(has_text=hospital.doctors[0])
    cell = row.locator("td").nth(1)  # the week shown starts on the new schedule's day
    expect(cell.locator("a.cell")).to_have_text("下午 0/12")
    cell.locator("a.cell").click()
    expect(page.get_by_role("heading", name=re.compile(f"{day} 下午"))).to_be_visible()
    expect(page.get_by_text("14:00–17:00 · 号源 12 个 · 挂号费 ¥25.00")).to_be_visible()


def test_a_paid_order_refunded_from_its_page_shows_the_refund_in_its_story(
    page, sign_in, hospital, paid
):
    page.goto(f"/admin/orders/{paid.id}")
    sign_in(hospital.staff("hospital"))
    expect(page.get_by_role("cell", name=paid.out_trade_no)).to_be_visible()
    refunds = page.locator("h2:has-text('退款') + table tbody tr")
    expect(refunds).to_have_text(["无"])

    page.get_by_label("退款原因").fill("患者投诉")
    page.get_by_role("button", name="全额退款").click()
    expect(page.get_by_role("status")).to_have_text("已发起退款 ¥20.00")
    expect(refunds).to_have_count(1)
    expect(refunds.locator("td").nth(1)).to_have_text("¥20.00")
    expect(refunds.locator("td").nth(2)).to_have_text("¥0.00")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("已取消（医院退款：患者投诉）")
    story = page.locator("h2:has-text('操作日志') + table tbody tr")
    expect(story.filter(has_text="refund")).to_contain_text("患者投诉")


def _download(page, link, folder):
    """Click ``link`` and keep what it downloads in ``folder``: its name, and where it is."""
    with page.expect_download() as started:
        link.click()
    download = started.value
    path = folder / download.suggested_filename
    download.save_as(path)
    return download.suggested_filename, path


def test_the_statistics_export_as_excel_and_csv_with_the_pages_figures(
    page, sign_in, served, hospital, tmp_path, screenshot
):
    today = clock.business_date(clock.now())
    with served.app.app_context():
        stats.rollup_day(today)
    page.goto("/admin/stats?period=day&by=department")
    sign_in(hospital.staff("hospital"))
    expect(page.get_by_role("heading", name="统计", exact=True)).to_be_visible()
    screenshot(page, "stats")
    first, second = hospital.departments

    name, path = _download(page, page.locator('a[href^="/admin/stats.xlsx"]'), tmp_path)
    assert name == f"stats-department-{today}_{today}.xlsx"
    sheet = load_workbook(path, read_only=True).worksheets[0]
    header, *lines = [list(line) for line in sheet.iter_rows(values_only=True)]
    column = {title: n for n, title in enumerate(header)}
    bookings = {line[column["科室"]]: line[column["预约数"]] for line in lines}
    assert (bookings[first], bookings[second]) == (2, 0)

    name, path = _download(page, page.locator('a[href^="/admin/stats.csv"]'), tmp_path)
    assert name == f"stats-department-{today}_{today}.csv"
    with open(path, encoding="utf-8-sig", newline="") as text:
        header, *lines = list(csv.reader(text))
    column = {title: n for n, title in enumerate(header)}
    bookings = {line[column["科室"]]: line[column["预约数"]] for line in lines}
    assert (bookings[first], bookings[second]) == ("2", "0")


def test_the_display_link_opens_the_screen_on_another_machine_without_signing_in(
    page, sign_in, served, hospital, another_browser, screenshot
):
    first, second = hospital.orders
    with served.app.app_context():
        for order in (first, second):
            visits.check_in_by_ticket(order.ticket, hospital.mine)
        visits.call_next(hospital.mine)
    page.goto(f"/admin/queue/{hospital.mine}")
    sign_in(hospital.staff("doctor"))
    page.get_by_role("button", name=re.compile("^生成候诊屏链接")).click()
    expect(page.get_by_role("status")).to_contain_text("候诊屏链接已生成")
    link = page.get_by_label("候诊屏链接").input_value()
    assert re.fullmatch(rf"{served.url}/admin/display/{hospital.mine}\?key=[\w.-]+", link)
    screenshot(page, "queue")

    wall = another_browser()
    wall.clock.install()  # the screen's 5-second refresh runs when the test says so
    wall.goto(link)
    expect(wall.locator(".calling .called")).to_have_text(f"{first.seq} 号 患*")
    expect(wall.locator(".next li")).to_have_text([f"{second.seq} 号 患*"])
    expect(wall.get_by_role("button", name="登录")).to_have_count(0)
    assert wall.context.cookies() == []  # no session, not even a CSRF one

    with served.app.app_context():
        visits.complete(hospital.mine, first.id)
        visits.call_next(hospital.mine)
    wall.clock.run_for(5_500)
    expect(wall.locator(".calling .called")).to_have_text(f"{second.seq} 号 患*")
    expect(wall.locator(".next li")).to_have_text(["暂无候诊患者"])
    assert wall.context.cookies() == []

    # The key opens the screen only: the console asks the wall to sign in.
    key = link.split("?", 1)[1]
    wall.goto(f"/admin/queue/{hospital.mine}?{key}")
    expect(wall).to_have_url(re.compile(r"/admin/login"))
    expect(wall.get_by_role("button", name="叫下一位")).to_have_count(0)
    answer = wall.goto(f"/admin/display/{hospital.theirs}?{key}")
    assert answer.status == 404
