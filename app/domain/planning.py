"""Rules of the week's plan: weekly templates (排班模板) and doctors' requests (停诊 / 调诊申请)."""

from datetime import date, timedelta
from enum import StrEnum

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class RequestKind(StrEnum):
    """What a doctor asks of their schedule: to stop its clinic, or to change its capacity."""

    STOP = "stop"
    CHANGE = "change"

    @property
    def label(self):
        return {RequestKind.STOP: "停诊", RequestKind.CHANGE: "调诊"}[self]


class RequestStatus(StrEnum):
    """Where a doctor's request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"

    @property
    def label(self):
        return {
            RequestStatus.PENDING: "待审批",
            RequestStatus.APPROVED: "已批准",
            RequestStatus.REFUSED: "已驳回",
        }[self]


def coming_days(today: date, window_days: int, weekday: int) -> list[date]:
    """The days from tomorrow to ``window_days`` + 1 after ``today`` falling on ``weekday`` (0 is
    Monday): a template's schedules, made a day before the window reaches them so that each
    exists before its release."""
    days = (today + timedelta(days=n) for n in range(1, window_days + 2))
    return [day for day in days if day.weekday() == weekday]
