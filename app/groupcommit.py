"""Group commit: work items that threads of one process submit at the same time run together.

The first thread to submit becomes the leader and runs the group it finds waiting (its own item
included) in one go, e.g. one database transaction for many holds; the others wait. When its own
item is done and more have arrived meanwhile, the leader hands the lead to the oldest waiting
thread and returns, so no thread answers its own request late because it kept working for
others. Alone (a sync worker, a test) every group is a group of one, run by the caller.

With threads serving requests (gunicorn's gthread worker), the groups grow with the load: while
one transaction waits on MySQL, the requests that arrive queue up for the next one.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


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
    on their way; an error it raises reaches the leader's caller if the leader's own item was in
    the group, and is logged otherwise.
    """

    def __init__(
        self,
        run_group: Callable[[Sequence], Sequence],
        max_size: int,
        after_group: Callable[[Sequence, Sequence], None] | None = None,
    ):
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._run_group = run_group
        self._after_group = after_group
        self._max_size = max_size
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
