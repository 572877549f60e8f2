"""Holds decided in groups (group commit, app/infra/groupcommit.py): one transaction for many holds,
each decided exactly as if it were alone."""

import logging
import threading
import time
from datetime import timedelta

import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry
from sqlalchemy.exc import OperationalError

from app.domain import clock
from app.domain.orders import OrderStatus
from app.errors import AppError
from app.extensions import db
from app.infra import gate, queue, sqlbatch
from app.models import Order
from app.schemas.orders import OrderSchema
from app.services.booking import holds, lifecycle, queries
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed
from tests.support import SentQueries, run_queued_jobs

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _schedule(capacity):
    schedule = make_schedule(on=TOMORROW, capacity=capacity)
    db.session.commit()
    return schedule.id


def _request(account_id, patient_id, schedule_id, key, token=True):
    return holds._HoldRequest(
        account_id, account_id, schedule_id, patient_id, key, clock.now(), token
    )


def _run(requests):
    """A group as the group commit runs it: the transaction, then the after-commit half."""
    outcomes = holds._hold_group(requests)
    holds._after_group(requests, outcomes)
    return outcomes


def _codes(outcomes):
    return [
        "order"
        if isinstance(outcome, holds.HeldOrder)
        else getattr(outcome, "code", None) or type(outcome).__name__
        for outcome in outcomes
    ]


def test_a_group_is_one_transaction_and_numbers_go_in_request_order(committed):
    schedule_id = _schedule(capacity=10)
    pairs = make_patients(5)
    gate.reset(schedule_id, 5)
    requests = [_request(a, p, schedule_id, f"group-{a}") for a, p in pairs]
    with SentQueries(sqlbatch.engine()) as queries:
        outcomes = _run(requests)
    assert [order.seq for order in outcomes] == [1, 2, 3, 4, 5]
    # Lock the accounts with their patients, read their orders, the schedule (one query); the
    # free slots; insert the orders and mark their slots (one query): the same 3 queries for 5
    # holds as for one.
    assert len(queries.sent) == 3
    see_committed()
    assert db.session.scalar(sa.select(sa.func.count()).where(Order.active.is_(True))) == 5
    # After the commit, one job arms the group's timers, and every order has its replay key.
    (arm,) = queue.get_queue().get_jobs()
    assert arm.args == ([order.id for order in outcomes],)
    run_queued_jobs()
    scheduled = set(ScheduledJobRegistry(queue=queue.get_queue()).get_job_ids())
    assert {lifecycle.expire_job_id(order.id) for order in outcomes} <= scheduled
    for account_id, _ in pairs:
        admission = gate.admit(account_id, f"group-{account_id}", schedule_id)
        assert admission is gate.Admission.REPLAYED
    assert gate.peek(schedule_id) == 5  # no token came back: every hold took its number


def test_each_order_of_a_group_shows_its_own_schedule_as_reading_it_back_does(committed):
    schedules = [_schedule(capacity=3), _schedule(capacity=3)]  # two doctors, two departments
    pairs = make_patients(4)
    requests = [_request(a, p, schedules[i % 2], f"shown-{a}") for i, (a, p) in enumerate(pairs)]
    outcomes = _run(requests)
    see_committed()
    for (account_id, _), order in zip(pairs, outcomes, strict=True):
        read_back = queries.get_order(account_id, order.id)
        assert OrderSchema().dump(order) == OrderSchema().dump(read_back)
    assert {o.doctor.id for o in outcomes[::2]} != {o.doctor.id for o in outcomes[1::2]}


def test_a_refusal_in_a_group_leaves_the_others_alone_and_gives_its_token_back(committed):
    schedule_id = _schedule(capacity=10)
    (a, a_patient), (b, _), (c, c_patient) = make_patients(3)
    gate.reset(schedule_id, 7)
    outcomes = _run(
        [
            _request(a, a_patient, schedule_id, "refusal-a"),
            _request(b, a_patient, schedule_id, "refusal-b"),  # someone else's patient
            _request(c, c_patient, schedule_id, "refusal-c"),
        ]
    )
    assert _codes(outcomes) == ["order", "not_found", "order"]
    assert outcomes[1].message == "未找到该就诊人"
    assert [outcomes[0].seq, outcomes[2].seq] == [1, 2]
    assert gate.peek(schedule_id) == 8


