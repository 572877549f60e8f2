"""app/serving.py's worker, under real gunicorn on 127.0.0.1, serving a small WSGI app
(tests/e2e/serving_app.py): queues, a full worker, keep-alive, graceful shutdown, the heartbeat
and the frozen start-up objects."""

import http.client
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.server import Gunicorn, free_port

APP = "tests.e2e.serving_app:app"


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


def _served_at_once(server):
    started = time.monotonic()
    assert _get(server, "/new") == (200, "/new")
    assert time.monotonic() - started < 2


def _get_all(server, paths, parallel):
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(lambda path: _get(server, path), paths))


def test_a_queue_far_longer_than_the_threads_is_answered_in_full(serve):
    server = serve(threads=2)
    paths = [f"/n/{index}" for index in range(80)]
    assert _get_all(server, paths, parallel=80) == [(200, path) for path in paths]


def _accept_queue(port):
    """Connections the kernel holds for a listener on 127.0.0.1:``port`` until one accepts them
    (the receive queue /proc/net/tcp shows for a listening socket)."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
                return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def _sent(server, path):
    """A connection that has sent its request (``Connection: close``) at once."""
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
    return client


def _answer(client) -> bytes:
    """All the server answers on ``client`` until it closes the connection."""
    answer = b""
    while chunk := client.recv(4096):
        answer += chunk
    return answer


def test_a_worker_takes_at_most_two_connections_per_thread(serve):
    # The others stay in the listen backlog, for whichever process has a thread free first.
    # Each request is sent as its connection opens: the worker counts requests, and a connection
    # accepted before its request arrived would not count yet (idle sockets must leave room).
    server = serve(threads=2)
    clients = [_sent(server, "/slow?seconds=0.4") for _ in range(10)]
    try:
        time.sleep(0.2)
        waiting = _accept_queue(server.port)
        for client in clients:
            answer = _answer(client)
            assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"slept")
    finally:
        for client in clients:
            client.close()
    assert waiting >= 5  # 10 asked, 2 served, 2 waiting for a thread


def test_connections_that_say_nothing_leave_room_for_new_ones(serve):
    # Five idle sockets on a worker of two threads (room for four requests): a request is still
    # accepted and served at once.
    server = serve(threads=2)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(5)]
    try:
        time.sleep(0.3)  # accepted by the worker, which waits for them to speak
        _served_at_once(server)
    finally:
        for client in idle:
            client.close()


def test_kept_alive_connections_leave_room_for_new_ones(serve):
    # Six idle kept-alive connections on a worker of two threads (room for four requests): a
    # new connection is still served at once, not when keep-alive closes the idle ones.
    server = serve(threads=2, keep_alive=10)
    idle = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(6)]
    try:
        for connection in idle:
            connection.request("GET", "/first")
            assert connection.getresponse().read() == b"/first"
        _served_at_once(server)
    finally:
        for connection in idle:
            connection.close()


def test_a_full_worker_accepts_again_as_requests_finish(serve):
    # Two connections at most: the other 18 wait in the listen backlog until there is room.
    server = serve("--worker-connections=2", threads=2)
    started = time.monotonic()
    answers = _get_all(server, ["/slow?seconds=0.05"] * 20, parallel=20)
    assert answers == [(200, "slept")] * 20
    assert time.monotonic() - started < 3  # woken by each finished request, not a timer


def test_a_full_worker_still_serves_the_connections_it_holds(serve):
    # Both connections are accepted before they send a request, which fills the worker: gunicorn's
    # own loop then waits for a request to finish and never reads theirs.
    server = serve("--worker-connections=2", threads=2)
    clients = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.5)
        for index, client in enumerate(clients):
            request = f"GET /held/{index} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
            client.sendall(request.encode())
        for index, client in enumerate(clients):
            answer = _answer(client)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            assert answer.endswith(f"/held/{index}".encode())
    finally:
        for client in clients:
            client.close()


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


def test_a_reload_lets_the_old_worker_finish_a_request_longer_than_the_timeout(serve):
    # After HUP the master stops the old worker and still kills any worker silent for 2 s.
    server = serve("--timeout=2", "--graceful-timeout=10", threads=2)
    old_pid = _get(server, "/pid")[1]
    answers = []
    caller = threading.Thread(target=lambda: answers.append(_get(server, "/slow?seconds=3.5")))
    caller.start()
    time.sleep(0.5)
    server.process.send_signal(signal.SIGHUP)
    caller.join(timeout=15)
    assert answers == [(200, "slept")]
    assert "WORKER TIMEOUT" not in server.log_path.read_text()
    assert _get(server, "/pid")[1] != old_pid


def test_the_worker_keeps_telling_the_master_it_is_alive(serve):
    # A 2 s timeout: a worker silent for 2 s is killed and replaced (another pid).
    server = serve("--timeout=2", threads=2)
    pid = _get(server, "/pid")[1]
    time.sleep(3.5)
    assert _get(server, "/pid")[1] == pid


def test_what_the_app_made_at_start_is_frozen_out_of_the_collector(serve):
    server = serve(threads=2)
    status, frozen = _get(server, "/frozen")
    assert status == 200
    assert int(frozen) > 0


def test_each_thread_serving_a_request_is_counted_until_it_ends(serve):
    """A hold group's leader waits for the threads of its process still on their way
    (app/groupcommit.py): the worker counts every thread serving a request, and only then."""
    server = serve(threads=4)
    assert _get(server, "/arrivals") == (200, "1")  # this request's thread
    slow = threading.Thread(target=_get, args=(server, "/slow?seconds=1.5"))
    slow.start()
    time.sleep(0.5)
    assert _get(server, "/arrivals") == (200, "2")
    slow.join()
    assert _get(server, "/arrivals") == (200, "1")
