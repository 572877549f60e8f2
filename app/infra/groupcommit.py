"""Group commit: work items that threads of one process submit at the same time run together.

The first thread to submit becomes the leader and runs the group it finds waiting (its own item
included) in one go, e.g. one database transaction for many holds; the others wait. When its own
item is done and more have arrived meanwhile, the leader hands the lead to the oldest waiting
thread and returns, so no thread answers its own request late because it kept working for
others. Alone (a sync worker, a test) every group is a group of one, run by the caller.

With threads serving requests (gunicorn's gthread worker), the groups grow with the load: while
one transaction waits on MySQL, the requests that arrive queue up for the next one.

**Lingering for the threads on their way.** A leader may first wait a few milliseconds (at most
``linger`` seconds) while threads of the process that are serving a request could still submit
(``arrivals``: gunicorn.conf.py's hooks count each thread from the start of its request until
it is known to go elsewhere or ends). On a release morning a process's threads come back in a wave:
when a group of 15 holds ends, its threads answer and each takes the next hold; without waiting,
the first of them led a group of one or two while the other 13 queued behind it, and that small
group's transaction ran at a fraction of its speed, sharing the GIL with every thread of the wave
(several times its own CPU in wall time). Waiting for the wave makes one group of
the two, which runs with the others parked. So a thread counts from the start of its request to
its end, answering included: the threads of the group that just ended, and its leader doing the
after-group work, are the ones about to come back. A thread serving anything else stops counting
once the app knows it (app/api/hot.py), as does a hold refused before it joins a group, and a
leader with nobody on the way does not wait. When the counted threads do not come back (the
last groups of a release morning, a slow client whose request is still being read), a leader
waits its whole ``linger``: that bound is the price, paid once per group.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


class Arrivals:
    """The threads of this process that may submit an item soon.

    ``begin()`` counts the calling thread (a request starts), ``end()`` stops counting it (its
    request ends, or turned out to be one that submits nothing); both are idempotent per thread,
    so whoever learns first that a thread will not submit may say so. Threads that never began are
    never counted: with a sync worker or in a test nobody lingers.
    """

    def __init__(self):
        self._count = 0
        self._counted = threading.local()
        self._changed = threading.Condition(threading.Lock())
        self._watchers = 0  # leaders lingering: only then is a change announced

    @property
    def count(self) -> int:
        return self._count

    def begin(self):
        if not getattr(self._counted, "on", False):
            self._counted.on = True
            with self._changed:
                self._count += 1

    def end(self):
        if getattr(self._counted, "on", False):
            self._counted.on = False
            with self._changed:
                self._count -= 1
                if self._watchers:
                    self._changed.notify_all()

    def changed(self):
        """Wake the lingering leaders (an item was queued)."""
        if self._watchers:
            with self._changed:
                self._changed.notify_all()

    def wait_while(self, waiting_for: Callable[[int], bool], timeout: float):
        """Wait, at most ``timeout`` seconds, while ``waiting_for(count)`` is true; it is asked
        again at every change."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._watchers += 1
            try:
                while waiting_for(self._count):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._changed.wait(left)
            finally:
                self._watchers -= 1


# This process's threads, counted by the server that runs them (gunicorn.conf.py's hooks).
arrivals = Arrivals()


