"""Holds decided in groups (group commit, app/infra/groupcommit.py): one transaction for many holds,
each decided exactly as if it were alone.

Every test here holds through ``holds.hold_slot`` from threads that the server would run: each
thread is counted among the process's arrivals (as gunicorn.conf.py's hooks count a thread
serving a request) before it asks, and a group's leader lingers — up to a generous
HOLD_GROUP_LINGER_MS here — until every counted thread has asked, so the holds that arrive
together are decided in one group."""

import logging
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry
from sqlalchemy.exc import OperationalError

from app.domain import clock
from app.domain.orders import OrderStatus
from app.errors import AppError
from app.extensions import db, redis_store
from app.infra import cache, gate, queue, sqlbatch
from app.infra.groupcommit import arrivals
from app.models import Account, Order
from app.schemas.orders import OrderSchema
from app.services import account_pages, auth
from app.services.booking import holds, lifecycle, queries
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed
from tests.support import SentQueries, run_queued_jobs

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


@pytest.fixture
def grouped(committed, monkeypatch):
    """The committed app with hold groups that wait for every thread on its way."""
    monkeypatch.setitem(committed.config, "HOLD_GROUP_LINGER_MS", 5000)
    monkeypatch.delitem(committed.extensions, "hold_groups", raising=False)
    yield committed
    committed.extensions.pop("hold_groups", None)


def _schedule(capacity):
    schedule = make_schedule(on=TOMORROW, capacity=capacity)
    db.session.commit()
    return schedule.id


def _together(app, asks, then=None, caller=None):
    """Ask for every hold of ``asks`` — (account_id, patient_id, schedule_id, key) — at once,
    each from a thread of its own counted among the arrivals; per ask, its order or its error.
    ``then(account_id)``, if given, runs in each thread as soon as its hold is answered;
    ``caller(account_id)`` is who asks (the account id itself unless given).
    """
    outcomes = [None] * len(asks)
    counted = threading.Barrier(len(asks))

    def ask(index, account_id, patient_id, schedule_id, key):
        with app.app_context():
            arrivals.begin()  # the thread serves its request: a leader waits for it
            try:
                counted.wait(10)
                who = caller(account_id) if caller else account_id
                order, _ = holds.hold_slot(who, schedule_id, patient_id, key)
                outcomes[index] = then(account_id) if then else order
            except AppError as error:
                outcomes[index] = error
            finally:
                arrivals.end()

    threads = [threading.Thread(target=ask, args=(i, *a)) for i, a in enumerate(asks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _codes(outcomes):
    return ["order" if isinstance(o, (holds.HeldOrder, Order)) else o.code for o in outcomes]


def test_holds_that_arrive_together_are_one_transaction_of_three_queries(grouped):
    schedule_id = _schedule(capacity=10)
    pairs = make_patients(5)
    gate.reset(schedule_id, 5)
    with SentQueries(sqlbatch.engine()) as sent:
        outcomes = _together(grouped, [(a, p, schedule_id, f"group-{a}") for a, p in pairs])
    assert sorted(order.seq for order in outcomes) == [1, 2, 3, 4, 5]
    # Lock the accounts with their patients, read their orders, the schedule (one query); the
    # free slots; insert the orders and mark their slots (one query): the same 3 queries for 5
    # holds as for one.
    assert len(sent.sent) == 3
    see_committed()
    assert db.session.scalar(sa.select(sa.func.count()).where(Order.active.is_(True))) == 5
    # After the commit, one job arms the group's timers, and every order has its replay key.
    (arm,) = queue.get_queue(queue.BOOKING).get_jobs()
    assert sorted(arm.args[0]) == sorted(order.id for order in outcomes)
    run_queued_jobs()
    scheduled = set(ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING)).get_job_ids())
    assert {lifecycle.expire_job_id(order.id) for order in outcomes} <= scheduled
    for account_id, _ in pairs:
        admission = gate.admit(account_id, f"group-{account_id}", schedule_id)
        assert admission is gate.Admission.REPLAYED
    assert gate.peek(schedule_id) == 0  # no token came back: every hold took its number


