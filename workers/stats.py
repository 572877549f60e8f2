"""Jobs of the statistics: the rollups (stats_daily, stats_hour, stats_payment, stats_burst)
kept fresh."""

from datetime import timedelta

from app.domain import clock
from app.services import stats

RECENT_DAYS = 3  # today and the two days before: late check-ins, no-shows and refunds settle


def rollup_recent():
    """Recompute the rollups of today and the last two days (idempotent): the visit days'
    figures, and the payments and bursts of holds made on those days; the stats_daily rows
    written."""
    today = clock.business_date(clock.now())
    written = 0
    for n in range(RECENT_DAYS):
        day = today - timedelta(days=n)
        written += stats.rollup_day(day)
        stats.rollup_anomalies(day)
    return written
