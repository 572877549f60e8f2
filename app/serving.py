"""The gunicorn worker to serve the app with: ``--worker-class app.serving.ThreadWorker``.

It is gunicorn's gthread worker (a thread pool fed by one main thread that accepts connections)
with four changes for a process that, on a release morning, has a hundred requests queued:

- **A process takes new connections only while it can serve them soon**: while fewer than two
  requests per thread are being served or waiting for a thread. gunicorn's worker accepts
  everything it can, so on a release morning one process could hold a hundred requests while
  its sibling had threads free; here the rest wait in the listen backlog, which every process
  takes from in arrival order. With 2 × 16 threads, 200 in flight, six pairs against the
  unbounded worker: the burst's p99 lower in every pair (mean 197 → 167 ms), the 201s' by
  37 ms, the answers 4 % faster. Connections that have not sent a request yet, or sit parked
  between two (keep-alive), are not counted, so idle sockets cannot close the door; and a
  parked connection that speaks is served by its process whatever the count, so the balance
  is for a proxy that opens a connection per request (or ``--keep-alive 0``), as measured.
- **The main loop's cost does not grow with the queue.** gunicorn's loop calls
  ``concurrent.futures.wait`` over every request in flight after each batch of socket events
  (locking each one's condition and installing a waiter on each), and removes finished ones from
  a deque, both proportional to the queue, all with the GIL held. Profiled on the release-morning
  benchmark (2 × 16 threads, 200 in flight) that was ~11 % of the workers' GIL time. Here a
  finished request removes itself from a set, and the loop only waits for socket events.
- **A full worker still serves the connections it holds.** At ``--worker-connections`` gunicorn's
  loop stops selecting and waits for a request to finish; when the connections it holds are all
  still waiting for their request to arrive, none ever does, and the worker stalls (1 s at a time,
  for good). Here a full worker (by either limit) stops listening for new connections only, and
  the first request that finishes wakes it through gunicorn's own pipe (the one signals wake it
  through too).
- **What the app built at start is frozen out of the garbage collector** (``gc.freeze()`` once
  the app is loaded). A full collection otherwise walks those ~150,000 objects: 65 ms idle,
  80–115 ms measured in a busy worker, a pause of every thread of the process. Objects made later
  are collected as before.

The heartbeat that tells the master the worker is alive is also written at most once a second
(gunicorn writes it at every turn of the loop, a system call each), well within its timeout, and
goes on while a stopping worker finishes its last requests (after a reload the master would
otherwise kill it mid-request once the timeout passes); a signal to stop ends the loop at once
instead of at its next second, and the parked keep-alive connections are closed rather than left
unanswered until the end. Each thread is also counted while it serves a request, for the hold
groups' leaders to wait for (``app.groupcommit.arrivals``). Everything else (parsing,
keep-alive, signals) is gunicorn's.
"""

import contextlib
import gc
import os
import selectors
import threading
import time
from concurrent import futures
from functools import partial

from gunicorn.workers import gthread

