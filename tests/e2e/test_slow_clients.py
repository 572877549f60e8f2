"""Idle and slow clients cannot stop the server: 2,000 connections that never send a byte and 20
that send one more header line every 3 s without ever ending their request, against gunicorn
alone (gunicorn.conf.py with `make run`'s 2 workers × 4 threads, serving tests/e2e/serving_app.py)
and through the shipped nginx site. Meanwhile a fresh connection's GET /livez answers 200 in under
a second, every time; and the server closes the idle and the slow connections within its timeout
for a request head (gunicorn.conf.py's CLIENT_TIMEOUT, nginx's client_header_timeout). Also:
clients that hold on to a connection gunicorn is closing, a head that arrives in quick pieces,
and nginx's limit on the requests one address has in progress.
"""

import contextlib
import http.client
import os
import re
import resource
import selectors
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from bench.server import ROOT, Gunicorn, free_port
from tests.e2e.nginx_helpers import NGINX, SITE, Nginx

APP = "tests.e2e.serving_app:app"
IDLE = 2000
SLOW = 20
HEADER_EVERY = 3.0
ANSWER_WITHIN = 1.0
PROBES = 5
# On top of a server's own timeout, for its loop to notice (gunicorn looks once a second) and for
# a machine whose two cores are shared with other test runs.
CLOSE_MARGIN = 5.0
# Descriptors this process needs besides the sockets (pytest, logs, the probes); gunicorn and nginx
# inherit the limit and hold as many sockets again.
SPARE_FILES = 512


def _setting(path, pattern):
    """The one value ``pattern`` (a regex with one group) finds in the file at ``path``."""
    values = set(re.findall(pattern, Path(path).read_text(), flags=re.MULTILINE))
    assert len(values) == 1, (path, pattern, values)
    return float(values.pop())


# The server's own timeouts, read from the files that set them.
CLIENT_TIMEOUT = _setting(ROOT / "gunicorn.conf.py", r"^CLIENT_TIMEOUT = ([\d.]+)")
NGINX_HEADER_TIMEOUT = _setting(SITE, r"^\s*client_header_timeout (\d+)s;")
PER_ADDRESS = int(_setting(SITE, r"^\s*limit_conn booking_perip (\d+);"))


@pytest.fixture(scope="module", autouse=True)
def open_files():
    """Room for every socket of the test: the soft limit raised to what the test needs (up to
    the hard limit, which root may raise too). A limit that cannot be raised fails the test
    rather than shrinking it."""
    needed = IDLE + SLOW + SPARE_FILES
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = before
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed and os.geteuid() == 0:
            hard = needed
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, before)


def _connect(port, host="127.0.0.1"):
    return socket.create_connection((host, port), timeout=10)


