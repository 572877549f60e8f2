"""Group commit: who runs which group, what every submitter gets back, and that nobody hangs."""

import threading
import time

import pytest

from app.groupcommit import GroupCommit

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


def test_the_size_must_be_at_least_one():
    with pytest.raises(ValueError):
        GroupCommit(lambda items: items, max_size=0)
