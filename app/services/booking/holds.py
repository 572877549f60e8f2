"""Holding a number: the hold use case and its group commit.

Capacity is decided in MySQL. A hold takes the lowest free slot of the schedule with
``SELECT … FOR UPDATE SKIP LOCKED`` and marks it held in the same transaction as the order
insert, so concurrent holds never wait on each other's rows and never share a slot; unique keys
on active orders (one per slot, one per patient, doctor and day) back it up. The Redis gate
(app/infra/gate.py) only keeps the hopeless away from MySQL. Holds of one account are
serialised by a lock on the account row, which is what makes the per-account limits exact.

Holds that threads of one process ask for at the same moment are decided and written together,
in one transaction of a fixed handful of statements (group commit, app/infra/groupcommit.py): on
a release morning MySQL sees one commit per group instead of one per patient.

Side effects (the expiry timers, gate tokens, cache invalidation) happen after the commit.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from app.domain import booking as rules
from app.domain import clock
from app.domain.enums import SlotState
from app.domain.orders import CancelledBy, OrderStatus
from app.errors import AppError, Conflict, NotFound
from app.extensions import db, per_app, redis_store
from app.infra import cache, gate, metrics, queue, sqlbatch
from app.infra.groupcommit import GroupCommit, arrivals
from app.infra.packedsql import PackedSelect, read_together
from app.infra.sqlbatch import InsertRows, run_together
from app.models import Account, Order, Patient
from app.models.types import utcnow
from app.services import account_pages, auth
from app.services.booking import checks, queries, slots
from app.services.transaction import transaction

log = logging.getLogger(__name__)


def hold_slot(
    caller, schedule_id, patient_id, idempotency_key, now=None, client_ip=None
) -> tuple["Order | HeldOrder", bool]:
    """Hold the lowest free number of a schedule for one of the caller's patients.

    ``caller`` is an account id, or an auth.Principal whose token is checked against revocation
    on the locked account row. Returns the order (pending_payment, expiring after the
    hospital's hold minutes) and whether it was created now; a retry with the same idempotency
    key and body returns the first order. ``client_ip``, the address the request came from,
    is recorded on a new order (the statistics' bursts of holds from one address).

    Holds that threads of this process ask for at the same moment share one transaction (see
    app/infra/groupcommit.py); each is decided exactly as if it were alone.
    """
    try:
        order, created = _hold(caller, schedule_id, patient_id, idempotency_key, now, client_ip)
    except AppError as refused:
        metrics.hold_outcome(refused.code)
        raise
    metrics.hold_outcome("created" if created else "replayed")
    return order, created


def _hold(caller, schedule_id, patient_id, idempotency_key, now, client_ip):
    now = now or clock.now()
    account_id = getattr(caller, "id", caller)
    # One Redis round trip before any MySQL work: a retry of a hold that succeeded is let
    # through to find its order, a schedule the gate knows is sold out is refused at once (a
    # revoked token may be told "sold out" too; nothing is ever booked for one), and everyone
    # else takes a token, given back if the hold fails.
    try:
        admission = gate.admit(account_id, idempotency_key, schedule_id)
        if admission is gate.Admission.SOLD_OUT:
            raise checks.refusal(rules.sold_out())
        token = admission is gate.Admission.ADMITTED
        if admission is gate.Admission.UNKNOWN:
            # Redis lost the counter, and with it perhaps this retry's replay key: MySQL answers
            # (the order of a retry, else the slot rows say sold out).
            token = slots.admit(schedule_id, refuse_sold_out=False)
    except BaseException:
        arrivals.end()  # this thread joins no group: a group's leader need not wait for it
        raise
    request = _HoldRequest(
        caller, account_id, schedule_id, patient_id, idempotency_key, now, token, client_ip
    )
    groups = _hold_groups()
    outcome = groups.submit(request)
    if outcome is _ALONE:
        arrivals.end()  # nor does a hold that runs again by itself
        outcome = groups.run_alone(request)
    if isinstance(outcome, _Replay):
        return queries.get_order(account_id, outcome.order_id), False
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
    client_ip: str | None = None


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
        with transaction(on_conflict=checks.integrity_refusal):
            outcomes = _decide(requests)
            created = [outcome for outcome in outcomes if isinstance(outcome, HeldOrder)]
            if created:
                _save(created)
    except Exception as error:
        if len(requests) > 1:
            log.warning("a group of %d holds failed (%r); each runs alone", len(requests), error)
            return [_ALONE] * len(requests)
        return [error]
    if created:  # before any of the group's 201s: a page of orders read after one shows it,
        # and the payment that follows one finds its caller's state cached
        ids = ", ".join(str(order.id) for order in created)
        with redis_store.batch(f"account pages and states after holding orders {ids}") as pipe:
            account_pages.changed([order.account_id for order in created], pipe)
            for request, outcome in zip(requests, outcomes, strict=True):
                if isinstance(outcome, HeldOrder) and isinstance(request.caller, auth.Principal):
                    auth.remember_state(request.caller, pipe)
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
            slots.give_back(
                request.token,
                request.schedule_id,
                outcome if isinstance(outcome, BaseException) else None,
            )
    if created:
        _after_holds(created)


# Holds run on release mornings, so they run prebuilt Core statements on the tables (no ORM
# compilation, no objects loaded), each once per group whatever its size: the locked accounts
# with their patients, the accounts' orders that the rules ask about, the schedules with all the
# rules and the answer need (these three sent together), the free slots, then one insert of the
# orders and one update of the slots (sent together): three round trips and the commit on
# MySQL (app/infra/sqlbatch.py). MariaDB runs statements sent together in order, as if sent one
# by one, so the orders are read once their accounts are locked, each read seeing what was
# committed when it began (READ COMMITTED). The rules' reads of the schedules and the orders are
# checks.SCHEDULES and checks.ACCOUNT_ORDERS, shared with the reschedule.
_account, _order, _patient = Account.__table__.c, Order.__table__.c, Patient.__table__.c


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
        _patient.name_cipher.label("patient_name"),
        _patient.id_number_masked,
        _patient.sex,
        _patient.birth_date_cipher.label("birth_date"),
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


def _decide(requests) -> list:
    """Every rule of every request in order, then numbers for those that passed."""
    account_ids = sorted({request.account_id for request in requests})
    patient_ids = sorted({request.patient_id for request in requests})
    schedule_ids = sorted({request.schedule_id for request in requests})
    connection = sqlbatch.connection()
    locked, their_orders, their_schedules = read_together(
        connection,
        [
            (_LOCK_ACCOUNTS, {"account_ids": account_ids, "patient_ids": patient_ids}),
            (
                checks.ACCOUNT_ORDERS,
                {
                    "account_ids": account_ids,
                    "idempotency_keys": sorted({request.idempotency_key for request in requests}),
                    "day_start": min(checks.day_start(request.now) for request in requests),
                },
            ),
            (checks.SCHEDULES, {"schedule_ids": schedule_ids}),
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
        free = slots.FREE_SLOTS.rows(
            connection, {"schedule_id": schedule_id, "count": len(indexes)}
        )
        if len(free) < len(indexes):
            gate.reset(schedule_id, 0)
        for position, index in enumerate(indexes):
            if position >= len(free):
                outcomes[index] = checks.refusal(rules.sold_out(), slots.NoneLeft)
                continue
            request = requests[index]
            outcomes[index] = _new_order(
                request, schedule, patients[request.patient_id], free[position], shown
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
        fingerprint = checks.fingerprint(request.schedule_id, request.patient_id)
        if existing.request_fingerprint != fingerprint:
            raise Conflict("该请求编号已用于另一笔预约，请勿重复使用", code="idempotency_conflict")
        return _Replay(existing.id)
    if schedule is None:
        raise NotFound("未找到该出诊安排")
    # A patient's row is its account's row: someone else's patient is not found.
    if patient is not None and patient.id != request.account_id:
        patient = None
    checks.check_booking(
        now=request.now,
        schedule=schedule,
        patient_id=request.patient_id,
        patient=patient,
        blocked_until=account.blocked_until,
        orders=orders,
    )
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
    checked_in_at: datetime | None = None
    queue_rank: int | None = None
    called_at: datetime | None = None
    completed_at: datetime | None = None
    skips: int = 0
    client_ip: str | None = None
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
        request_fingerprint=checks.fingerprint(request.schedule_id, request.patient_id),
        client_ip=request.client_ip,
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
    """Insert the orders and mark their slots, in one round trip on MySQL
    (app/infra/sqlbatch.py): one statement for the orders, one for the slots (two when a free
    clinic's booked numbers are among them)."""
    updated_at = utcnow()
    statements = [_INSERT_ORDERS.of([_column_values(order) for order in created])]
    for state, status in (
        (SlotState.HELD, OrderStatus.PENDING_PAYMENT),
        (SlotState.BOOKED, OrderStatus.BOOKED),
    ):
        slot_ids = [order.slot_id for order in created if order.status == status]
        if slot_ids:
            statements.append(
                (slots.MARK_SLOTS, {"slot_ids": slot_ids, "state": state, "updated_at": updated_at})
            )
    inserted, *marked = run_together(sqlbatch.connection(), statements)
    if sum(marked) != len(created):  # the slots are locked by this transaction: never
        raise RuntimeError(f"{sum(marked)} slots marked for {len(created)} orders")
    ids = {slot_id: order_id for order_id, slot_id in inserted}
    for order in created:
        order.id = ids[order.slot_id]


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
        gate.rebuild(schedule_id, slots.free_count(schedule_id))
    if uncounted:
        db.session.rollback()
    ids = ", ".join(str(order.id) for _, order in created)
    # A free clinic's order is booked: nothing expires, and its confirmation is written by a job
    # (the group's statements run outside the ORM session the outbox writes through).
    unpaid = [order.id for _, order in created if order.status == OrderStatus.PENDING_PAYMENT]
    booked = [order.id for _, order in created if order.status == OrderStatus.BOOKED]
    with redis_store.batch(f"after holding orders {ids}") as pipe:
        for _, order in created:
            gate.remember(order.account_id, order.idempotency_key, order.id, pipe)
        if unpaid:
            # One job for the group, which the worker turns into the orders' timers: an RQ
            # timer costs ~0.15 ms of CPU to build and send, about a third of a hold's own share
            # of its group's work, and a release morning makes hundreds at once.
            queue.enqueue("workers.orders.arm_expiry_timers", unpaid, pipe=pipe)
        if booked:
            queue.enqueue("workers.messages.confirm_bookings", booked, pipe=pipe)
        for department_id in {order.department_id for _, order in created}:
            cache.invalidate_department(department_id, pipe)
