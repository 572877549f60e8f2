"""Jobs of the statistics: the daily rollup (stats_daily) kept fresh."""

from datetime import timedelta

from app.domain import clock
from app.services import stats

RECENT_DAYS = 3  # today and the two days before: late check-ins, no-shows and refunds settle


def rollup_recent():
    """Recompute the rollup of today and the last two days (idempotent); the rows written."""
    today = clock.business_date(clock.now())
    return sum(stats.rollup_day(today - timedelta(days=n)) for n in range(RECENT_DAYS))
