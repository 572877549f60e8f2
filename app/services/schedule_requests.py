"""停诊 / 调诊申请: a doctor asks to stop a clinic of theirs or change its capacity or its times;
an admin in scope approves (the stop-clinic or change-schedule service does it) or refuses with a
note."""

from dataclasses import dataclass

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import ScheduleStatus
from app.domain.planning import RequestKind, RequestStatus
from app.domain.staff import Scope
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Schedule, ScheduleRequest
from app.services import audit, schedules, stop_clinic
from app.services.scoping import get_in_scope, scoped
from app.services.transaction import lock_one, transaction

TEXT_MAX = 200


def _text(value) -> str:
    return " ".join(str(value or "").split())


def _pending_conflict(error=None):
    return Conflict("该出诊已有待审批的申请", code="request_pending")


def make_request(
    scope: Scope, schedule_id, kind, reason, capacity=None, start=None, end=None, staff=None
):
    """A doctor's request to stop their schedule's clinic or change it: its capacity, its start
    and end times, or both; a schedule has one pending request at most."""
    try:
        kind = RequestKind(kind)
    except ValueError:
        raise ValidationFailed.on("kind", "请选择停诊或调诊") from None
    reason = _text(reason)
    if not reason or len(reason) > TEXT_MAX:
        raise ValidationFailed.on("reason", f"请填写申请原因（1–{TEXT_MAX} 字）")
    if kind == RequestKind.STOP:
        capacity = start = end = None
    elif capacity is not None and not 1 <= capacity <= schedules.MAX_CAPACITY:
        raise ValidationFailed.on("capacity", f"新的号源数须为 1–{schedules.MAX_CAPACITY}")
    with transaction(on_conflict=_pending_conflict):
        schedule = get_in_scope(Schedule, schedule_id, scope, lock=True)
        if schedule.status == ScheduleStatus.STOPPED:
            raise Conflict("该出诊已停诊", code="schedule_stopped")
        if schedule.date < clock.business_date(clock.now()):
            raise Conflict("该出诊已结束", code="schedule_past")
        if kind == RequestKind.CHANGE:
            start, end = _asked_times(schedule, start, end)
            if capacity == schedule.capacity:
                capacity = None
            if capacity is None and start is None:
                raise ValidationFailed.on("capacity", "请填写新的号源数或新的出诊时间")
        if pending_of(schedule.id) is not None:
            raise _pending_conflict()
        made = ScheduleRequest(
            schedule_id=schedule.id,
            kind=kind,
            reason=reason,
            capacity=capacity,
            start_time=start,
            end_time=end,
            status=RequestStatus.PENDING,
            pending_schedule_id=schedule.id,
            requested_by=staff.id,
            note="",
        )
        db.session.add(made)
        db.session.flush()
        asked = {"schedule": schedule.id, "reason": reason, "capacity": capacity}
        if start is not None:
            asked |= {
                "start_time": start.isoformat("minutes"),
                "end_time": end.isoformat("minutes"),
            }
        audit.record(staff, f"request_{kind}", made, after=asked)
    return made


def _asked_times(schedule: Schedule, start, end) -> tuple:
    """The start and end a change asks for (one left out stays as it is), or (None, None) when
    they do not move; refused when the end would not be after the start."""
    if start is None and end is None:
        return None, None
    start, end = start or schedule.start_time, end or schedule.end_time
    if end <= start:
        raise ValidationFailed.on("end_time", "结束时间须晚于开始时间")
    if (start, end) == (schedule.start_time, schedule.end_time):
        return None, None
    return start, end


def pending_of(schedule_id) -> ScheduleRequest | None:
    """The schedule's pending request, if it has one."""
    return db.session.scalar(
        sa.select(ScheduleRequest).where(ScheduleRequest.pending_schedule_id == schedule_id)
    )


def of_schedule(schedule_id) -> list[ScheduleRequest]:
    """Every request of a schedule, newest first."""
    return db.session.scalars(
        sa.select(ScheduleRequest)
        .where(ScheduleRequest.schedule_id == schedule_id)
        .order_by(ScheduleRequest.id.desc())
    ).all()


def pending(scope: Scope) -> list[ScheduleRequest]:
    """The pending requests of the schedules in scope, oldest first."""
    return db.session.scalars(
        scoped(
            sa.select(ScheduleRequest)
            .join(Schedule, Schedule.id == ScheduleRequest.schedule_id)
            .where(ScheduleRequest.status == RequestStatus.PENDING)
            .order_by(ScheduleRequest.id),
            Schedule,
            scope,
        )
    ).all()


def _pending_in_scope(scope: Scope, request_id, lock=False) -> ScheduleRequest:
    statement = sa.select(ScheduleRequest).where(ScheduleRequest.id == request_id)
    found = lock_one(statement) if lock else db.session.scalar(statement)
    if found is None:
        raise NotFound("未找到该申请")
    get_in_scope(Schedule, found.schedule_id, scope)  # another department's: 404
    if found.status != RequestStatus.PENDING:
        raise Conflict(f"该申请{found.status.label}", code="request_decided")
    return found


@dataclass
class Decision:
    """An approval's outcome: the request, and the stop's result for a stop."""

    request: ScheduleRequest
    stopped: stop_clinic.StopResult | None = None


def approve(scope: Scope, request_id, note="", staff=None) -> Decision:
    """Approve a pending request: a stop through the stop-clinic service (orders cancelled and
    refunded), a change through change_schedule; then the request is marked approved."""
    note = _text(note)[:TEXT_MAX]
    found = _pending_in_scope(scope, request_id)
    schedule_id, kind, reason, capacity = (
        found.schedule_id,
        found.kind,
        found.reason,
        found.capacity,
    )
    start, end = found.start_time, found.end_time
    db.session.rollback()
    stopped = None
    if kind == RequestKind.STOP:
        stopped = stop_clinic.stop_clinic(schedule_id, reason, staff.username, staff=staff)
    else:
        schedules.change_schedule(
            scope,
            schedule_id,
            capacity=capacity,
            start=start,
            end=end,
            staff=staff,
        )
    decided = _decide(scope, request_id, RequestStatus.APPROVED, note, staff)
    return Decision(decided, stopped)


def refuse(scope: Scope, request_id, note, staff=None) -> ScheduleRequest:
    """Refuse a pending request, with a note for the doctor."""
    note = _text(note)
    if not note or len(note) > TEXT_MAX:
        raise ValidationFailed.on("note", f"请填写驳回说明（1–{TEXT_MAX} 字）")
    return _decide(scope, request_id, RequestStatus.REFUSED, note, staff)


def _decide(scope, request_id, status, note, staff) -> ScheduleRequest:
    with transaction():
        found = _pending_in_scope(scope, request_id, lock=True)
        found.status = status
        found.pending_schedule_id = None
        found.decided_by = staff.id
        found.decided_at = clock.now()
        found.note = note
        audit.record(
            staff,
            "approve_request" if status == RequestStatus.APPROVED else "refuse_request",
            found,
            before={"schedule": found.schedule_id, "status": str(RequestStatus.PENDING)},
            after={
                "schedule": found.schedule_id,
                "status": str(status),
                "kind": str(found.kind),
                "note": note,
            },
        )
    return found
