"""Jobs of the statistics: the rollups (stats_daily, stats_hour, stats_payment, stats_burst)
kept fresh."""

from datetime import timedelta

from app.domain import clock
from app.services import stats

RECENT_DAYS = 3  # today and the two days before: late check-ins, no-shows and refunds settle


def rollup_recent():
    """Recompute the rollups that can still change (idempotent): the figures of every visit day
    from two days ago to the last day any hospital books now (patients book and cancel ahead),
    and the payments and bursts of holds made today and the two days before; the stats_daily
    rows written."""
    today = clock.business_date(clock.now())
    first = today - timedelta(days=RECENT_DAYS - 1)
    written = 0
    for n in range((stats.last_bookable_day(today) - first).days + 1):
        written += stats.rollup_day(first + timedelta(days=n))
    for n in range(RECENT_DAYS):
        stats.rollup_anomalies(today - timedelta(days=n))
    return written