from app.groupcommit import arrivals


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker, bounded and cheaper under a queue; see the module docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._in_flight = set()  # futures of the requests submitted and not finished
        self._in_flight_lock = threading.Lock()
        self._listeners = {}  # listening socket → its accept callback
        # Requests being served or waiting for a thread, at most: one waiting per thread.
        self._max_active = 2 * self.cfg.threads
        self._accepting = False
        self._full = False  # set by the main thread: finished requests then wake it
        self._woken_already = False  # a wake byte is on its way: no need for another
        self._last_notify = float("-inf")

    def load_wsgi(self):
        super().load_wsgi()
        gc.collect()  # what start-up already threw away is not frozen with the rest
        gc.freeze()

    def notify(self):
        # The master kills a worker silent for its timeout; this one is nearly always <1 s.
        now = time.monotonic()
        if now - self._last_notify >= min(1.0, self.timeout / 2):
            self._last_notify = now
            super().notify()

    def handle(self, conn):
        # Counted while it serves the request: a hold group's leader may wait for it
        # (app/groupcommit.py) until the app knows the request is not a hold.
        arrivals.begin()
        try:
            return super().handle(conn)
        finally:
            arrivals.end()

    def _wrap_future(self, fs, conn):
        fs.conn = conn
        with self._in_flight_lock:
            self._in_flight.add(fs)
        fs.add_done_callback(self._finished)

    def _finished(self, fs):
        """In the thread that ran the request (or the one that cancelled it). finish_request
        counts the connection out (``nr_conns -= 1`` from this thread, as gunicorn does: one
        bytecode-level step under the GIL; a lost count would keep the worker full)."""
        try:
            self.finish_request(fs)  # closes the connection or parks it for keep-alive
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(fs)
            # Room again, or a stop asked from a request thread (--max-requests).
            if (self._full or not self.alive) and not self._woken_already:
                self._woken_already = True
                self._wake()

    def _wake(self):
        """Wake the main thread from its select. gunicorn's own pipe: the signal handlers'
        wakeup fd (signal.set_wakeup_fd), so a stop signal that another thread receives wakes
        it too."""
        with contextlib.suppress(OSError):  # BlockingIOError: the pipe is full, it is woken
            os.write(self.PIPE[1], b".")

    def _woken(self, fileobj):
        with contextlib.suppress(BlockingIOError):  # read to the end
            while os.read(self.PIPE[0], 4096):
                pass
        # After the read: a request that finishes meanwhile either writes again or finds the
        # flag still set, and then its room is seen when the loop looks, right after this.
        self._woken_already = False

    def _has_room(self):
        # Only requests count: a connection that has sent nothing yet, or sits parked between
        # two requests (keep-alive), costs nothing until it speaks, and counts only against
        # gunicorn's --worker-connections (idle sockets must not close the door).
        return (
            self.alive
            and self.nr_conns < self.worker_connections
            and len(self._in_flight) < self._max_active
        )

    def _accept_while_room(self):
        """Listen for new connections only while there is room for one more: a full worker
        leaves them in the backlog for its siblings, still serves the connections it has, and
        is woken by the first request that finishes."""
        room = self._has_room()
        if not room:
            self._full = True
            room = self._has_room()  # a request that finished before it saw the flag
        self._full = not room
        if room != self._accepting:
            with self._lock:  # the request threads register kept-alive connections meanwhile
                for sock, accept in self._listeners.items():
                    if room:
                        self.poller.register(sock, selectors.EVENT_READ, accept)
                    else:
                        self.poller.unregister(sock)
            self._accepting = room

    def run(self):
        for sock in self.sockets:
            sock.setblocking(False)
            # The listener's name, captured once: it may be gone during a graceful shutdown.
            self._listeners[sock] = partial(self.accept, sock.getsockname())
        self.poller.register(self.PIPE[0], selectors.EVENT_READ, self._woken)
        while self.alive:
            self.notify()
            self._accept_while_room()
            for key, _ in self.poller.select(1.0):
                key.data(key.fileobj)  # accept, hand a readable connection to a thread, or woken
            if not self.is_parent_alive():
                break
            self.murder_keepalived()

        self.tpool.shutdown(False)
        self.poller.close()
        for sock in self.sockets:
            sock.close()
        with self._lock:  # parked connections will not be served: closed, so clients retry
            parked = list(self._keep)
            self._keep.clear()
        for conn in parked:
            conn.close()
        with self._in_flight_lock:
            in_flight = set(self._in_flight)
        # The requests in flight finish within the graceful timeout, the heartbeat going on
        # meanwhile: after a reload (HUP) the master still kills an old worker that falls
        # silent for its timeout, in the middle of its last requests.
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while in_flight and (left := deadline - time.monotonic()) > 0:
            self.tmp.notify()
            in_flight = futures.wait(in_flight, timeout=min(1.0, left)).not_done
