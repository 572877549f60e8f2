"""bench/admin_stats.py at a tiny size: its bulk seed over MariaDB's sequence engine, the
rollups of its days agreeing with the orders, and its measuring of the pages (through Flask's
test client instead of gunicorn)."""

import sqlalchemy as sa

from app.domain.orders import BOOKED_OR_LATER
from app.extensions import db
from app.models import Order, Payment, StatsDaily, StatsHour
from app.services import staff as staff_service
from bench import admin_stats
from tests import support
from tests.e2e.test_admin import Browser


def test_the_benchmark_seeds_rolls_up_and_measures_a_small_year():
    app = support.testing_app("_stats_bench", redis_offset=2)
    with app.app_context():
        year = admin_stats.seed_year(2000, days=10, departments=2, doctors=3, patients=50)
        assert (year.orders, year.schedules, year.payments) == (2000, 120, 2000)
        _, days = admin_stats.rollup_year(year)
        assert days == 17  # the ten visit days and the week before, when orders were made
        booked = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Order)
            .where(Order.hospital_id == year.hospital_id, Order.status.in_(BOOKED_OR_LATER))
        )
        paid = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Payment)
            .join(Order, Order.id == Payment.order_id)
            .where(Order.hospital_id == year.hospital_id, Payment.status == "paid")
        )
        rolled = db.session.execute(
            sa.select(
                sa.func.sum(StatsDaily.bookings),
                sa.func.sum(StatsDaily.payments_wechat + StatsDaily.payments_alipay),
            ).where(StatsDaily.hospital_id == year.hospital_id)
        ).one()
        hours = db.session.scalar(
            sa.select(sa.func.sum(StatsHour.orders)).where(
                StatsHour.hospital_id == year.hospital_id
            )
        )
        assert 0 < booked < 2000 and (int(rolled[0]), int(rolled[1])) == (booked, paid)
        assert int(hours) == 2000
        staff_service.create_staff(
            "bench-admin", admin_stats.PASSWORD, "hospital_admin", hospital_id=year.hospital_id
        )
    browser = Browser(app)
    assert browser.login("bench-admin", admin_stats.PASSWORD).status_code == 302

    def get(path):
        return browser.client.get(path).status_code

    timings = admin_stats.measure(get, year, requests=2)
    assert [timing.name for timing in timings] == [name for name, _ in admin_stats.pages(year)]
    assert all(timing.count == 2 and timing.failures == 0 for timing in timings)
