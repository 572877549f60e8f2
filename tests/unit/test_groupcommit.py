"""Group commit: who runs which group, what every submitter gets back, and that nobody hangs."""

import threading
import time

import pytest

from app.infra.groupcommit import Arrivals, GroupCommit, OneAtATime

WAIT = 10  # seconds; generous, only reached when something hangs


class Recorder:
    """A run_group that records its groups and can hold the first one until released."""

    def __init__(self, hold_first=False):
        self.groups = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items):
        self.groups.append(list(items))
        self.entered.set()
        assert self.release.wait(WAIT)
        return [ValueError(item) if item < 0 else item * 10 for item in items]


def submit_all(group_commit, items):
    """Submit each item from its own thread; {item: result or the error's class}."""
    results, lock = {}, threading.Lock()

    def submit(item):
        try:
            outcome = group_commit.submit(item)
        except Exception as error:
            outcome = type(error)
        with lock:
            results[item] = outcome

    threads = [threading.Thread(target=submit, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, results


def join(threads):
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive(), "a submitter hangs"


def waiting_until(predicate):
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def first_then_queued(group_commit, recorder, first_item, items):
    """Submit ``first_item``, hold its group open until ``items`` all wait, then let it go and
    wait for every submitter; (results of the first, results of the others)."""
    first, first_results = submit_all(group_commit, [first_item])
    assert recorder.entered.wait(WAIT)
    rest, results = submit_all(group_commit, items)
    waiting_until(lambda: len(group_commit._waiting) == len(items))
    recorder.release.set()
    join(first + rest)
    return first_results, results


def test_alone_each_item_is_a_group_of_one_run_by_the_caller():
    recorder = Recorder()
    group_commit = GroupCommit(recorder, max_size=8)
    assert group_commit.submit(1) == 10
    assert group_commit.submit(2) == 20
    with pytest.raises(ValueError):
        group_commit.submit(-3)
    assert recorder.groups == [[1], [2], [-3]]
    assert group_commit.submit(4) == 40  # an error did not leave the lead taken


def test_items_that_arrive_while_a_group_runs_form_the_next_group():
    recorder = Recorder(hold_first=True)
    group_commit = GroupCommit(recorder, max_size=8)
    first_results, results = first_then_queued(group_commit, recorder, 1, [2, 3, 4, -5])
    assert recorder.groups[0] == [1]
    assert sorted(recorder.groups[1]) == [-5, 2, 3, 4]  # one transaction for the four
    assert len(recorder.groups) == 2
    assert first_results == {1: 10}
    assert results == {2: 20, 3: 30, 4: 40, -5: ValueError}


def test_groups_never_exceed_the_size_and_every_item_is_answered_once():
    recorder = Recorder(hold_first=True)
    group_commit = GroupCommit(recorder, max_size=3)
    _, results = first_then_queued(group_commit, recorder, 100, list(range(1, 11)))
    assert all(len(group) <= 3 for group in recorder.groups)
    assert sorted(item for group in recorder.groups for item in group) == [*range(1, 11), 100]
    assert results == {item: item * 10 for item in range(1, 11)}


def test_many_threads_many_items():
    group_commit = GroupCommit(lambda items: [item + 1 for item in items], max_size=5)
    results, lock = [], threading.Lock()

    def worker(base):
        for item in range(base, base + 50):
            value = group_commit.submit(item)
            with lock:
                results.append((item, value))

    threads = [threading.Thread(target=worker, args=(base * 1000,)) for base in range(12)]
    for thread in threads:
        thread.start()
    join(threads)
    assert len(results) == 600
    assert all(value == item + 1 for item, value in results)


def test_a_failing_group_raises_in_every_submitter_of_it_and_the_next_group_runs():
    recorder = Recorder(hold_first=True)

    def run_group(items):
        if recorder.groups:
            recorder.groups.append(list(items))
            raise RuntimeError("the database went away")
        return recorder(items)

    group_commit = GroupCommit(run_group, max_size=8)
    first_results, results = first_then_queued(group_commit, recorder, 1, [2, 3])
    assert first_results == {1: 10}
    assert results == {2: RuntimeError, 3: RuntimeError}
    assert len(recorder.groups) == 2  # 2 and 3 were one group
    with pytest.raises(RuntimeError):
        group_commit.submit(4)  # led by this thread: the lead was given back


def test_a_wrong_number_of_results_is_an_error_not_a_hang():
    group_commit = GroupCommit(lambda items: [], max_size=4)
    with pytest.raises(RuntimeError, match="one result per item"):
        group_commit.submit(1)


def test_after_group_runs_once_per_group_after_everyone_is_answered():
    seen = []
    recorder = Recorder(hold_first=True)
    group_commit = GroupCommit(
        recorder, max_size=8, after_group=lambda items, results: seen.append((items, results))
    )
    _, results = first_then_queued(group_commit, recorder, 1, [2, 3])
    assert seen[0] == ([1], [10])
    assert sorted(seen[1][0]) == [2, 3] and sorted(seen[1][1]) == [20, 30]
    assert len(seen) == 2 and results == {2: 20, 3: 30}


def test_an_after_group_error_reaches_its_leader_only_and_leaves_no_one_waiting():
    def after_group(items, results):
        raise OSError("after the commit")

    group_commit = GroupCommit(lambda items: list(items), max_size=8, after_group=after_group)
    with pytest.raises(OSError):
        group_commit.submit(1)
    threads, results = submit_all(group_commit, [2, 3, 4])
    join(threads)
    # Each thread's item was in a group it led or waited in; followers get their results.
    assert set(results) == {2, 3, 4}
    assert all(value in (OSError, item) for item, value in results.items())
    with pytest.raises(OSError):
        group_commit.submit(5)  # run: the lead is free again


def test_run_alone_runs_in_the_caller_beside_a_running_group():
    seen, groups = [], []
    entered, release = threading.Event(), threading.Event()

    def run_group(items):
        groups.append(list(items))
        if items == [1]:  # the group that stays open
            entered.set()
            assert release.wait(WAIT)
        return [ValueError(item) if item < 0 else item * 10 for item in items]

    group_commit = GroupCommit(
        run_group, max_size=8, after_group=lambda items, results: seen.append((items, results))
    )
    first, first_results = submit_all(group_commit, [1])
    assert entered.wait(WAIT)
    assert group_commit.run_alone(2) == 20  # not queued behind the group that is still open
    with pytest.raises(ValueError):
        group_commit.run_alone(-3)
    release.set()
    join(first)
    assert first_results == {1: 10}
    assert groups == [[1], [2], [-3]]
    assert ([2], [20]) in seen and len(seen) == 3


def test_the_size_must_be_at_least_one_and_the_linger_not_negative():
    with pytest.raises(ValueError):
        GroupCommit(lambda items: items, max_size=0)
    with pytest.raises(ValueError):
        GroupCommit(lambda items: items, max_size=4, linger=-0.001)


def test_arrivals_count_each_thread_once():
    arrivals = Arrivals()
    arrivals.begin()
    arrivals.begin()
    assert arrivals.count == 1
    other = threading.Thread(target=arrivals.begin)
    other.start()
    other.join()
    assert arrivals.count == 2  # that thread stays counted until it ends
    arrivals.end()
    arrivals.end()
    assert arrivals.count == 1


class _Counted:
    """A thread counted among ``arrivals`` that submits ``item`` (or just ends) when told."""

    def __init__(self, arrivals, group_commit, item=None):
        self.go, self.counted = threading.Event(), threading.Event()
        self.results = {}

        def run():
            arrivals.begin()
            self.counted.set()
            assert self.go.wait(WAIT)
            if item is not None:
                self.results[item] = group_commit.submit(item)
            arrivals.end()

        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.counted.wait(WAIT)


def test_a_leader_lingers_for_a_counted_thread_on_its_way_and_no_longer():
    arrivals = Arrivals()
    recorder = Recorder()
    group_commit = GroupCommit(recorder, max_size=8, linger=WAIT, arrivals=arrivals)
    late = _Counted(arrivals, group_commit, item=2)
    arrivals.begin()  # this thread, serving its request
    threading.Timer(0.2, late.go.set).start()
    started = time.monotonic()
    assert group_commit.submit(1) == 10
    waited = time.monotonic() - started
    arrivals.end()
    join([late.thread])
    assert recorder.groups == [[1, 2]]  # one group: the leader waited for the late one
    assert late.results == {2: 20}
    assert 0.15 < waited < WAIT / 2  # until it came, not the whole linger


def test_a_leader_stops_lingering_when_the_counted_thread_turns_elsewhere():
    arrivals = Arrivals()
    recorder = Recorder()
    group_commit = GroupCommit(recorder, max_size=8, linger=WAIT, arrivals=arrivals)
    elsewhere = _Counted(arrivals, group_commit)  # ends without submitting
    arrivals.begin()
    threading.Timer(0.1, elsewhere.go.set).start()
    started = time.monotonic()
    assert group_commit.submit(1) == 10
    assert time.monotonic() - started < WAIT / 2
    arrivals.end()
    join([elsewhere.thread])
    assert recorder.groups == [[1]]


def test_a_leader_lingers_at_most_its_linger():
    arrivals = Arrivals()
    recorder = Recorder()
    group_commit = GroupCommit(recorder, max_size=8, linger=0.2, arrivals=arrivals)
    never = _Counted(arrivals, group_commit)  # counted, but stays away
    arrivals.begin()
    started = time.monotonic()
    assert group_commit.submit(1) == 10
    waited = time.monotonic() - started
    arrivals.end()
    never.go.set()
    join([never.thread])
    assert 0.15 < waited < WAIT / 2
    assert recorder.groups == [[1]]


def test_without_another_counted_thread_or_a_linger_nobody_waits():
    arrivals = Arrivals()
    lingering = GroupCommit(Recorder(), max_size=8, linger=WAIT, arrivals=arrivals)
    started = time.monotonic()
    assert lingering.submit(1) == 10  # nobody counted (a sync worker, a test)
    arrivals.begin()
    assert lingering.submit(2) == 20  # only this thread is counted: nobody is on the way
    other = _Counted(arrivals, None)
    assert GroupCommit(Recorder(), max_size=8, arrivals=arrivals).submit(3) == 30  # no linger
    assert time.monotonic() - started < WAIT / 2
    arrivals.end()
    other.go.set()
    join([other.thread])
    assert arrivals.count == 0


def test_one_at_a_time_runs_the_work_once_while_the_others_wait_for_it():
    once = OneAtATime()
    entered, release = threading.Event(), threading.Event()
    runs, outcomes = [], []

    def work():
        runs.append(threading.get_ident())
        entered.set()
        assert release.wait(WAIT)

    first = threading.Thread(target=lambda: outcomes.append(once.run("gate:7", work)))
    first.start()
    assert entered.wait(WAIT)
    others = [
        threading.Thread(target=lambda: outcomes.append(once.run("gate:7", work))) for _ in range(5)
    ]
    for thread in others:
        thread.start()
    assert once.run("gate:8", lambda: runs.append("8")) is True  # another key: not held up
    waiting_until(lambda: len(once._running["gate:7"]._cond._waiters) == 5)  # for the first
    assert outcomes == []
    release.set()
    join([first, *others])
    assert sorted(outcomes) == [False] * 5 + [True]
    assert len(runs) == 2  # gate:7 once, gate:8 once
    assert once.run("gate:7", lambda: runs.append("again")) is True  # done: runs again


def test_one_at_a_time_raises_the_error_in_the_thread_that_ran_it_only():
    once = OneAtATime()

    def fail():
        raise OSError("MySQL went away")

    with pytest.raises(OSError):
        once.run("k", fail)
    assert once.run("k", lambda: None) is True  # the key is free again
