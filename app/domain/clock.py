"""Business time: dates and clock times are those of the hospitals, China Standard Time."""

from datetime import UTC, date, datetime
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
