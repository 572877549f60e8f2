"""Booking: hold a numbered slot, let it expire, cancel it, move it, show it.

Capacity is decided in MySQL. A hold takes the lowest free slot of the schedule with
``SELECT … FOR UPDATE SKIP LOCKED`` and marks it held in the same transaction as the order insert,
so concurrent holds never wait on each other's rows and never share a slot; unique keys on active
orders (one per slot, one per patient, doctor and day) back it up. The Redis gate (app/gate.py)
only keeps the hopeless away from MySQL. Holds of one account are serialised by a lock on the
account row, which is what makes the per-account limits exact.

Holds that threads of one process ask for at the same moment are decided and written together,
in one transaction of a fixed handful of statements (group commit, app/groupcommit.py): on a
release morning MySQL sees one commit per group instead of one per patient, and the group's
statements go in three round trips (app/sqlbatch.py).

Side effects (the expiry timer, gate tokens, cache invalidation) happen after the commit.
"""

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import cache, gate, queue
from app.crypto import TicketSigner
from app.domain import booking as rules
from app.domain import clock
from app.domain import refunds as refund_rules
from app.domain.enums import SlotState
from app.domain.orders import ACTIVE_STATUSES, CancelledBy, OrderStatus
from app.errors import AppError, Conflict, NotFound
from app.extensions import db, per_app, redis_store
from app.groupcommit import GroupCommit, OneAtATime, arrivals
from app.models import Account, Department, Doctor, Hospital, Order, Patient, Schedule, Slot
from app.models.types import utcnow
from app.packedsql import PackedSelect, read_together
from app.services import auth
from app.services.pagination import Page, paginate
from app.services.transaction import lock_one, transaction
from app.sqlbatch import InsertRows, run_together

log = logging.getLogger(__name__)

# HTTP status of each refusal code.
_STATUS = {
    "schedule_stopped": 409,
    "not_released": 409,
    "outside_booking_window": 409,
    "not_eligible": 422,
    "account_blocked": 403,
    "duplicate_booking": 409,
    "booking_limit": 429,
    "slot_sold_out": 409,
}


def _refusal(refused: rules.BookingRefused, kind=AppError) -> AppError:
    extra = {
        key: clock.to_china(value).isoformat() if isinstance(value, datetime) else value
        for key, value in refused.extra.items()
    }
    return kind(refused.message, code=refused.code, status=_STATUS[refused.code], **extra)


def _fingerprint(schedule_id, patient_id) -> str:
    return hashlib.sha256(f"hold:{schedule_id}:{patient_id}".encode()).hexdigest()


def expire_job_id(order_id) -> str:
    """The stable id of an order's expiry timer."""
    return f"expire-order-{order_id}"


def _visit_end(schedule: Schedule) -> datetime:
    return datetime.combine(schedule.date, schedule.end_time, tzinfo=clock.CHINA_TZ)


def _load_schedule(schedule_id) -> tuple[Schedule, Department, Hospital]:
    """The schedule with its doctor, department and hospital, in one query."""
    row = db.session.execute(
        sa.select(Schedule, Department, Hospital)
        .join(Department, Department.id == Schedule.department_id)
        .join(Hospital, Hospital.id == Department.hospital_id)
        .options(joinedload(Schedule.doctor))
        .where(Schedule.id == schedule_id)
    ).first()
    if row is None:
        raise NotFound("未找到该出诊安排")
    return tuple(row)


def _check_schedule(schedule: Schedule, hospital: Hospital, now: datetime):
    rules.check_schedule(
        now=now,
        today=clock.business_date(now),
        status=schedule.status,
        release_at=schedule.release_at,
        visit_date=schedule.date,
        visit_end=_visit_end(schedule),
        window_days=hospital.booking_window_days,
    )


def _check_eligibility(department: Department, patient: Patient, visit_date):
    rules.check_eligibility(
        sex_rule=department.sex_rule,
        min_age=department.min_age,
        max_age=department.max_age,
        patient_sex=patient.sex,
        birth_date=patient.birth_date,
        visit_date=visit_date,
    )


def _has_active(*criteria) -> bool:
    statement = sa.select(Order.id).where(Order.active.is_(True), *criteria).limit(1)
    return db.session.scalar(statement) is not None


def _admit(schedule_id, refuse_sold_out=True) -> bool:
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
        raise _refusal(rules.sold_out())
    return bool(admitted)