class _Ticket:
    __slots__ = ("error", "finished", "item", "lead", "result", "wake")

    def __init__(self, item):
        self.item = item
        self.wake = threading.Event()  # set once: with the outcome, or with the lead
        self.lead = False
        self.finished = False
        self.result = None
        self.error = None

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Runs ``run_group(items) -> results`` (one result per item, in order) for groups of at most
    ``max_size`` items submitted concurrently. A result that is an exception is raised in the
    thread that submitted the item; so is an exception raised by ``run_group`` itself, in every
    thread whose item was in that group.

    ``after_group(items, results)``, if given, is work that need not hold the others up (side
    effects after a commit): the leader runs it once the next leader and the group's waiters are
    on their way (a lingering next leader may wait for it, see the module docstring); an error
    it raises reaches the leader's caller if the leader's own item was in the group, and is
    logged otherwise.

    With ``linger`` (seconds), a leader first waits while more threads of ``arrivals`` are
    counted than items wait (the module docstring says why), at most that long.
    """

    def __init__(
        self,
        run_group: Callable[[Sequence], Sequence],
        max_size: int,
        after_group: Callable[[Sequence, Sequence], None] | None = None,
        linger: float = 0.0,
        arrivals: Arrivals = arrivals,
    ):
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if linger < 0:
            raise ValueError("linger cannot be negative")
        self._run_group = run_group
        self._after_group = after_group
        self._max_size = max_size
        self._linger = linger
        self._arrivals = arrivals
        self._lock = threading.Lock()
        self._waiting: deque[_Ticket] = deque()
        self._leading = False

    def submit(self, item):
        """Run ``item`` in the next group; its result, or raise its error."""
        ticket = _Ticket(item)
        with self._lock:
            self._waiting.append(ticket)
            lead = not self._leading
            self._leading = True
        if not lead:
            self._arrivals.changed()
            ticket.wake.wait()
            if not ticket.lead:
                return ticket.outcome()
        while True:
            group, results = self._run_next_group()
            if ticket.finished:
                self._pass_the_lead()
            for other in group:
                if other is not ticket:
                    other.wake.set()
            if self._after_group is not None:
                try:
                    self._after_group([other.item for other in group], results)
                except Exception:
                    if ticket in group:
                        raise  # the lead has passed: nobody is left waiting on this thread
                    log.exception("after a group of %d that did not hold this thread's", len(group))
            if ticket.finished:
                return ticket.outcome()

    def _pass_the_lead(self):
        with self._lock:
            # To the oldest waiter, or the lead ends; decided under the lock, so a thread that
            # submits now either waits for a leader that exists or leads itself.
            successor = self._waiting[0] if self._waiting else None
            if successor is None:
                self._leading = False
            else:
                successor.lead = True
        if successor is not None:
            successor.wake.set()

    def run_alone(self, item):
        """Run ``item`` as a group of one in this thread, outside the queue, then its
        after_group; its result, or raise its error (for an item that must not wait for or join
        anyone else's group)."""
        ticket = _Ticket(item)
        results = self._run([ticket])
        if self._after_group is not None:
            self._after_group([item], results)
        return ticket.outcome()

    def _run_next_group(self):
        if self._linger:
            # A thread that submitted stays counted (it is serving its request) and waits: so
            # more counted than waiting means someone is still on the way.
            self._arrivals.wait_while(
                lambda count: len(self._waiting) < min(count, self._max_size), self._linger
            )
        with self._lock:
            size = min(self._max_size, len(self._waiting))
            group = [self._waiting.popleft() for _ in range(size)]
        return group, self._run(group)

    def _run(self, group):
        """Run ``group`` and mark each ticket finished with its result; the results."""
        try:
            results = list(self._run_group([ticket.item for ticket in group]))
            if len(results) != len(group):
                raise RuntimeError("run_group must return one result per item")
        except BaseException as error:  # every waiter must wake, whatever happened
            results = [error] * len(group)
        for ticket, result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                ticket.error = result
            else:
                ticket.result = result
            ticket.finished = True
        return results


class OneAtATime:
    """Work per key that one thread of the process does while the others that ask for the same
    key meanwhile wait for it (at most ``timeout`` seconds) instead of doing it too."""

    def __init__(self, timeout: float = 2.0):
        self._timeout = timeout
        self._lock = threading.Lock()
        self._running: dict[object, threading.Event] = {}

    def run(self, key, work: Callable[[], None]) -> bool:
        """Do ``work`` unless another thread is doing it for ``key``: then wait for that one.
        Whether this thread did it (its errors are raised; a waiter just goes on)."""
        with self._lock:
            done = self._running.get(key)
            mine = done is None
            if mine:
                done = self._running[key] = threading.Event()
        if not mine:
            done.wait(self._timeout)
            return False
        try:
            work()
        finally:
            with self._lock:
                del self._running[key]
            done.set()
        return True
