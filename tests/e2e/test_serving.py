"""gunicorn with the repository's gunicorn.conf.py, on 127.0.0.1, serving a small WSGI app
(tests/e2e/serving_app.py): a long queue, keep-alive, graceful shutdown, the frozen start-up
objects and the threads counted for the hold groups."""

import contextlib
import http.client
import os
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.server import ROOT, Gunicorn, free_port

APP = "tests.e2e.serving_app:app"
# Requests a worker takes beyond its threads, as gunicorn.conf.py sets it.
ADMIT_AHEAD = int(
    re.search(r"^ADMIT_AHEAD = (\d+)$", (ROOT / "gunicorn.conf.py").read_text(), re.M)[1]
)


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(*options, threads=2, keep_alive=0):
        port = free_port()
        server = Gunicorn(
            port,
            1,
            threads,
            {**os.environ},
            tmp_path / f"gunicorn-{port}.log",
            keep_alive=keep_alive,
            app=APP,
            options=options,
        )
        servers.append(server)
        server.start().wait_ready(timeout=30)
        return server

    yield start
    for server in servers:
        server.stop()


def _get(server, path, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _get_all(server, paths, parallel):
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(lambda path: _get(server, path), paths))


def test_a_queue_far_longer_than_the_threads_is_answered_in_full(serve):
    server = serve(threads=2)
    paths = [f"/n/{index}" for index in range(80)]
    assert _get_all(server, paths, parallel=80) == [(200, path) for path in paths]


def test_a_kept_alive_connection_serves_the_next_request(serve):
    server = serve(threads=2, keep_alive=5)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/first")
        first = connection.getresponse()
        assert (first.status, first.read()) == (200, b"/first")
        sock = connection.sock
        assert sock is not None  # not closed by the server's answer
        connection.request("GET", "/second")
        second = connection.getresponse()
        assert (second.status, second.read()) == (200, b"/second")
        assert connection.sock is sock
    finally:
        connection.close()


def test_a_graceful_stop_lets_the_requests_in_flight_finish(serve):
    server = serve("--graceful-timeout=10", threads=2)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(_get(server, "/slow?seconds=1.5")))
    caller.start()
    time.sleep(0.5)  # the request is in the worker's hands
    server.process.send_signal(signal.SIGTERM)
    caller.join(timeout=15)
    assert answers == [(200, "slept")]
    assert server.process.wait(timeout=15) == 0


def test_what_the_app_made_at_start_is_frozen_out_of_the_collector(serve):
    server = serve(threads=2)
    status, frozen = _get(server, "/frozen")
    assert status == 200
    assert int(frozen) > 0


def _arrivals_become(server, count):
    """Whether the server counts ``count`` threads (this request's included) within 2 s: a
    thread stops counting right after its answer is written, which its client may see first."""
    deadline = time.monotonic() + 2
    while _get(server, "/arrivals") != (200, str(count)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_each_thread_serving_a_request_is_counted_until_it_ends(serve):
    """A hold group's leader waits for the threads of its process still on their way
    (app/infra/groupcommit.py): the config's hooks count every thread serving a request, and
    only then."""
    server = serve(threads=4)
    assert _arrivals_become(server, 1)  # this request's thread alone
    slow = threading.Thread(target=_get, args=(server, "/slow?seconds=3"))
    slow.start()
    assert _arrivals_become(server, 2)
    slow.join()
    assert _arrivals_become(server, 1)


def _accept_queue(port) -> int:
    """Connections waiting in the listen backlog of 127.0.0.1:``port``, as the kernel counts them
    (/proc/net/tcp gives a listening socket's accept queue as its rx_queue)."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":  # LISTEN
                return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on {local}")


def test_a_worker_with_every_thread_busy_leaves_new_connections_in_the_backlog(serve):
    """A worker accepts only while a thread is free, or ADMIT_AHEAD more: with more workers, a
    request then goes to one that can serve it rather than waiting behind slow ones. Once a
    thread is free the waiting connections are accepted and answered."""
    server = serve(threads=2)
    slow = [threading.Thread(target=_get, args=(server, "/slow?seconds=2")) for _ in range(2)]
    for thread in slow:
        thread.start()
    time.sleep(0.5)  # both threads are sleeping
    waiting = []
    for index in range(ADMIT_AHEAD + 3):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(f"GET /n/{index} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
        waiting.append(sock)
    try:
        time.sleep(0.3)  # time enough for a worker's loop to accept them
        assert _accept_queue(server.port) == 3
        for index, sock in enumerate(waiting):
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
            assert answer.endswith(f"/n/{index}".encode()), answer
    finally:
        for sock in waiting:
            sock.close()
    for thread in slow:
        thread.join()
    assert _accept_queue(server.port) == 0


def test_a_worker_whose_master_is_gone_accepts_nothing_more_while_it_drains(serve):
    """Its master killed, a worker finishes the requests it has and stops; answering one of them
    must not make it accept new connections while it waits for the others."""
    server = serve("--graceful-timeout=10", threads=2)
    short, long = (
        threading.Thread(target=_get, args=(server, f"/slow?seconds={seconds}"))
        for seconds in (1.5, 4)
    )
    short.start()
    long.start()
    time.sleep(0.3)  # both requests are in threads
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=5)
    try:
        short.join(timeout=10)  # answered while the long one still runs
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /late HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            time.sleep(0.5)  # time enough for the worker's loop to accept it
            assert _accept_queue(server.port) == 1
        long.join(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)  # the worker, in the master's group