def _rebuild_gate(schedule_id):
    """Set a missing counter from MySQL's count of free numbers (none for an unknown schedule)."""
    total, free = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.case((Slot.state == SlotState.FREE, 1))),
        ).where(Slot.schedule_id == schedule_id)
    ).one()
    db.session.rollback()
    if total:
        gate.rebuild(schedule_id, free)


def _free_count(schedule_id) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Slot)
        .where(Slot.schedule_id == schedule_id, Slot.state == SlotState.FREE)
    )


def _lock_account(account_id) -> Account:
    return lock_one(sa.select(Account).where(Account.id == account_id))


def hold_slot(
    caller, schedule_id, patient_id, idempotency_key, now=None
) -> tuple["Order | HeldOrder", bool]:
    """Hold the lowest free number of a schedule for one of the caller's patients.

    ``caller`` is an account id, or an auth.Principal whose token is checked against revocation
    on the locked account row. Returns the order (pending_payment, expiring after the
    hospital's hold minutes) and whether it was created now; a retry with the same idempotency
    key and body returns the first order.

    Holds that threads of this process ask for at the same moment share one transaction (see
    app/groupcommit.py); each is decided exactly as if it were alone.
    """
    now = now or clock.now()
    account_id = getattr(caller, "id", caller)
    # One Redis round trip before any MySQL work: a retry of a hold that succeeded is let
    # through to find its order, a schedule the gate knows is sold out is refused at once (a
    # revoked token may be told "sold out" too; nothing is ever booked for one), and everyone
    # else takes a token, given back if the hold fails.
    try:
        admission = gate.admit(account_id, idempotency_key, schedule_id)
        if admission is gate.Admission.SOLD_OUT:
            raise _refusal(rules.sold_out())
        token = admission is gate.Admission.ADMITTED
        if admission is gate.Admission.UNKNOWN:
            # Redis lost the counter, and with it perhaps this retry's replay key: MySQL answers
            # (the order of a retry, else the slot rows say sold out).
            token = _admit(schedule_id, refuse_sold_out=False)
    except BaseException:
        arrivals.end()  # this thread joins no group: a group's leader need not wait for it
        raise
    request = _HoldRequest(caller, account_id, schedule_id, patient_id, idempotency_key, now, token)
    groups = _hold_groups()
    outcome = groups.submit(request)
    if outcome is _ALONE:
        arrivals.end()  # nor does a hold that runs again by itself
        outcome = groups.run_alone(request)
    if isinstance(outcome, _Replay):
        return get_order(account_id, outcome.order_id), False
    return outcome, True


@dataclass(frozen=True, slots=True)
class _HoldRequest:
    caller: object  # an account id or an auth.Principal
    account_id: int
    schedule_id: int
    patient_id: int
    idempotency_key: str
    now: datetime
    token: bool  # a gate token was taken: given back if the hold fails


@dataclass(frozen=True, slots=True)
class _Replay:
    """The idempotency key already made this order."""

    order_id: int


# Run the request again, by itself: its group failed as a whole (a deadlock, a unique key), or
# an earlier hold of the same account was in it (what this one may do depends on that one).
_ALONE = object()


def _hold_groups() -> GroupCommit:
    # Two threads building it at once is harmless: each group still has one leader, and the
    # row locks keep concurrent groups apart as they keep concurrent processes apart.
    return per_app(
        "hold_groups",
        lambda config: GroupCommit(
            _hold_group,
            config["HOLD_GROUP_SIZE"],
            _after_group,
            linger=config["HOLD_GROUP_LINGER_MS"] / 1000,
        ),
    )


def _hold_group(requests) -> list:
    """Decide and write a group of holds in one transaction. Per request, in order: the new
    Order, a _Replay, _ALONE, or the error to raise. _after_group follows it."""
    try:
        with transaction(on_conflict=_integrity_refusal):
            outcomes = _decide(requests)
            created = [outcome for outcome in outcomes if isinstance(outcome, HeldOrder)]
            if created:
                _save(created)
    except Exception as error:
        if len(requests) > 1:
            log.warning("a group of %d holds failed (%r); each runs alone", len(requests), error)
            return [_ALONE] * len(requests)
        return [error]
    return outcomes


