"""The gunicorn worker to serve the app with: ``--worker-class app.serving.ThreadWorker``.

It is gunicorn's gthread worker (a thread pool fed by one main thread that accepts connections)
with four changes for a process that, on a release morning, has a hundred requests queued:

- **A process takes only the connections it can serve soon**: at most two per thread being
  served or waiting for one (parked keep-alive connections do not count). gunicorn's worker
  accepts everything it can, so on a release morning one process could hold a hundred requests
  while its sibling had threads free; here the rest wait in the listen backlog, which every
  process takes from in arrival order. With 2 × 16 threads, 200 in flight, six pairs against
  the unbounded worker: the burst's p99 lower in every pair (mean 197 → 167 ms), the 201s' by
  37 ms, the answers 4 % faster.

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
  the first request that finishes wakes it through a pipe.
- **What the app built at start is frozen out of the garbage collector** (``gc.freeze()`` once
  the app is loaded). A full collection otherwise walks those ~150,000 objects: 65 ms idle,
  80–115 ms measured in a busy worker, a pause of every thread of the process. Objects made later
  are collected as before.

The heartbeat that tells the master the worker is alive is also written at most once a second
(gunicorn writes it at every turn of the loop, a system call each), well within its timeout, and
goes on while a stopping worker finishes its last requests (after a reload the master would
otherwise kill it mid-request once the timeout passes), and a signal to stop ends the loop at
once instead of at its next second. Everything else (parsing, keep-alive, signals) is gunicorn's.
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


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker, bounded and cheaper under a queue; see the module docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._in_flight = set()  # futures of the requests submitted and not finished
        self._in_flight_lock = threading.Lock()
        self._listeners = {}  # listening socket → its accept callback
        # Connections being served or waiting for a thread, at most: one waiting per thread.
        self._max_active = 2 * self.cfg.threads
        self._accepting = False
        self._full = False  # set by the main thread: finished requests then wake it
        self._wake_read = self._wake_write = None
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
            if self._full:
                self._wake()

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)  # the loop ends at its next turn…
        if self._wake_write is not None:
            self._wake()  # …which is now, not when select times out

    def _wake(self):
        """Wake the main thread from its select (there is room again, or it is to stop)."""
        with contextlib.suppress(OSError):  # BlockingIOError: the pipe is full, it is woken
            os.write(self._wake_write, b".")

    def _woken(self, fileobj):
        with contextlib.suppress(BlockingIOError):  # read to the end
            while os.read(self._wake_read, 4096):
                pass

    def _has_room(self):
        # Parked keep-alive connections cost nothing until they speak: they count only against
        # gunicorn's --worker-connections.
        return (
            self.nr_conns < self.worker_connections
            and self.nr_conns - len(self._keep) < self._max_active
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
        return room

    def run(self):
        for sock in self.sockets:
            sock.setblocking(False)
            # The listener's name, captured once: it may be gone during a graceful shutdown.
            self._listeners[sock] = partial(self.accept, sock.getsockname())
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self.poller.register(self._wake_read, selectors.EVENT_READ, self._woken)
        while self.alive:
            self.notify()
            self._accept_while_room()
            for key, _ in self.poller.select(1.0):
                key.data(key.fileobj)  # accept, hand a readable connection to a thread, or woken
            if not self.is_parent_alive():
                break
            self.murder_keepalived()

        self._full = False  # the pipe stays open until the process ends: no write lands elsewhere
        self.tpool.shutdown(False)
        self.poller.close()
        for sock in self.sockets:
            sock.close()
        with self._in_flight_lock:
            in_flight = set(self._in_flight)
        # The requests in flight finish within the graceful timeout, the heartbeat going on
        # meanwhile: after a reload (HUP) the master still kills an old worker that falls
        # silent for its timeout, in the middle of its last requests.
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while in_flight and (left := deadline - time.monotonic()) > 0:
            self.tmp.notify()
            in_flight = futures.wait(in_flight, timeout=min(1.0, left)).not_done
