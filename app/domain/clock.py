"""Business time: dates and clock times are those of the hospitals, China Standard Time."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current moment, aware, in China Standard Time."""
    return datetime.now(UTC).astimezone(CHINA_TZ)


def business_date(moment: datetime) -> date:
    """The calendar date in China at ``moment``."""
    return moment.astimezone(CHINA_TZ).date()


def to_china(moment: datetime) -> datetime:
    """``moment`` shown with the +08:00 offset."""
    return moment.astimezone(CHINA_TZ)


def day_end(day: date) -> datetime:
    """The end of ``day`` in China: the next day's 00:00."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA_TZ)