def test_a_second_hold_of_one_account_in_a_group_waits_for_the_first_to_commit(committed):
    schedule_id = _schedule(capacity=10)
    ((account_id, patient_id),) = make_patients(1)
    gate.reset(schedule_id, 8)
    first = _request(account_id, patient_id, schedule_id, "same-account-1")
    second = _request(account_id, patient_id, schedule_id, "same-account-2")
    outcomes = _run([first, second])
    assert outcomes[0].status == OrderStatus.PENDING_PAYMENT and outcomes[1] is holds._ALONE
    assert gate.peek(schedule_id) == 8  # the deferred hold keeps its token for its own run
    # Run by itself, it sees the first order: the same patient, doctor and day.
    assert _codes(_run([second])) == ["duplicate_booking"]
    assert gate.peek(schedule_id) == 9


def test_a_group_larger_than_what_is_left_fills_it_and_the_rest_are_sold_out(committed):
    schedule_id = _schedule(capacity=2)
    pairs = make_patients(4)
    gate.reset(schedule_id, 0)  # all four took tokens the gate no longer has
    outcomes = _run([_request(a, p, schedule_id, f"short-{a}") for a, p in pairs])
    assert _codes(outcomes) == ["order", "order", "slot_sold_out", "slot_sold_out"]
    assert [outcomes[0].seq, outcomes[1].seq] == [1, 2]
    assert gate.peek(schedule_id) == 0  # MySQL's count; the refused give nothing back


def test_a_retry_in_a_group_is_answered_with_its_order(committed):
    schedule_id = _schedule(capacity=10)
    (a, a_patient), (b, b_patient) = make_patients(2)
    order, _ = holds.hold_slot(a, schedule_id, a_patient, "retried-key")
    gate.reset(schedule_id, 5)
    outcomes = _run(
        [
            _request(a, a_patient, schedule_id, "retried-key"),
            _request(b, b_patient, schedule_id, "fresh-key"),
        ]
    )
    assert outcomes[0] == holds._Replay(order.id)
    assert outcomes[1].seq == 2
    assert gate.peek(schedule_id) == 6  # the retry's token came back


def test_a_group_that_fails_as_a_whole_writes_nothing_and_each_runs_alone(
    committed, monkeypatch, caplog
):
    schedule_id = _schedule(capacity=10)
    pairs = make_patients(3)
    gate.reset(schedule_id, 7)

    def lost_connection(created):
        raise OperationalError("INSERT", {}, Exception("Lost connection to MySQL server"))

    monkeypatch.setattr(holds, "_save", lost_connection)
    requests = [_request(a, p, schedule_id, f"whole-{a}") for a, p in pairs]
    with caplog.at_level(logging.WARNING, logger="app.services.booking.holds"):
        outcomes = _run(requests)
    assert outcomes == [holds._ALONE] * 3
    assert "a group of 3 holds failed" in caplog.text
    see_committed()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
    assert gate.peek(schedule_id) == 7  # the tokens stay with the holds, for their own runs
    monkeypatch.undo()
    assert _codes(_run(requests[:1])) == ["order"]


def test_holds_that_arrive_together_share_a_transaction(committed, monkeypatch):
    """Through hold_slot, from threads: the first hold's transaction is held open until the
    other seven wait; those seven are then decided in one group."""
    schedule_id = _schedule(capacity=8)
    pairs = make_patients(8)
    groups, release = [], threading.Event()
    decide = holds._decide

    def recording_decide(requests):
        groups.append(len(requests))
        if len(groups) == 1:
            assert release.wait(10)
        return decide(requests)

    monkeypatch.setattr(holds, "_decide", recording_decide)
    app, results = committed, {}

    def hold(pair):
        account_id, patient_id = pair
        with app.app_context():
            try:
                order, _ = holds.hold_slot(account_id, schedule_id, patient_id, f"t-{account_id}")
                results[account_id] = order.seq
            except AppError as error:
                results[account_id] = error.code

    first = threading.Thread(target=hold, args=(pairs[0],))
    first.start()
    deadline = time.monotonic() + 10
    while not groups:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    others = [threading.Thread(target=hold, args=(pair,)) for pair in pairs[1:]]
    for thread in others:
        thread.start()
    waiting = holds._hold_groups()._waiting
    while len(waiting) < 7:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert groups == [1, 7]
    assert sorted(results.values()) == list(range(1, 9))
    assert results[pairs[0][0]] == 1


def test_the_group_size_comes_from_the_settings(committed, monkeypatch):
    monkeypatch.setitem(committed.config, "HOLD_GROUP_SIZE", 1)
    monkeypatch.delitem(committed.extensions, "hold_groups", raising=False)
    try:
        assert holds._hold_groups()._max_size == 1
    finally:
        committed.extensions.pop("hold_groups", None)