class SlowClients:
    """``count`` connections to ``port`` that send a request line and then one more header line
    every ``every`` seconds, never the empty line that ends a request head. A thread of its own
    sends the lines and notes when the server closes each connection (``wrap`` makes them TLS)."""

    def __init__(self, port, count, every, wrap=None):
        self.port, self.count, self.every, self.wrap = port, count, every, wrap
        self.socks = []
        self.closed = {}  # socket → seconds from the start until the server closed it
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.started = time.monotonic()
        for index in range(self.count):
            sock = _connect(self.port)
            if self.wrap is not None:
                sock = self.wrap(sock)
            sock.sendall(f"GET /slow/{index} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
            sock.setblocking(False)
            self.socks.append(sock)
        self.thread.start()
        return self

    def _run(self):
        selector = selectors.DefaultSelector()
        for sock in self.socks:
            selector.register(sock, selectors.EVENT_READ)
        lines = 0
        next_line = time.monotonic() + self.every
        while not self.stop.is_set():
            for key, _ in selector.select(timeout=max(0.0, min(0.2, next_line - time.monotonic()))):
                if _hung_up(key.fileobj):
                    selector.unregister(key.fileobj)
                    self.closed[key.fileobj] = time.monotonic() - self.started
            if time.monotonic() >= next_line:
                lines += 1
                for sock in self.socks:
                    # A send fails once the server has closed: the reads above notice.
                    with contextlib.suppress(OSError):
                        if sock not in self.closed:
                            sock.send(f"X-Slow-{lines}: {'x' * 20}\r\n".encode())
                next_line += self.every
        selector.close()

    def all_closed_within(self, seconds):
        """Whether the server closed every connection by ``seconds`` after they were opened."""
        deadline = self.started + seconds
        while len(self.closed) < self.count and time.monotonic() < deadline:
            time.sleep(0.1)
        return len(self.closed) == self.count

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


def _hung_up(sock):
    """Read what the server sent on a readable socket: whether it has closed the connection."""
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False
    except OSError:  # reset, or a TLS alert
        return True


class IdleClients:
    """``count`` connections to ``port`` that never send anything."""

    def __init__(self, port, count):
        self.port, self.count = port, count
        self.socks = []

    def __enter__(self):
        self.started = time.monotonic()
        for _ in range(self.count):
            sock = _connect(self.port)
            sock.setblocking(False)
            self.socks.append(sock)
        self.opened = time.monotonic() - self.started
        return self

    def closed_within(self, seconds):
        """How many of the connections the server closed by ``seconds`` after the first was
        opened."""
        deadline = self.started + seconds
        closed = 0
        with selectors.DefaultSelector() as selector:
            for sock in self.socks:
                selector.register(sock, selectors.EVENT_READ)
            while closed < self.count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for key, _ in selector.select(timeout=left):
                    if _hung_up(key.fileobj):
                        selector.unregister(key.fileobj)
                        closed += 1
        return closed

    def __exit__(self, *exc):
        for sock in self.socks:
            sock.close()


def _livez_times(connect):
    """GET /livez on a fresh connection, ``PROBES`` times a second apart: (status or the error,
    seconds) for each."""
    answers = []
    for _ in range(PROBES):
        started = time.monotonic()
        connection = connect()
        try:
            connection.request("GET", "/livez")
            response = connection.getresponse()
            response.read()
            outcome = response.status
        except OSError as error:
            outcome = type(error).__name__
        finally:
            connection.close()
        answers.append((outcome, round(time.monotonic() - started, 3)))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    return answers


def _all_answered(answers):
    return all(outcome == 200 and seconds < ANSWER_WITHIN for outcome, seconds in answers)


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with gunicorn.conf.py, as `make run` starts it (2 workers, 4 threads each)."""
    port = free_port()
    server = Gunicorn(port, 2, 4, {**os.environ}, tmp_path / "gunicorn.log", app=APP)
    try:
        server.start().wait_ready(timeout=30)
        yield server
    finally:
        server.stop()


def test_idle_and_slow_connections_do_not_stop_gunicorn(gunicorn):
    port = gunicorn.port
    with SlowClients(port, SLOW, HEADER_EVERY) as slow, IdleClients(port, IDLE) as idle:
        answers = _livez_times(
            lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=2 * ANSWER_WITHIN)
        )
        idle_closed = idle.closed_within(CLIENT_TIMEOUT + idle.opened + CLOSE_MARGIN)
        slow_closed = slow.all_closed_within(CLIENT_TIMEOUT + CLOSE_MARGIN)
    assert _all_answered(answers), answers
    assert idle_closed == IDLE, f"{idle_closed} of {IDLE} idle connections closed"
    assert slow_closed, f"{len(slow.closed)} of {SLOW} slow connections closed: {slow.closed}"
    # And the server still serves once they are gone.
    assert _all_answered(
        _livez_times(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=5))
    )


def test_a_request_head_sent_in_quick_pieces_on_a_kept_alive_connection_is_served(gunicorn):
    """The deadline is for a whole head, not a first byte: a head that arrives in pieces within
    it is answered, and the next one on the same connection too."""
    with _connect(gunicorn.port) as sock:
        for path in ("/first", "/second"):
            for piece in (f"GET {path} HTTP/1.1\r\n", "Host: 127.0.0.1\r\n", "X-A: b\r\n", "\r\n"):
                sock.sendall(piece.encode())
                time.sleep(0.3)
            answer = b""
            while not answer.endswith(path.encode()):
                chunk = sock.recv(4096)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer


def test_clients_that_hold_on_to_a_closing_connection_do_not_stop_gunicorn(gunicorn):
    """A client that asked for "Connection: close" and then neither reads nor closes: gunicorn's
    gthread closed such connections in its loop, waiting up to 2 s on each while nothing else
    was served."""
    holders = []
    try:
        for index in range(10):
            sock = _connect(gunicorn.port)
            sock.sendall(
                f"GET /x/{index} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()
            )
            holders.append(sock)
        answers = _livez_times(
            lambda: http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=5)
        )
    finally:
        for sock in holders:
            sock.close()
    assert _all_answered(answers), answers


@pytest.fixture
def nginx(gunicorn, tmp_path):
    """The shipped site in front of gunicorn, in an nginx.conf with the worker_connections and
    worker_rlimit_nofile docs/deployment.md tells production to set (tests/e2e/nginx_helpers.py's
    512 connections would turn most of the idle ones away at once, and the probes with them)."""
    assert NGINX.exists(), "Debian's nginx is missing: scripts/services.sh nginx installs it"
    proxy = Nginx(tmp_path / "nginx", free_port(), free_port(), f"127.0.0.1:{gunicorn.port}")
    main = proxy.conf.read_text()
    assert main.count("worker_connections 512;") == 1
    proxy.conf.write_text(
        main.replace("worker_connections 512;", "worker_connections 4096;").replace(
            "worker_processes 1;\n", "worker_processes 1;\nworker_rlimit_nofile 16384;\n"
        )
    )
    try:
        yield proxy.start()
    finally:
        proxy.stop()


def test_idle_and_slow_connections_do_not_stop_the_nginx_site(nginx):
    tls = ssl.create_default_context(cafile=str(nginx.cert))
    # Most idle connections go to the HTTPS server; some to the plain one, which only redirects
    # but must not hold idle connections any longer.
    plain = IDLE // 10
    with (
        SlowClients(
            nginx.https_port,
            SLOW,
            HEADER_EVERY,
            wrap=lambda sock: tls.wrap_socket(sock, server_hostname="127.0.0.1"),
        ) as slow,
        IdleClients(nginx.https_port, IDLE - plain) as idle,
        IdleClients(nginx.http_port, plain) as idle_plain,
    ):
        answers = _livez_times(
            lambda: http.client.HTTPSConnection(
                "127.0.0.1", nginx.https_port, timeout=2 * ANSWER_WITHIN, context=tls
            )
        )
        budget = NGINX_HEADER_TIMEOUT + CLOSE_MARGIN
        idle_closed = idle.closed_within(budget + idle.opened)
        plain_closed = idle_plain.closed_within(budget + idle_plain.opened)
        slow_closed = slow.all_closed_within(budget)
    assert _all_answered(answers), answers
    assert idle_closed == IDLE - plain, f"{idle_closed} of {IDLE - plain} idle HTTPS closed"
    assert plain_closed == plain, f"{plain_closed} of {plain} idle plain HTTP closed"
    assert slow_closed, f"{len(slow.closed)} of {SLOW} slow connections closed: {slow.closed}"


def test_one_address_has_at_most_so_many_requests_in_progress_at_the_site(nginx):
    """Requests whose body never comes count against their address (limit_conn); one more is
    refused with the app's 429 envelope, and answered again once they are gone."""
    tls = ssl.create_default_context(cafile=str(nginx.cert))

    def livez():
        connection = http.client.HTTPSConnection(
            "127.0.0.1", nginx.https_port, timeout=5, context=tls
        )
        try:
            connection.request("GET", "/livez")
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    waiting = []
    try:
        for index in range(PER_ADDRESS):
            sock = tls.wrap_socket(_connect(nginx.https_port), server_hostname="127.0.0.1")
            sock.sendall(
                f"POST /api/v1/orders/{index} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{".encode()
            )
            waiting.append(sock)
        time.sleep(0.5)  # nginx has read every head
        refused = livez()
    finally:
        for sock in waiting:
            sock.close()
    assert refused[0] == 429, refused
    assert (
        refused[1].decode()
        == '{"code": "too_many_requests", "message": "操作过于频繁，请稍后再试"}'
    )
    deadline = time.monotonic() + 5
    while (answer := livez())[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer[0] == 200, answer