def test_each_hold_of_a_group_is_answered_after_its_accounts_pages_are_dropped(grouped):
    schedule_id = _schedule(capacity=10)
    pairs = make_patients(4)
    now = clock.now()
    for account_id, _ in pairs:
        lookup = cache.account_lookup(account_id, "orders", now)
        cache.account_page(account_id, lookup, lambda now: ({"total": 0}, None), now)

    def cached_when_answered(account_id):
        return cache.account_lookup(account_id, "orders", clock.now()).document is not None

    answers = _together(
        grouped, [(a, p, schedule_id, f"pages-{a}") for a, p in pairs], then=cached_when_answered
    )
    assert answers == [False] * len(pairs)


def test_each_caller_of_a_group_is_answered_with_its_token_state_cached(grouped):
    """The group read each caller's token version and status under its account's lock: the
    caller's next request (the payment) is authenticated without MySQL."""
    schedule_id = _schedule(capacity=10)
    pairs = make_patients(3)
    versions = {a: db.session.get(Account, a).token_version for a, _ in pairs}
    for account_id in versions:
        redis_store.client.delete(auth.state_key(account_id))

    def principal(account_id):
        return auth.Principal(account_id, versions[account_id])

    def cached_when_answered(account_id):
        return redis_store.read("GET", auth.state_key(account_id)) is not None

    answers = _together(
        grouped,
        [(a, p, schedule_id, f"state-{a}") for a, p in pairs],
        then=cached_when_answered,
        caller=principal,
    )
    assert answers == [True] * len(pairs)
    with SentQueries(db.engine) as sent:
        for account_id in versions:
            auth.ensure_current(principal(account_id))
    assert sent.sent == []


def test_a_logout_that_commits_before_the_groups_state_is_cached_is_not_undone(
    grouped, monkeypatch
):
    """The group read the caller's state under the account's lock; a logout waiting for that
    lock commits (and forgets the state) as soon as the group commits, before the group caches
    what it read. The revoked token must not pass on the cached state."""
    schedule_id = _schedule(capacity=10)
    ((account_id, patient_id),) = make_patients(1)
    principal = auth.Principal(account_id, db.session.get(Account, account_id).token_version)
    redis_store.client.delete(auth.state_key(account_id))
    changed, logged_out = account_pages.changed, []

    def logout_first(account_ids, pipe=None):
        if pipe is not None and not logged_out:  # the group's batch, not yet sent
            logged_out.append(account_id)
            logout = threading.Thread(target=_logout, args=(grouped, account_id))
            logout.start()
            logout.join(10)
        return changed(account_ids, pipe)

    monkeypatch.setattr(account_pages, "changed", logout_first)
    (order,) = _together(
        grouped, [(account_id, patient_id, schedule_id, "logout-race")], caller=lambda a: principal
    )
    assert isinstance(order, holds.HeldOrder) and logged_out == [account_id]
    with pytest.raises(auth.Unauthorized):
        auth.ensure_current(principal)


def _logout(app, account_id):
    with app.app_context():
        auth.logout(account_id)


def test_each_order_of_a_group_shows_its_own_schedule_as_reading_it_back_does(grouped):
    schedules = [_schedule(capacity=3), _schedule(capacity=3)]  # two doctors, two departments
    pairs = make_patients(4)
    asks = [(a, p, schedules[i % 2], f"shown-{a}") for i, (a, p) in enumerate(pairs)]
    outcomes = _together(grouped, asks)
    see_committed()
    for (account_id, _), order in zip(pairs, outcomes, strict=True):
        assert isinstance(order, holds.HeldOrder)  # made by its group, not read back
        read_back = queries.get_order(account_id, order.id)
        assert OrderSchema().dump(order) == OrderSchema().dump(read_back)
    assert {o.doctor.id for o in outcomes[::2]} != {o.doctor.id for o in outcomes[1::2]}


def test_a_refusal_in_a_group_leaves_the_others_alone_and_gives_its_token_back(grouped):
    schedule_id = _schedule(capacity=10)
    (a, a_patient), (b, _), (c, c_patient) = make_patients(3)
    gate.reset(schedule_id, 7)
    outcomes = _together(
        grouped,
        [
            (a, a_patient, schedule_id, "refusal-a"),
            (b, a_patient, schedule_id, "refusal-b"),  # someone else's patient
            (c, c_patient, schedule_id, "refusal-c"),
        ],
    )
    assert _codes(outcomes) == ["order", "not_found", "order"]
    assert outcomes[1].message == "未找到该就诊人"
    assert sorted([outcomes[0].seq, outcomes[2].seq]) == [1, 2]
    assert gate.peek(schedule_id) == 5  # 7, less the three taken, and the refused one's back


