"""gunicorn's settings for the app: ``gunicorn -c gunicorn.conf.py wsgi:app``.

gunicorn's gthread worker: one process per core (``--workers`` or gunicorn's own
``WEB_CONCURRENCY``), threads in each, so that holds arriving together meet in one group commit
(app/infra/groupcommit.py). The worker is gthread with two changes, HeadFirstWorker below: a
thread gets a connection only once its request head has arrived whole, and a worker accepts
connections only while it has a thread free (or ADMIT_AHEAD more). Command-line options
override what is set here; docs/deployment.md gives the production command and
docs/performance.md the measurements behind these values.
"""

import gc
import glob
import os
import resource
import selectors
import socket
import struct
import tempfile
import time
from functools import partial

# The directory where the workers count their metrics together (app/infra/metrics.py): named
# before anything imports prometheus_client, which reads it once, in the master that then
# forks the workers. A deployment may name its own (e.g. systemd's RuntimeDirectory).
_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
os.environ.setdefault(_METRICS_DIR, tempfile.mkdtemp(prefix="booking-metrics-"))

from gunicorn.errors import ConfigError  # noqa: E402
from gunicorn.glogging import Logger  # noqa: E402
from gunicorn.workers.gthread import ThreadWorker  # noqa: E402

from app.infra import metrics  # noqa: E402 - after the directory is named
from app.infra.groupcommit import arrivals  # noqa: E402
from app.infra.logs import JsonFormatter  # noqa: E402

wsgi_app = "wsgi:app"
threads = 16
# Connections one worker holds at once, those still sending their request head included; more
# wait in the listen backlog. One waiting for its head costs a socket and at most HEAD_MAX bytes,
# no thread, and is closed after CLIENT_TIMEOUT (on_starting raises the open-files limit to fit).
worker_connections = 2048
# On a release morning the requests beyond the threads wait in the kernel's listen backlog,
# which net.core.somaxconn caps (128 on kernels before 5.4): raise both together.
backlog = 2048
keepalive = 5
timeout = 30
graceful_timeout = 20
# A request line, a header or a header count beyond these is refused (400) before the app.
limit_request_line = 8190
limit_request_fields = 60
limit_request_field_size = 8190
# A client has this many seconds to send a whole request head (from its connection's accept, or
# from the first byte of its next request on a kept-alive one), and as long for each next part of
# its body and to take each next part of the answer; it is closed otherwise. A head over HEAD_MAX
# bytes is closed at once: nginx sends at most 4 × 8 KB of head (large_client_header_buffers)
# and a few headers of its own. (Both read by HeadFirstWorker, not by gunicorn.)
CLIENT_TIMEOUT = 5.0
HEAD_MAX = 64 * 1024
# Requests a worker takes beyond its threads: a thread that finishes finds the next one waiting
# rather than an empty queue while the loop accepts, and the rest wait in the listen backlog
# for whichever worker frees a thread first. (Read by HeadFirstWorker.)
ADMIT_AHEAD = 4


def _head_ends(head, start):
    """Whether ``head`` holds the empty line that ends a request head, looking from ``start``
    (where the new bytes begin), or a bare LF there, which gunicorn's parser refuses at once."""
    if head.find(b"\r\n\r\n", max(start - 3, 0)) >= 0:
        return True
    lf = head.find(b"\n", start)
    while lf >= 0:
        if lf == 0 or head[lf - 1] != ord("\r"):
            return True
        lf = head.find(b"\n", lf + 1)
    return False


