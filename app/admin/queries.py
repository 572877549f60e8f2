"""What an admin page's query string may ask for: one of some choices, a number in a range, a
record's id, a day. Anything else is a 400 page saying what was wrong, never a 500."""

from datetime import date

from flask import request

from app.domain import clock
from app.errors import AppError

# The days a page may be asked about: years of records behind, years of plans ahead, and far from
# the calendar's ends, which a week or a run of months counted from the day would pass.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)


class BadQuery(AppError):
    status = 400
    code = "bad_query"
    message = "查询条件有误"


def choice(name, allowed, default, label):
    value = request.args.get(name) or default
    if value not in allowed:
        raise BadQuery(f"{label}只能是 {' / '.join(allowed)}")
    return value


def number(name, default, low, high, label):
    value = _whole(request.args.get(name) or str(default))
    if value is None or not low <= value <= high:
        raise BadQuery(f"{label}须为 {low}–{high} 的整数")
    return value


def record_id(name, label):
    text = request.args.get(name)
    if not text:
        return None
    value = _whole(text)
    if value is None or not 0 < value < 2**63:
        raise BadQuery(f"{label}编号有误")
    return value


def _whole(text) -> int | None:
    """A whole number in at most 19 ASCII digits (any id fits), or None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    return int(text)


def day(name, *, today_by_default=True) -> date | None:
    """The day asked for as YYYY-MM-DD; when none is, today in China (or None)."""
    text = request.args.get(name)
    if not text:
        return clock.business_date(clock.now()) if today_by_default else None
    try:
        asked = date.fromisoformat(text)
    except ValueError:
        raise BadQuery("日期格式应为 YYYY-MM-DD") from None
    if not EARLIEST_DAY <= asked <= LATEST_DAY:
        raise BadQuery(f"日期须在 {EARLIEST_DAY} 至 {LATEST_DAY} 之间")
    return asked
