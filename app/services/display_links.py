"""候诊屏链接: a read-only link to a schedule's waiting-room display, for a screen on the wall that
holds no staff session. The key in it is signed with the app's secret (its own salt), names the
schedule and its visit day, and opens that display only, until the day ends in China time."""

from dataclasses import dataclass
from datetime import date, datetime

from itsdangerous import BadData, URLSafeSerializer

from app.domain import clock
from app.domain.enums import ScheduleStatus
from app.domain.staff import Scope
from app.errors import Conflict, NotFound
from app.extensions import db, per_app
from app.models import Schedule
from app.services import audit
from app.services.scoping import get_in_scope
from app.services.transaction import transaction

SALT = "admin-display-link"


def _serializer() -> URLSafeSerializer:
    return per_app(
        "display_link_serializer",
        lambda config: URLSafeSerializer(config["SECRET_KEY"], salt=SALT),
    )


def valid_until(day: date) -> datetime:
    """The end of a visit day in China time: when its display links stop working."""
    return clock.day_end(day)


@dataclass(frozen=True)
class DisplayLink:
    """A display link's key, its visit day and the moment it stops working."""

    key: str
    day: date
    until: datetime


def create_link(scope: Scope, schedule_id, staff=None, now=None) -> DisplayLink:
    """A key opening the display of a schedule in scope until the end of its visit day; refused
    for a stopped clinic or a past day. Audited (the key itself is not kept)."""
    now = now or clock.now()
    with transaction():
        schedule = get_in_scope(Schedule, schedule_id, scope)
        if schedule.status == ScheduleStatus.STOPPED:
            raise Conflict("该出诊已停诊，无需候诊屏", code="schedule_stopped")
        until = valid_until(schedule.date)
        if now >= until:
            raise Conflict("该出诊已结束", code="schedule_past")
        key = _serializer().dumps({"s": schedule.id, "d": schedule.date.isoformat()})
        audit.record(
            staff, "create_display_link", schedule, after={"valid_until": until.isoformat()}
        )
    return DisplayLink(key, schedule.date, until)


def schedule_of_key(schedule_id, key, now=None) -> Schedule:
    """The schedule a display key opens, if it is that of ``schedule_id`` and its day has not
    ended; 404 otherwise (a wrong schedule, a tampered or an expired key alike)."""
    now = now or clock.now()
    gone = NotFound("未找到该页面或记录")
    try:
        payload = _serializer().loads(key or "")
        named, day = int(payload["s"]), date.fromisoformat(payload["d"])
    except (BadData, KeyError, TypeError, ValueError):
        raise gone from None
    if named != schedule_id or now >= valid_until(day):
        raise gone
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or schedule.date != day:
        raise gone
    return schedule