class HeadFirstWorker(ThreadWorker):
    """gunicorn's gthread worker, except that a connection goes to a thread only once its request
    head has arrived whole, that a client never makes the worker's loop wait, and that a worker
    accepts new connections only while one of its threads is free (or ADMIT_AHEAD more).

    Stock gthread (27.0.1) hands each accepted connection to a thread at once: the thread waits
    up to 5 s for a first byte, then reads the head with blocking reads and no deadline. So 2,000
    connections that never speak queue ahead of every real request, and a few that send one
    header line every 3 s keep the threads for as long as they like. And it closes a connection
    in the worker's loop itself, waiting up to 2 s there for the client to close its side, while
    nothing else is served: ten clients that ask for "Connection: close" and then hold on stall
    a worker for 20 s. (tests/e2e/test_slow_clients.py shows each.) Here the loop, which already
    watches the kept-alive connections, reads heads and the last bytes of closing connections
    without blocking, and closes either after CLIENT_TIMEOUT; the thread parses the head with
    gunicorn's parser as before, and each read of a body or write of an answer waits
    CLIENT_TIMEOUT at most.

    Stock gthread also accepts every connection it can (up to worker_connections) and queues its
    request for the worker's threads, so the requests behind a slow one (a payment waiting for its
    channel) wait in one worker while the other may have threads free. Here a worker whose
    threads all have a request, and ADMIT_AHEAD more waiting, leaves new connections in the
    listen backlog, for whichever worker frees a thread first; connections already accepted
    (kept alive, or waiting for their head) are served as before.

    The head-first reading is kept for safety, not speed (paired runs with ab on this machine:
    the same requests per second as stock gthread, within the noise); behind nginx, which sends
    whole requests, it never waits. Plain HTTP/1 only: TLS, HTTP/2 and the PROXY protocol would
    need the bytes read differently.
    """

    @classmethod
    def check_config(cls, cfg, log):
        super().check_config(cfg, log)
        if cfg.is_ssl or "h2" in cfg.http_protocols or cfg.proxy_protocol != "off":
            raise ConfigError("HeadFirstWorker serves plain HTTP/1: TLS and HTTP/2 end at nginx")
        if cfg.protocol != "http":
            raise ConfigError("HeadFirstWorker serves HTTP, not " + cfg.protocol)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.admitted = 0  # requests (whole heads) in a thread or waiting for one

    def set_accept_enabled(self, enabled):
        """Accept new connections only while a thread is free, or ADMIT_AHEAD more."""
        super().set_accept_enabled(enabled and self.admitted < self.cfg.threads + ADMIT_AHEAD)

    def is_parent_alive(self):
        """As gthread's; a worker whose master is gone also stops being ``alive``, so that while
        it drains no answered request makes it accept again (``_admit``)."""
        if super().is_parent_alive():
            return True
        self.alive = False
        return False

    def _admit(self):
        self.set_accept_enabled(self.alive and self.nr_conns < self.worker_connections)

    def enqueue_req(self, conn):
        """Wait in the worker's loop for the connection's request head: a new connection, a
        kept-alive one that became readable, or one whose client sent its next request ahead."""
        if conn.parser is None:  # new: a thread's reads and writes on it wait this long at most
            timeval = struct.pack("ll", int(CLIENT_TIMEOUT), int(CLIENT_TIMEOUT % 1 * 1e6))
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
            conn.head = bytearray()
        else:
            conn.head = bytearray(conn.parser.unreader.take_buffered())
        self._wait_in_loop(conn, self._read_head)
        if _head_ends(conn.head, 0):
            self._leave_loop(conn, whole=True)
        else:
            self._read_head(conn)  # often there already

    def finish_request(self, conn, fs):
        """As gthread's, except that a connection to close waits in the loop for its client to
        close too (or for CLIENT_TIMEOUT), instead of the loop waiting on it."""
        self.admitted -= 1
        self._admit()
        if fs.cancelled() or fs.exception() is not None or fs.result():
            super().finish_request(conn, fs)
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)  # the answer is all sent
        except OSError:
            self.nr_conns -= 1
            conn.close()
            return
        self._wait_in_loop(conn, self._drain)

    def _wait_in_loop(self, conn, on_readable):
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + CLIENT_TIMEOUT
        self.pending_conns.append(conn)  # the stock murder_pending() closes it past conn.timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(on_readable, conn))

    def _read_head(self, conn, _sock=None):
        """Read what has arrived: the connection goes to a thread once its head is whole, and is
        closed if its client hung up or the head grew past HEAD_MAX."""
        start = len(conn.head)
        try:
            data = conn.sock.recv(8192)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.head += data
        if data and _head_ends(conn.head, start):
            self._leave_loop(conn, whole=True)
        elif not data or len(conn.head) > HEAD_MAX:
            self._leave_loop(conn, whole=False)

    def _drain(self, conn, _sock=None):
        """Drop what a closing connection's client still sends; close once it has closed too."""
        try:
            if conn.sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._leave_loop(conn, whole=False)

    def _leave_loop(self, conn, whole):
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)
        if whole:
            conn.init()  # plain HTTP/1: the parser, and the socket blocking again
            conn.parser.unreader.unread(bytes(conn.head))
            conn.head = None
            self.admitted += 1
            self._admit()
            super().enqueue_req(conn)
        else:
            self.nr_conns -= 1
            conn.close()


worker_class = HeadFirstWorker


class JsonLogger(Logger):
    """gunicorn's own messages as JSON lines, like the app's; no access log from gunicorn: the
    app writes one line per request (app/api/observed.py)."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    @property
    def access_log_enabled(self):
        return False


logger_class = JsonLogger


def on_starting(server):
    """Start counting from zero: a previous run's files in the directory are dropped. And let
    each worker open its worker_connections sockets (the workers inherit the limit)."""
    for stale in glob.glob(os.path.join(os.environ[_METRICS_DIR], "*.db")):
        os.remove(stale)
    # Besides the clients: the database pools, Redis, the metrics' files, the logs.
    wanted = server.cfg.worker_connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if soft < wanted:
            server.log.warning("open files limited to %d: raise LimitNOFILE/ulimit -n", soft)


def child_exit(server, worker):
    """A worker ended: its live-only metrics no longer count."""
    metrics.process_ended(os.environ.get(_METRICS_DIR), worker.pid)


def post_worker_init(worker):
    """Freeze what the app built at start out of the garbage collector: a full collection
    otherwise walks every one of those objects, a pause of the whole process."""
    gc.collect()
    gc.freeze()


def pre_request(worker, req):
    """Count this thread while it serves a request: a hold group's leader may wait for it."""
    arrivals.begin()


def post_request(worker, req, environ, resp):
    """The request is answered: a hold group's leader no longer waits for this thread."""
    arrivals.end()