def test_two_holds_of_one_account_are_decided_one_after_the_other(grouped):
    """The second of one account's holds in a group runs after the group, by itself, and so
    sees the first: the same patient, doctor and day is a duplicate."""
    schedule_id = _schedule(capacity=10)
    ((account_id, patient_id),) = make_patients(1)
    gate.reset(schedule_id, 8)
    outcomes = _together(
        grouped,
        [
            (account_id, patient_id, schedule_id, "same-account-1"),
            (account_id, patient_id, schedule_id, "same-account-2"),
        ],
    )
    assert sorted(_codes(outcomes)) == ["duplicate_booking", "order"]
    (order,) = [o for o in outcomes if not isinstance(o, AppError)]
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert gate.peek(schedule_id) == 7  # one number taken; the duplicate's token came back


def test_a_group_larger_than_what_is_left_fills_it_and_the_rest_are_sold_out(grouped):
    schedule_id = _schedule(capacity=2)
    pairs = make_patients(4)
    gate.reset(schedule_id, 4)  # the gate believes in more than MySQL has
    outcomes = _together(grouped, [(a, p, schedule_id, f"short-{a}") for a, p in pairs])
    assert sorted(_codes(outcomes)) == ["order", "order", "slot_sold_out", "slot_sold_out"]
    assert sorted(o.seq for o in outcomes if not isinstance(o, AppError)) == [1, 2]
    assert gate.peek(schedule_id) == 0  # MySQL's count; the refused give nothing back


def test_a_retry_in_a_group_is_answered_with_its_order(grouped):
    schedule_id = _schedule(capacity=10)
    (a, a_patient), (b, b_patient) = make_patients(2)
    first, _ = holds.hold_slot(a, schedule_id, a_patient, "retried-key")
    redis_store.client.flushdb()  # Redis restarted: the retry's replay key is gone, MySQL knows
    gate.reset(schedule_id, 5)
    outcomes = _together(
        grouped,
        [(a, a_patient, schedule_id, "retried-key"), (b, b_patient, schedule_id, "fresh-key")],
    )
    assert (outcomes[0].id, outcomes[0].seq) == (first.id, 1)
    assert outcomes[1].seq == 2
    assert gate.peek(schedule_id) == 4  # the new hold took one; the retry's token came back


def test_a_group_that_fails_as_a_whole_writes_nothing_and_each_runs_alone(
    grouped, monkeypatch, caplog
):
    schedule_id = _schedule(capacity=10)
    pairs = make_patients(3)
    gate.reset(schedule_id, 7)
    run_together, failed = holds.run_together, []

    def lost_connection_once(connection, statements):
        if not failed:  # the group's writes, the first time: the connection is lost
            failed.append(len(statements))
            raise OperationalError("INSERT", {}, Exception("Lost connection to MySQL server"))
        return run_together(connection, statements)

    monkeypatch.setattr(holds, "run_together", lost_connection_once)
    with caplog.at_level(logging.WARNING, logger="app.services.booking.holds"):
        outcomes = _together(grouped, [(a, p, schedule_id, f"whole-{a}") for a, p in pairs])
    assert "a group of 3 holds failed" in caplog.text
    # Nothing of the failed group stayed; each hold, run again by itself, got its number.
    assert sorted(order.seq for order in outcomes) == [1, 2, 3]
    see_committed()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 3
    assert gate.peek(schedule_id) == 4


def test_the_group_size_comes_from_the_settings(grouped, monkeypatch):
    """With groups of one, holds arriving together are each their own transaction."""
    monkeypatch.setitem(grouped.config, "HOLD_GROUP_SIZE", 1)
    schedule_id = _schedule(capacity=10)
    pairs = make_patients(3)
    with SentQueries(sqlbatch.engine()) as sent:
        outcomes = _together(grouped, [(a, p, schedule_id, f"alone-{a}") for a, p in pairs])
    assert sorted(order.seq for order in outcomes) == [1, 2, 3]
    assert len(sent.sent) == 3 * 3