def _after_group(requests, outcomes):
    """After the group's transaction: tokens back for the holds that failed; the gate, replay
    keys, timers and cache for those that were made. The leader runs it once the others are
    answered, so their timers and replay keys follow their 201s by a few milliseconds (a cancel
    in between finds no timer to remove; the timer then finds the order closed and does nothing)."""
    created = []
    for request, outcome in zip(requests, outcomes, strict=True):
        if isinstance(outcome, HeldOrder):
            created.append((request, outcome))
        elif outcome is not _ALONE:
            _give_back(
                request.token,
                request.schedule_id,
                outcome if isinstance(outcome, BaseException) else None,
            )
    if created:
        _after_holds(created)


class _NoneLeft(AppError):
    """slot_sold_out found in MySQL, which set the gate to 0: the taker's token is spent."""


def _give_back(token, schedule_id, error=None):
    # After _NoneLeft the counter is MySQL's 0; a give-back would count a number that is not
    # there (one taken meanwhile by a hold that had no token, e.g. while the counter was rebuilt).
    if token and not isinstance(error, _NoneLeft):
        gate.give_back(schedule_id)


def _integrity_refusal(error: IntegrityError) -> AppError:
    text = str(error.orig)
    if "uq_orders_idempotency" in text:
        return Conflict("该请求正在处理，请稍后查看订单", code="idempotency_conflict")
    if "uq_orders_active_slot" in text:
        return _refusal(rules.sold_out())
    return _refusal(
        rules.BookingRefused("duplicate_booking", "该就诊人当天已预约该医生，请勿重复预约")
    )


# Holds run on release mornings, so they run prebuilt Core statements on the tables (no ORM
# compilation, no objects loaded), each once per group whatever its size: the locked accounts
# with their patients, the accounts' orders that the rules ask about, the schedules with all the
# rules and the answer need (these three sent together), the free slots, then one insert of the
# orders and one update of the slots (sent together): three round trips and the commit on MySQL
# (app/sqlbatch.py). MariaDB runs statements sent together in order, as if sent one by one, so
# the orders are read once their accounts are locked, each read seeing what was committed when
# it began (READ COMMITTED).
_account, _order, _slot = Account.__table__.c, Order.__table__.c, Slot.__table__.c
_schedule, _department = Schedule.__table__.c, Department.__table__.c
_hospital, _doctor, _patient = Hospital.__table__.c, Doctor.__table__.c, Patient.__table__.c

# The accounts, in id order so that groups locking some of the same accounts never deadlock on
# them, each with those of the asked-for patients that are its own and live (locked too, after
# their account, as the patient service locks them).
_LOCK_ACCOUNTS = PackedSelect(
    sa.select(
        _account.id,
        _account.token_version,
        _account.status,
        _account.blocked_until,
        _patient.id.label("patient_id"),
        _patient.name.label("patient_name"),
        _patient.id_number_masked,
        _patient.sex,
        _patient.birth_date,
    )
    .outerjoin_from(
        Account.__table__,
        Patient.__table__,
        sa.and_(
            _patient.account_id == _account.id,
            _patient.id.in_(sa.bindparam("patient_ids", expanding=True)),
            _patient.live.is_(True),
        ),
    )
    .where(_account.id.in_(sa.bindparam("account_ids", expanding=True)))
    .order_by(_account.id)
    .with_for_update()
)

# The accounts' orders with one of these idempotency keys, their orders created since the day
# began (the daily limit) and their active ones (duplicates, departments per day).
_ACCOUNT_ORDERS = PackedSelect(
    sa.select(
        _order.id,
        _order.account_id,
        _order.idempotency_key,
        _order.request_fingerprint,
        _order.patient_id,
        _order.doctor_id,
        _order.department_id,
        _order.visit_date,
        _order.active,
        _order.created_at,
    ).where(
        _order.account_id.in_(sa.bindparam("account_ids", expanding=True)),
        sa.or_(
            _order.idempotency_key.in_(sa.bindparam("idempotency_keys", expanding=True)),
            _order.created_at >= sa.bindparam("day_start", type_=_order.created_at.type),
            _order.active.is_(True),
        ),
    )
)

