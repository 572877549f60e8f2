"""The benchmark's load generator (bench/load.py): what it reads; runs against a local server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import ProtocolError, Request, parse_answer, run_phase


def test_an_answer_with_a_length_is_read_once_all_of_it_is_in():
    answer = b"HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\n" + b'{"id": 7}'
    assert parse_answer(answer[:20]) is None
    assert parse_answer(answer[:-1]) is None
    assert parse_answer(answer) == (201, b'{"id": 7}', True)


def test_connection_close_and_http_1_0_are_not_kept():
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    assert parse_answer(closing) == (200, b"{}", False)
    assert parse_answer(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == (200, b"", False)


def test_a_chunked_answer_is_read_to_its_last_chunk():
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = head + b"4\r\nabcd\r\n2;x=1\r\nef\r\n0\r\n\r\n"
    assert parse_answer(answer[:-2]) is None
    assert parse_answer(answer[:-7]) is None
    assert parse_answer(answer) == (200, b"abcdef", True)


@pytest.mark.parametrize(
    "answer",
    [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody"],
)
def test_what_it_cannot_read_is_a_protocol_error(answer):
    with pytest.raises(ProtocolError):
        parse_answer(answer)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["n"] % 2:
            self._send(409, {"code": "slot_sold_out"})
        else:
            self._send(201, {"id": body["n"]})

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"2\r\n{}\r\n0\r\n\r\n")
        else:
            self._send(200, {})
        type(self).served += 1
        # Every third answer, the connection is dropped afterwards without a word, as a server
        # does with an idle kept-alive connection: the client must send again on a new one.
        self.close_connection = self.served % 3 == 0

    def _send(self, status, document):
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _run(port, requests, concurrency=4, decode=False):
    deadline = time.monotonic() + 20
    return run_phase("test", "127.0.0.1", port, requests, concurrency, deadline, decode=decode)


def test_every_request_gets_its_own_answer_decoded(server):
    requests = [Request("POST", "/orders", body={"n": n}) for n in range(40)]
    phase = _run(server, requests, concurrency=8, decode=True)
    assert phase.completed and phase.count == 40
    assert [a.status for a in phase.answers] == [409 if n % 2 else 201 for n in range(40)]
    assert [a.order_id for a in phase.answers] == [None if n % 2 else n for n in range(40)]
    assert [a.code for a in phase.answers] == ["slot_sold_out" if n % 2 else "" for n in range(40)]
    assert all(0 < a.latency <= a.done_at <= phase.wall + 1e-6 for a in phase.answers)


def test_kept_alive_connections_dropped_by_the_server_are_sent_again(server):
    requests = [Request("GET", "/chunked" if n % 2 else "/ok") for n in range(60)]
    phase = _run(server, requests, concurrency=3)
    assert phase.completed
    assert [a.status for a in phase.answers] == [200] * 60


def test_a_server_that_is_not_there_gives_client_errors_not_a_crash():
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens there now
    phase = _run(port, [Request("GET", "/ok")] * 5)
    assert phase.completed
    assert {(a.status, a.code) for a in phase.answers} == {(0, "ConnectionRefusedError")}


def test_the_deadline_cuts_a_phase_short():
    listener = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)  # listens, never answers
    try:
        port = listener.server_address[1]
        phase = run_phase(
            "t", "127.0.0.1", port, [Request("GET", "/")] * 3, 3, time.monotonic() + 0.3
        )
    finally:
        listener.server_close()
    assert not phase.completed
    assert phase.count == 0
