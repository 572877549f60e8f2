"""Browser tier: the staff admin served over real HTTP on 127.0.0.1 and used in a real headless
Chromium (Debian's /usr/bin/chromium with a CJK font, installed by ``scripts/services.sh
chromium``; Playwright cannot download its own browser here), as a member of staff uses it.

``ADMIN_SCREENSHOTS=1 pytest tests/browser`` also saves the main pages as
docs/screenshots/admin-*.png.

Playwright's sync API is used directly rather than through the pytest-playwright plugin: that
plugin, once installed, parametrizes every test of the suite that has a fixture or parameter
named ``page``, ``browser`` or ``context`` with a session-scoped browser name, which renames the
admin's HTTP tests and reorders other tiers' tests across modules.
"""

import itertools
import os
from datetime import time, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import sync_playwright

from app.domain import clock
from app.extensions import db, redis_store
from app.models import Department, Doctor
from app.services import staff as staff_service
from app.services.booking import holds, tickets
from tests import support
from tests.factories import make_department, make_doctor, make_hospital, make_schedule
from tests.integration.committed import make_paid_order, make_patients

PASSWORD = "correct-horse-9"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
_names = itertools.count(1)


@pytest.fixture(scope="package")
def served():
    """The app on a database of its own, served over HTTP on a free port of 127.0.0.1."""
    app = support.testing_app("_browser", redis_offset=3)
    with app.app_context():
        redis_store.client.flushdb()
    with support.ServedApp(app) as server:
        server.app = app
        yield server


@pytest.fixture(scope="package")
def chromium():
    """Debian's Chromium, headless; root in a container needs --no-sandbox."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no {CHROMIUM}: scripts/services.sh chromium installs it (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


def _window(chromium, served, problems):
    """A browser context of its own (no cookies) and its window on the served admin, noting
    every script error and Content-Security-Policy refusal in ``problems``."""
    context = chromium.new_context(
        base_url=served.url,
        locale="zh-CN",
        viewport={"width": 1280, "height": 800},
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    window = context.new_page()

    def refused(message):
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    window.on("console", refused)
    window.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return context, window


@pytest.fixture
def page(chromium, served):
    """A fresh browser window (its own cookies) on the served admin; a script error or a
    Content-Security-Policy refusal on any page fails the test."""
    problems = []
    context, window = _window(chromium, served, problems)
    yield window
    context.close()
    assert problems == []


@pytest.fixture
def another_browser(chromium, served):
    """``another_browser()`` opens a window in a browser of its own, as another machine would
    (no cookie of the test's ``page``), held to the same rules."""
    problems, contexts = [], []

    def open_window():
        context, window = _window(chromium, served, problems)
        contexts.append(context)
        return window

    yield open_window
    for context in contexts:
        context.close()
    assert problems == []


@pytest.fixture
def hospital(served):
    """Two departments of one hospital, each with a doctor and an all-day clinic of today, two
    patients booked on the first (free clinics book at once); ``staff(role)`` makes a hospital,
    department or doctor (of the first clinic) staff member."""
    with served.app.app_context():
        hospital = make_hospital()
        places = []
        for _ in range(2):
            doctor = make_doctor(make_department(hospital))
            schedule = make_schedule(
                doctor,
                on=clock.business_date(clock.now()),
                start_time=time(0, 1),
                end_time=time(23, 59),
                fee_fen=0,
            )
            places.append((doctor, schedule))
        db.session.commit()
        (doctor, mine), (other_doctor, theirs) = places
        orders = []
        for n, (account_id, patient_id) in enumerate(make_patients(2)):
            order, _ = holds.hold_slot(account_id, mine.id, patient_id, f"browser-{mine.id}-{n}")
            code = tickets.ticket(account_id, order.id)["qr_payload"]
            orders.append(SimpleNamespace(id=order.id, seq=order.seq, ticket=code))
        roles = {
            "hospital": ("hospital_admin", {"hospital_id": hospital.id}),
            "department": ("department_admin", {"department_id": doctor.department_id}),
            "doctor": ("doctor", {"doctor_id": doctor.id}),
        }

        def staff(role):
            """A new staff member of ``role`` (hashing a password costs ~0.1 s: only on demand);
            their username."""
            kind, place = roles[role]
            with served.app.app_context():
                member = staff_service.create_staff(
                    f"{role}-{next(_names)}", PASSWORD, kind, **place
                )
                return member.username

        return SimpleNamespace(
            id=hospital.id,
            mine=mine.id,
            theirs=theirs.id,
            doctor_id=doctor.id,
            doctors=(doctor.name, other_doctor.name),
            departments=(
                db.session.get(Department, doctor.department_id).name,
                db.session.get(Department, other_doctor.department_id).name,
            ),
            orders=orders,
            staff=staff,
        )


@pytest.fixture
def paid(served, hospital):
    """An order of tomorrow's clinic of the first doctor, paid 20.00 元 by WeChat Pay (confirmed
    as a verified notify confirms it)."""
    with served.app.app_context():
        doctor = db.session.get(Doctor, hospital.doctor_id)
        tomorrow = clock.business_date(clock.now()) + timedelta(days=1)
        return make_paid_order(doctor, tomorrow)


@pytest.fixture
def sign_in(page):
    """``sign_in(username)`` fills in the sign-in form on the page as a person does and presses
    登录."""

    def fill_in(username, password=PASSWORD):
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()

    return fill_in


@pytest.fixture
def screenshot():
    """``screenshot(page, "login")`` saves docs/screenshots/admin-login.png, only when
    ADMIN_SCREENSHOTS is set (the committed pictures are not rewritten by every test run)."""

    def take(page, name):
        if os.environ.get("ADMIN_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / f"admin-{name}.png", full_page=True)

    return take