# Columns named as the rules ask for a schedule and a department.
_SCHEDULES = PackedSelect(
    sa.select(
        _schedule.id,
        _schedule.doctor_id,
        _schedule.department_id,
        _schedule.date,
        _schedule.period,
        _schedule.end_time,
        _schedule.status,
        _schedule.release_at,
        _schedule.fee_fen,
        _department.hospital_id,
        _department.name.label("department_name"),
        _department.location,
        _department.sex_rule,
        _department.min_age,
        _department.max_age,
        _hospital.name.label("hospital_name"),
        _hospital.booking_window_days,
        _hospital.hold_minutes,
        _hospital.max_holds_per_day,
        _hospital.max_departments_per_patient_per_day,
        _doctor.name.label("doctor_name"),
        _doctor.title.label("doctor_title"),
    )
    .join(Department.__table__, _department.id == _schedule.department_id)
    .join(Hospital.__table__, _hospital.id == _department.hospital_id)
    .join(Doctor.__table__, _doctor.id == _schedule.doctor_id)
    .where(_schedule.id.in_(sa.bindparam("schedule_ids", expanding=True)))
)

# The lowest free slots nobody else is taking.
_FREE_SLOTS = PackedSelect(
    sa.select(_slot.id, _slot.seq, _slot.suggested_time)
    .where(_slot.schedule_id == sa.bindparam("schedule_id"), _slot.state == SlotState.FREE)
    .order_by(_slot.seq)
    .limit(sa.bindparam("count", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)
_MARK_SLOTS = (
    sa.update(Slot.__table__)
    .where(_slot.id.in_(sa.bindparam("slot_ids", expanding=True)))
    .values(state=sa.bindparam("state"), updated_at=sa.bindparam("updated_at"))
)


def _run(statement, params):
    """A prebuilt statement on the session's connection, in its transaction."""
    return db.session.connection().execute(statement, params)


def _read(packed: PackedSelect, params) -> list:
    """The rows of a prebuilt read, on the session's connection, in its transaction."""
    return packed.rows(db.session.connection(), params)


def _day_start(now) -> datetime:
    return datetime.combine(clock.business_date(now), time.min, clock.CHINA_TZ)


def _decide(requests) -> list:
    """Every rule of every request in order, then numbers for those that passed."""
    account_ids = sorted({request.account_id for request in requests})
    patient_ids = sorted({request.patient_id for request in requests})
    schedule_ids = sorted({request.schedule_id for request in requests})
    locked, their_orders, their_schedules = read_together(
        db.session.connection(),
        [
            (_LOCK_ACCOUNTS, {"account_ids": account_ids, "patient_ids": patient_ids}),
            (
                _ACCOUNT_ORDERS,
                {
                    "account_ids": account_ids,
                    "idempotency_keys": sorted({request.idempotency_key for request in requests}),
                    "day_start": min(_day_start(request.now) for request in requests),
                },
            ),
            (_SCHEDULES, {"schedule_ids": schedule_ids}),
        ],
    )
    accounts, patients = {}, {}  # a patient's row is its account's row
    for row in locked:
        accounts[row.id] = row
        if row.patient_id is not None:
            patients[row.patient_id] = row
    orders = defaultdict(list)
    for row in their_orders:
        orders[row.account_id].append(row)
    schedules = {row.id: row for row in their_schedules}

    outcomes, seen, passed = [], set(), defaultdict(list)
    for index, request in enumerate(requests):
        if request.account_id in seen:
            outcomes.append(_ALONE)
            continue
        seen.add(request.account_id)
        try:
            outcome = _check(
                request,
                accounts.get(request.account_id),
                orders[request.account_id],
                schedules.get(request.schedule_id),
                patients.get(request.patient_id),
            )
        except AppError as error:
            outcome = error
        outcomes.append(outcome)
        if outcome is None:
            passed[request.schedule_id].append(index)

    for schedule_id, indexes in passed.items():
        schedule = schedules[schedule_id]
        shown = _shown_with(schedule)
        slots = _read(_FREE_SLOTS, {"schedule_id": schedule_id, "count": len(indexes)})
        if len(slots) < len(indexes):
            gate.reset(schedule_id, 0)
        for position, index in enumerate(indexes):
            if position >= len(slots):
                outcomes[index] = _refusal(rules.sold_out(), _NoneLeft)
                continue
            request = requests[index]
            outcomes[index] = _new_order(
                request, schedule, patients[request.patient_id], slots[position], shown
            )
    return outcomes


def _check(request, account, orders, schedule, patient) -> _Replay | None:
    """Check every rule in order (raising the refusal); a _Replay for a retry, else None."""
    if account is None:
        raise auth.Unauthorized("登录已失效，请重新登录")
    if isinstance(request.caller, auth.Principal):
        # The locked row is the truth about a revoked token or a frozen account.
        auth.ensure_state(request.caller, account.token_version, account.status)
    # Keys compare as the unique key does (case-insensitive collation).
    key = request.idempotency_key.casefold()
    existing = next((o for o in orders if o.idempotency_key.casefold() == key), None)
    if existing is not None:
        if existing.request_fingerprint != _fingerprint(request.schedule_id, request.patient_id):
            raise Conflict("该请求编号已用于另一笔预约，请勿重复使用", code="idempotency_conflict")
        return _Replay(existing.id)
    if schedule is None:
        raise NotFound("未找到该出诊安排")
    now, patient_id = request.now, request.patient_id
    day_start = _day_start(now)
    try:
        # The schedule row's columns are named as the rules' schedule and department ask.
        _check_schedule(schedule, schedule, now)
        # A patient's row is its account's row: someone else's patient is not found.
        if patient is None or patient.id != request.account_id:
            raise NotFound("未找到该就诊人")
        _check_eligibility(schedule, patient, schedule.date)
        that_day = [
            o
            for o in orders
            if o.active and o.patient_id == patient_id and o.visit_date == schedule.date
        ]
        rules.check_account(
            now=now,
            blocked_until=account.blocked_until,
            duplicate=any(o.doctor_id == schedule.doctor_id for o in that_day),
            holds_today=sum(1 for o in orders if o.created_at >= day_start),
            departments_that_day=frozenset(o.department_id for o in that_day),
            department_id=schedule.department_id,
            limits=rules.Limits(
                schedule.max_holds_per_day, schedule.max_departments_per_patient_per_day
            ),
        )
    except rules.BookingRefused as refused:
        raise _refusal(refused) from None
    return None


def _shown_with(schedule) -> dict:
    """The catalogue rows an order of ``schedule`` refers to, as its answer shows them: built
    from the row read instead of loaded, once for all the group's orders of that schedule."""
    return {
        "schedule": _Shown(id=schedule.id, period=schedule.period),
        "doctor": _Shown(
            id=schedule.doctor_id, name=schedule.doctor_name, title=schedule.doctor_title
        ),
        "department": _Shown(
            id=schedule.department_id, name=schedule.department_name, location=schedule.location
        ),
        "hospital": _Shown(id=schedule.hospital_id, name=schedule.hospital_name),
    }


class _Shown(SimpleNamespace):
    """A catalogue row or patient as an answer shows it (the attributes OrderSchema reads)."""


@dataclass(slots=True, eq=False)
class HeldOrder:
    """A hold as its group's transaction wrote it: the columns of ``orders`` (``id`` once
    inserted) and the rows its answer shows. OrderSchema dumps it as it dumps an Order.

    Built from the rows the group read, never loaded nor added to a session: an ORM Order
    costs several times more to build and to dump, and a release morning builds hundreds at
    once. A retry's answer is the Order read back, the same document (tests hold them equal).
    """

    account_id: int
    patient_id: int
    schedule_id: int
    slot_id: int
    doctor_id: int
    department_id: int
    hospital_id: int
    visit_date: date
    seq: int
    suggested_time: time
    amount_fen: int
    status: OrderStatus
    active: bool | None
    expires_at: datetime
    idempotency_key: str
    request_fingerprint: str
    created_at: datetime
    updated_at: datetime
    patient: _Shown
    schedule: _Shown
    doctor: _Shown
    department: _Shown
    hospital: _Shown
    id: int | None = None
    reschedule_count: int = 0
    cancelled_by: CancelledBy | None = None
    cancel_reason: str = ""
    closed_at: datetime | None = None
    payments: tuple = ()
    refunds: tuple = ()


def _new_order(request, schedule, patient, slot, shown) -> HeldOrder:
    """The order, with its patient and the catalogue rows ``shown`` (see _shown_with). Its times
    are in whole seconds, as MySQL keeps them (utcnow's are), so a retry's answer (read back) is
    the same document."""
    created = utcnow()
    # A free clinic (义诊): nothing to pay, so the number is booked at once.
    status = OrderStatus.BOOKED if schedule.fee_fen == 0 else OrderStatus.PENDING_PAYMENT
    return HeldOrder(
        account_id=request.account_id,
        patient_id=patient.patient_id,
        schedule_id=schedule.id,
        slot_id=slot.id,
        doctor_id=schedule.doctor_id,
        department_id=schedule.department_id,
        hospital_id=schedule.hospital_id,
        visit_date=schedule.date,
        seq=slot.seq,
        suggested_time=slot.suggested_time,
        amount_fen=schedule.fee_fen,
        status=status,
        active=True if status.is_active else None,  # as Order.set_status keeps it
        expires_at=(request.now + timedelta(minutes=schedule.hold_minutes)).replace(microsecond=0),
        idempotency_key=request.idempotency_key,
        request_fingerprint=_fingerprint(request.schedule_id, request.patient_id),
        created_at=created,
        updated_at=created,
        patient=_Shown(
            id=patient.patient_id,
            name=patient.patient_name,
            id_number_masked=patient.id_number_masked,
        ),
        **shown,
    )


def _save(created: list[HeldOrder]):
    """Insert the orders and mark their slots, in one round trip on MySQL (app/sqlbatch.py): one
    statement for the orders, one for the slots (two when a free clinic's booked numbers are
    among them)."""
    updated_at = utcnow()
    statements = [_INSERT_ORDERS.of([_column_values(order) for order in created])]
    for state, status in (
        (SlotState.HELD, OrderStatus.PENDING_PAYMENT),
        (SlotState.BOOKED, OrderStatus.BOOKED),
    ):
        slot_ids = [order.slot_id for order in created if order.status == status]
        if slot_ids:
            statements.append(
                (_MARK_SLOTS, {"slot_ids": slot_ids, "state": state, "updated_at": updated_at})
            )
    inserted, *marked = run_together(db.session.connection(), statements)
    if sum(marked) != len(created):  # the slots are locked by this transaction: never
        raise RuntimeError(f"{sum(marked)} slots marked for {len(created)} orders")
    ids = {slot_id: order_id for order_id, slot_id in inserted}
    for order in created:
        order.id = ids[order.slot_id]


def _take_number(schedule_id, state: SlotState):
    """Lock the lowest free slot nobody else is taking and mark it ``state``; its (id, seq,
    suggested_time). slot_sold_out (and the gate told so) when none is left."""
    slot = next(iter(_read(_FREE_SLOTS, {"schedule_id": schedule_id, "count": 1})), None)
    if slot is None:
        gate.reset(schedule_id, 0)
        raise _refusal(rules.sold_out(), _NoneLeft)
    _run(_MARK_SLOTS, {"slot_ids": [slot.id], "state": state, "updated_at": utcnow()})
    return slot


_INSERTED = tuple(column.key for column in Order.__table__.columns if column.key != "id")
# One multi-row INSERT … RETURNING (MariaDB 10.5+, SQLite); each id found by its order's slot,
# which no two orders of a group share.
_INSERT_ORDERS = InsertRows(Order.__table__, _INSERTED, (_order.id, _order.slot_id))


def _column_values(order: HeldOrder) -> dict:
    return {key: getattr(order, key) for key in _INSERTED}


def _after_holds(created):
    """After the commit, for the (request, order) pairs made: the gate, the replay keys, the
    expiry timers, the calendar cache."""
    # No counter was there for these (Redis away at admission, or back from the dead): rebuild.
    uncounted = {order.schedule_id for request, order in created if not request.token}
    for schedule_id in uncounted:
        gate.rebuild(schedule_id, _free_count(schedule_id))
    if uncounted:
        db.session.rollback()
    ids = ", ".join(str(order.id) for _, order in created)
    # A free clinic's order is booked: nothing expires.
    unpaid = [order.id for _, order in created if order.status == OrderStatus.PENDING_PAYMENT]
    with redis_store.batch(f"after holding orders {ids}") as pipe:
        for _, order in created:
            gate.remember(order.account_id, order.idempotency_key, order.id, pipe)
        if unpaid:
            # One job for the group, which the worker turns into the orders' timers: an RQ
            # timer costs ~0.15 ms of CPU to build and send, about a third of a hold's own share
            # of its group's work, and a release morning makes hundreds at once.
            queue.enqueue("workers.orders.arm_expiry_timers", unpaid, pipe=pipe)
        for department_id in {order.department_id for _, order in created}:
            cache.invalidate_department(department_id, pipe)


def arm_expiry_timers(order_ids) -> int:
    """The expiry timers of new holds, in one batch; how many were armed. An order paid or
    cancelled before this reads it gets none; one paid or cancelled while this runs may get
    one, which finds nothing to do, as every timer re-checks the order. A batch that fails is
    the sweep's, as a lost timer is."""
    rows = db.session.execute(
        sa.select(Order.id, Order.expires_at).where(
            Order.id.in_(order_ids), Order.status == OrderStatus.PENDING_PAYMENT
        )
    ).all()
    db.session.rollback()
    if rows:
        ids = ", ".join(str(row.id) for row in rows)
        with redis_store.batch(f"expiry timers of orders {ids}") as pipe:
            for row in rows:
                schedule_timer(row, pipe)
    return len(rows)


def schedule_timer(order, pipe):
    """The expiry timer of a hold (anything with the order's ``id`` and ``expires_at``), in an
    after-commit batch; the periodic sweep catches any that is lost."""
    queue.enqueue(
        "workers.orders.expire_order",
        order.id,
        job_id=expire_job_id(order.id),
        at=order.expires_at,
        pipe=pipe,
    )


def lock_order(order_id, account_id=None) -> Order:
    """The order, locked for a state change (only the account's, if given); not_found if none."""
    statement = sa.select(Order).where(Order.id == order_id)
    if account_id is not None:
        statement = statement.where(Order.account_id == account_id)
    order = lock_one(statement)
    if order is None:
        raise NotFound("未找到该挂号单")
    return order


def _release_slot(order: Order):
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


def expire_hold(order_id, now=None) -> bool:
    """Expire an unpaid hold whose time is up and free its slot; False if there was nothing to do.

    Safe to run twice and to race a cancel or a payment: all lock the order row first and
    re-check its state. (The payment issue refunds a payment that arrives after this.)
    """
    now = now or clock.now()
    with transaction():
        order = lock_order(order_id)
        if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at > now:
            return False
        order.close(OrderStatus.EXPIRED, CancelledBy.SYSTEM, "超时未支付", now)
        _release_slot(order)
    released(order)
    return True


def sweep_expired_holds(now=None, batch=500) -> int:
    """Expire every hold whose timer was lost; returns how many were expired."""
    now = now or clock.now()
    due = db.session.scalars(
        sa.select(Order.id)
        .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(batch)
    ).all()
    db.session.rollback()
    return sum(1 for order_id in due if expire_hold(order_id, now))


def resync_gates() -> int:
    """Set every existing gate counter to MySQL's count of free numbers; returns how many.

    Heals a counter that missed a give-back (Redis was down when a hold expired, say). Racing
    holds are harmless: the counter only decides who may try; the slot rows decide who gets one.
    """
    schedule_ids = gate.counted_schedules()
    if not schedule_ids:
        return 0
    free = dict(
        db.session.execute(
            sa.select(Slot.schedule_id, sa.func.count())
            .where(Slot.schedule_id.in_(schedule_ids), Slot.state == SlotState.FREE)
            .group_by(Slot.schedule_id)
        ).all()
    )
    db.session.rollback()
    for schedule_id in schedule_ids:
        gate.reset(schedule_id, free.get(schedule_id, 0))
    return len(schedule_ids)


def cancel_order(account_id, order_id, now=None) -> Order:
    """Cancel an unpaid hold at once and free its number."""
    now = now or clock.now()
    with transaction():
        order = lock_order(order_id, account_id)
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise Conflict("该挂号单当前状态不可取消", code="order_not_cancellable")
        order.close(OrderStatus.CANCELLED, CancelledBy.PATIENT, "患者取消", now)
        _release_slot(order)
    released(order)
    queue.cancel_job(expire_job_id(order.id))
    return order


def reschedule_order(account_id, order_id, schedule_id, now=None) -> Order:
    """Move an order to another schedule of the same doctor and fee, all or nothing.

    The new number is taken and the old one freed in one transaction; the order keeps its id,
    status, expiry and (once there is one) its payment.
    """
    now = now or clock.now()
    token = None
    try:
        with transaction(on_conflict=_integrity_refusal):
            _lock_account(account_id)
            order = lock_order(order_id, account_id)
            old_schedule_id = order.schedule_id
            order, token = _move(order, schedule_id, now)
    except Exception:
        _give_back(token, schedule_id)
        raise
    gate.give_back(old_schedule_id)
    if not token:
        gate.rebuild(order.schedule_id, _free_count(order.schedule_id))
        db.session.rollback()
    cache.invalidate_department(order.department_id)
    return order


def cancellation_quote(order: Order, now) -> refund_rules.RefundQuote:
    """What cancelling the paid order at ``now`` would give back, by its hospital's tiers."""
    current = db.session.get(Schedule, order.schedule_id)
    visit_start = datetime.combine(order.visit_date, current.start_time, tzinfo=clock.CHINA_TZ)
    table = refund_rules.parse_tiers(db.session.get(Hospital, order.hospital_id).refund_tiers)
    return refund_rules.quote(order.amount_fen, visit_start, now, table)


def _free_to_cancel(order: Order, now) -> bool:
    """Whether cancelling the paid order now would give everything back."""
    quote = cancellation_quote(order, now)
    return quote.refundable and quote.fee_fen == 0


def _move(order: Order, schedule_id, now) -> tuple[Order, bool]:
    if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.BOOKED):
        raise Conflict("该挂号单当前状态不可改约", code="order_not_reschedulable")
    limit = current_app.config["RESCHEDULE_LIMIT"]
    if order.reschedule_count >= limit:
        raise Conflict(f"每个挂号单最多改约 {limit} 次", code="reschedule_limit")
    if order.status == OrderStatus.BOOKED and not _free_to_cancel(order, now):
        # Otherwise moving to a later day, then cancelling, would dodge the hospital's fee.
        raise Conflict("距就诊时间过近，已不能改约", code="reschedule_window_closed")
    target, department, hospital = _load_schedule(schedule_id)
    if target.id == order.schedule_id:
        raise AppError("已是该时段，无需改约", code="invalid_reschedule", status=422)
    if target.doctor_id != order.doctor_id or target.fee_fen != order.amount_fen:
        raise AppError(
            "只能改约同一医生、同一费用的其他时段", code="invalid_reschedule", status=422
        )
    patient = db.session.get(Patient, order.patient_id)
    try:
        _check_schedule(target, hospital, now)
        _check_eligibility(department, patient, target.date)
        if _has_active(
            Order.id != order.id,
            Order.patient_id == order.patient_id,
            Order.doctor_id == order.doctor_id,
            Order.visit_date == target.date,
        ):
            raise rules.BookingRefused(
                "duplicate_booking", "该就诊人当天已预约该医生，请勿重复预约"
            )
    except rules.BookingRefused as refused:
        raise _refusal(refused) from None
    token = _admit(target.id)
    state = SlotState.HELD if order.status == OrderStatus.PENDING_PAYMENT else SlotState.BOOKED
    try:
        slot = _take_number(target.id, state)
    except Exception as error:
        _give_back(token, target.id, error)
        raise
    _release_slot(order)
    order.schedule_id = target.id
    order.slot_id = slot.id
    order.visit_date = target.date
    order.seq = slot.seq
    order.suggested_time = slot.suggested_time
    order.reschedule_count += 1
    # No flush here: a unique-key failure must surface in the caller, which holds the token.
    return order, token


def list_orders(account_id, status=None, page=1, per_page=20) -> Page:
    """The account's orders, newest first, optionally of one status."""
    statement = (
        sa.select(Order)
        .options(*_order_details())
        .where(Order.account_id == account_id)
        .order_by(Order.id.desc())
    )
    if status:
        statement = statement.where(Order.status == status)
    return paginate(statement, page, per_page)


def _order_details():
    return (
        joinedload(Order.schedule),
        joinedload(Order.doctor),
        joinedload(Order.department),
        joinedload(Order.hospital),
        joinedload(Order.patient),
    )


def get_order(account_id, order_id) -> Order:
    """One of the account's orders; another account's is not_found."""
    order = db.session.scalar(
        sa.select(Order)
        .options(*_order_details())
        .where(Order.id == order_id, Order.account_id == account_id)
    )
    if order is None:
        raise NotFound("未找到该挂号单")
    return order


def _signer() -> TicketSigner:
    return per_app("ticket_signer", lambda config: TicketSigner(config["TICKET_SIGNING_KEY"]))


def ticket_public_key() -> dict:
    """The key scanners verify e-tickets with."""
    return {"algorithm": "Ed25519", "public_key": _signer().public_key}


def ticket(account_id, order_id) -> dict:
    """The e-ticket of an active order: number, suggested time, place, signed QR payload."""
    order = get_order(account_id, order_id)
    if order.status not in ACTIVE_STATUSES:
        raise Conflict("该挂号单已失效，没有电子凭证", code="ticket_unavailable")
    payload = {
        "o": order.id,
        "s": order.schedule_id,
        "q": order.seq,
        "d": order.visit_date.isoformat(),
        "p": order.patient_id,
        "h": order.hospital_id,
    }
    return {"order": order, "qr_payload": _signer().sign(payload)}
