"""The one place where a slot's state changes, and where the gate and the cache hear of it."""

import sqlalchemy as sa

from app.domain import booking as rules
from app.domain import clock
from app.domain.enums import ScheduleStatus, SlotState
from app.errors import AppError
from app.extensions import db, per_app
from app.infra import cache, gate
from app.infra.groupcommit import OneAtATime
from app.infra.packedsql import PackedSelect
from app.models import Order, Schedule, Slot
from app.models.types import utcnow
from app.services.booking import checks

_slot = Slot.__table__.c


def admit(schedule_id, refuse_sold_out=True) -> bool:
    """Take a gate token before any MySQL work; whether one was taken (False: no gate to ask).

    Sold out per the gate → slot_sold_out at once (the issue allows it before the other rules),
    unless ``refuse_sold_out`` is False. A missing counter is built from MySQL first, unless the
    schedule has no slots at all (an unknown id, which the rules then answer with not_found).
    """
    admitted = gate.take(schedule_id)
    if admitted is None:
        # A cold counter meets dozens of holds at once at 07:00: one thread of the process
        # counts, the others wait for its count instead of each making MySQL count too.
        per_app("gate_rebuilds", lambda config: OneAtATime()).run(
            schedule_id, lambda: _rebuild_gate(schedule_id)
        )
        admitted = gate.take(schedule_id)
    if admitted is False and refuse_sold_out:
        raise checks.refusal(rules.sold_out())
    return bool(admitted)


def _rebuild_gate(schedule_id):
    """Set a missing counter from MySQL's count of free numbers (none for an unknown or a
    stopped schedule: the rules answer those)."""
    total, free = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.case((Slot.state == SlotState.FREE, 1))),
        )
        .join(Schedule, Schedule.id == Slot.schedule_id)
        .where(Slot.schedule_id == schedule_id, Schedule.status == ScheduleStatus.OPEN)
    ).one()
    db.session.rollback()
    if total:
        gate.rebuild(schedule_id, free)


def free_count(schedule_id) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Slot)
        .where(Slot.schedule_id == schedule_id, Slot.state == SlotState.FREE)
    )


class NoneLeft(AppError):
    """slot_sold_out found in MySQL, which set the gate to 0: the taker's token is spent."""


def give_back(token, schedule_id, error=None):
    # After NoneLeft the counter is MySQL's 0; a give-back would count a number that is not
    # there (one taken meanwhile by a hold that had no token, e.g. while the counter was rebuilt).
    if token and not isinstance(error, NoneLeft):
        gate.give_back(schedule_id)


# The lowest free slots nobody else is taking.
FREE_SLOTS = PackedSelect(
    sa.select(_slot.id, _slot.seq, _slot.suggested_time)
    .where(_slot.schedule_id == sa.bindparam("schedule_id"), _slot.state == SlotState.FREE)
    .order_by(_slot.seq)
    .limit(sa.bindparam("count", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)
# Mark slots ``state``: the group of holds, and a reschedule's new number.
MARK_SLOTS = (
    sa.update(Slot.__table__)
    .where(_slot.id.in_(sa.bindparam("slot_ids", expanding=True)))
    .values(state=sa.bindparam("state"), updated_at=sa.bindparam("updated_at"))
)


def _run(statement, params):
    """A prebuilt statement on the session's connection, in its transaction."""
    return db.session.connection().execute(statement, params)


def read_rows(packed: PackedSelect, params) -> list:
    """The rows of a prebuilt read, on the session's connection, in its transaction."""
    return packed.rows(db.session.connection(), params)


def take_number(schedule_id, state: SlotState):
    """Lock the lowest free slot nobody else is taking and mark it ``state``; its (id, seq,
    suggested_time). slot_sold_out (and the gate told so) when none is left."""
    slot = next(iter(read_rows(FREE_SLOTS, {"schedule_id": schedule_id, "count": 1})), None)
    if slot is None:
        gate.reset(schedule_id, 0)
        raise checks.refusal(rules.sold_out(), NoneLeft)
    _run(MARK_SLOTS, {"slot_ids": [slot.id], "state": state, "updated_at": utcnow()})
    return slot


def book_slot(order: Order):
    """Mark the order's held slot booked, once it is paid (the caller commits)."""
    db.session.execute(
        sa.update(Slot)
        .where(Slot.id == order.slot_id, Slot.state == SlotState.HELD)
        .values(state=SlotState.BOOKED, updated_at=clock.now())
    )


def release_slot(order: Order):
    """Free the order's slot, if the order still has it (the caller commits)."""
    db.session.execute(
        sa.update(Slot)
        .where(Slot.id == order.slot_id, Slot.state.in_([SlotState.HELD, SlotState.BOOKED]))
        .values(state=SlotState.FREE, updated_at=clock.now())
    )


def released(order: Order):
    """After the commit that freed an order's number: the gate and the cache hear of it."""
    gate.give_back(order.schedule_id)
    cache.invalidate_department(order.department_id)
