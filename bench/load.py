"""A lean HTTP/1.1 load generator: fixed requests, a fixed concurrency, a deadline.

Exactly ``concurrency`` requests are in flight until the list is done: as one is answered, the
next is sent. Each runs on its own non-blocking socket, all of them driven by one ``epoll`` loop
(Linux, standard library only); a connection is kept for the next request when the server allows
it (gunicorn's gthread worker with ``--keep-alive``), else closed. Requests are encoded before the
clock starts and answers are decoded after it stops.

On a 2-core machine the client shares the CPU with the server, so it must cost as little as
possible. Against ``/livez`` (gunicorn, 2 × 16 threads) this loop costs ~0.2 ms of CPU per
request where the asyncio-streams client it replaced cost ~0.7 ms (and aiohttp more): the
client went from 50–75 % of a core to ~20–25 %, and that CPU went to the server.

Requests may also be chains, one per client: with ``follow``, as a request is answered the client
asks ``follow`` for that client's next request and sends it at once on the same place, so a
patient's next page goes out only when the previous one came back (``concurrency`` is then the
number of patients browsing at once). A next request with an ``after`` is sent that many seconds
later instead (a patient reading a page before tapping), and until then its place goes to the
next request of the list: ``concurrency`` stays the number of requests in flight.

Every answer is kept with its latency, status, the index of its request and, when asked, the
order id of a 201 or the ``code`` of the JSON error envelope. Only Content-Length and chunked
bodies are understood, which is all gunicorn sends.
"""

import errno
import heapq
import json
import math
import os
import select
import socket
import time
from collections import Counter
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Request:
    """One request to send."""

    method: str
    path: str
    headers: dict | None = None
    body: dict | None = None
    # A follow-up only: seconds its client waits after the previous answer before sending it (a
    # patient reading a page); its place in flight goes meanwhile to the next request.
    after: float = 0.0

    def encode(self, host: str) -> bytes:
        body = b"" if self.body is None else json.dumps(self.body).encode()
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in (self.headers or {}).items()]
        if self.body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Answer:
    """What came back: status 0 means no HTTP answer (``code`` then names the client error)."""

    latency: float
    status: int
    code: str
    order_id: int | None
    done_at: float  # seconds after the phase started
    index: int = -1  # of its request: in the phase's list, then follow-ups in the order sent


@dataclass
class Phase:
    """The answers of one phase and how long it took."""

    name: str
    planned: int
    answers: list[Answer]
    wall: float
    completed: bool
    client_cpu: float
    server_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.answers)

    @property
    def rate(self) -> float:
        """Answers per second over the phase's wall time."""
        return self.count / self.wall if self.wall else 0.0

    def percentile(self, p: float, answers=None) -> float:
        """Latency in seconds at percentile ``p`` (nearest rank)."""
        latencies = sorted(a.latency for a in (self.answers if answers is None else answers))
        if not latencies:
            return math.nan
        return latencies[max(0, math.ceil(p / 100 * len(latencies)) - 1)]


def joined(name: str, phases: list[Phase], starts: list[int]) -> Phase:
    """Phases run one after another as parts of one list of requests, as one phase: each
    answer's index into the whole list (``starts``: each part's first), their wall times, CPU
    and plans added up. ``done_at`` stays within its part."""
    answers = [
        replace(answer, index=answer.index + start)
        for phase, start in zip(phases, starts, strict=True)
        for answer in phase.answers
    ]
    server_cpu = Counter()
    for phase in phases:
        server_cpu.update(phase.server_cpu)
    return Phase(
        name,
        sum(phase.planned for phase in phases),
        answers,
        sum(phase.wall for phase in phases),
        all(phase.completed for phase in phases),
        sum(phase.client_cpu for phase in phases),
        dict(server_cpu),
    )


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 as this client understands it."""


def _decode(status: int, body: bytes) -> tuple[str, int | None]:
    """The order id of a 201, or the error envelope's code."""
    try:
        data = json.loads(body)
    except ValueError:
        return ("" if status < 400 else "not_json"), None
    if not isinstance(data, dict):
        return "", None
    if status == 201:
        return "", data.get("id")
    return str(data.get("code", "")), None


def parse_answer(buffer: bytes) -> tuple[int, bytes, bool] | None:
    """Status, body and whether the connection may be reused, once ``buffer`` holds a whole
    answer; None while it is still short. ProtocolError for what this client cannot read."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[:end].lower()
    if not head.startswith(b"http/1."):
        raise ProtocolError(buffer[:40].decode("latin-1"))
    start = end + 4
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        stop = head.find(b"\r\n", at + 17)
        length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        if len(buffer) - start < length:
            return None
        body = buffer[start : start + length]
    elif b"\r\ntransfer-encoding: chunked" in head:
        body = _dechunk(buffer, start)
        if body is None:
            return None
    else:
        raise ProtocolError("an answer without a length")
    keep = head.startswith(b"http/1.1") and b"\r\nconnection: close" not in head
    return int(head[9:12]), body, keep


def _dechunk(buffer: bytes, at: int) -> bytes | None:
    """The body of a chunked answer from ``at`` on, None until its last chunk is in."""
    body = b""
    while True:
        end = buffer.find(b"\r\n", at)
        if end < 0:
            return None
        size = int(buffer[at:end].split(b";")[0], 16)
        at = end + 2
        if size == 0:  # no trailers are sent
            return body if buffer.startswith(b"\r\n", at) else None
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        at += size + 2


class _InFlight:
    """One request on its socket: sending ``unsent``, then reading into ``buffer``."""

    __slots__ = ("buffer", "index", "reused", "sent", "sock", "unsent")

    def __init__(self, sock, index, sent, payload, reused):
        self.sock, self.index, self.sent, self.reused = sock, index, sent, reused
        self.unsent, self.buffer = payload, b""


_CONNECTING = (errno.EINPROGRESS, errno.EAGAIN, 0)


def _run(host, port, payloads, concurrency, deadline, request_timeout, started, follow=None):
    """Raw results per payload: (latency, status, body or the error's name, done_at), or None
    for a request never answered (the deadline came first). ``follow(index, status, body)``, if
    given, returns what to send next in place of an answered request — (payload, seconds to wait
    first) — or None; follow-ups are appended to ``payloads`` and sent before any new request of
    the list, those with a wait once it is over."""
    address = (host, port)
    results = [None] * len(payloads)
    poller = select.epoll()
    in_flight: dict[int, _InFlight] = {}
    idle: list[socket.socket] = []  # kept-alive connections, for the next requests
    queue = iter(range(len(payloads)))
    follow_ups: list[int] = []  # indexes of follow-ups still to send, sent first
    waiting: list[tuple[float, int]] = []  # (when, index) of follow-ups sent after a wait
    clock = time.perf_counter

    def finish(request, status, body):
        done = clock()
        results[request.index] = (done - request.sent, status, body, done - started)
        if follow is not None:
            payload, after = follow(request.index, status, body) or (None, 0.0)
            if payload is not None:
                if after > 0:
                    heapq.heappush(waiting, (done + after, len(payloads)))
                else:
                    follow_ups.append(len(payloads))
                payloads.append(payload)
                results.append(None)

    def send(index, sent, sock=None):
        """Start request ``index`` (timed from ``sent``) on ``sock``, or on a new connection."""
        reused = sock is not None
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
        request = _InFlight(sock, index, sent, payloads[index], reused)
        try:
            if not reused:
                code = sock.connect_ex(address)
                if code not in _CONNECTING:
                    raise OSError(code, os.strerror(code))
            # Connected at once on loopback, as a rule: then the request goes out right away.
            sending = not _push(request)
        except OSError as error:
            sock.close()
            if reused:  # closed by the server while idle: as in end(), once more on a new one
                send(index, sent)
            else:
                finish(request, 0, type(error).__name__)
            return
        in_flight[sock.fileno()] = request
        poller.register(sock.fileno(), select.EPOLLOUT if sending else select.EPOLLIN)

    def fill():
        """Keep ``concurrency`` requests in flight while any are left to send."""
        now = clock()
        while waiting and waiting[0][0] <= now:
            follow_ups.append(heapq.heappop(waiting)[1])
        while len(in_flight) < concurrency:
            index = follow_ups.pop() if follow_ups else next(queue, None)
            if index is None:
                return
            send(index, clock(), idle.pop() if idle else None)

    def end(fd, request, status, body, keep=False):
        poller.unregister(fd)
        del in_flight[fd]
        if keep:
            idle.append(request.sock)
        else:
            request.sock.close()
        if status == 0 and request.reused and not request.buffer:
            # The server closed an idle kept-alive connection just then: send once more on a new
            # one (holds carry an Idempotency-Key, so a second send is safe anyway).
            send(request.index, request.sent)
        else:
            finish(request, status, body)

    fill()
    check_at = clock() + 1.0
    try:
        while in_flight or waiting:
            now = time.monotonic()
            if now >= deadline:
                break
            wake = max(0.001, waiting[0][0] - clock()) if waiting else 1.0
            events = poller.poll(min(wake, 1.0, deadline - now))
            for fd, _ in events:
                request = in_flight.get(fd)
                if request is None:  # closed by an earlier event of this round
                    continue
                if request.unsent:
                    try:
                        if _push(request):
                            poller.modify(fd, select.EPOLLIN)
                    except OSError as error:
                        end(fd, request, 0, type(error).__name__)
                    continue
                try:
                    chunk = request.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as error:
                    end(fd, request, 0, type(error).__name__)
                    continue
                if not chunk:
                    end(fd, request, 0, "IncompleteReadError")
                    continue
                request.buffer += chunk
                try:
                    answer = parse_answer(request.buffer)
                except (ProtocolError, ValueError):
                    end(fd, request, 0, "ProtocolError")
                    continue
                if answer is not None:
                    status, body, keep = answer
                    end(fd, request, status, body, keep)
            now = clock()
            if now >= check_at:  # once a second: give up on requests older than the timeout
                check_at = now + 1.0
                for fd, request in list(in_flight.items()):
                    if now - request.sent > request_timeout:
                        end(fd, request, 0, "TimeoutError")
            fill()
    finally:
        for request in in_flight.values():
            request.sock.close()
        for sock in idle:
            sock.close()
        poller.close()
    return results


def _push(request: _InFlight) -> bool:
    """Send what is left of the request; whether all of it has gone."""
    try:
        sent = request.sock.send(request.unsent)
    except (BlockingIOError, InterruptedError):
        return False  # still connecting, or the buffer is full: wait until writable
    request.unsent = request.unsent[sent:]
    return not request.unsent


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def run_phase(
    name: str,
    host: str,
    port: int,
    requests: list[Request],
    concurrency: int,
    deadline: float,
    decode: bool = False,
    request_timeout: float = 30.0,
    follow=None,
) -> Phase:
    """Send ``requests`` at ``concurrency``, stopping at ``deadline`` (a time.monotonic() value).

    ``follow(index, status, body)``, if given, is asked as each request is answered (``status`` 0
    with the error's name as ``body`` when there was no HTTP answer) for the same client's next
    Request, or None when that client is done; it is called on the clock, so it must be cheap.
    A follow-up's index is the next after the list and the follow-ups before it; one with an
    ``after`` is sent that many seconds after the answer, and the requests of the list take its
    place in flight meanwhile.
    """
    address = f"{host}:{port}"
    payloads = [request.encode(address) for request in requests]
    if follow is not None:
        given = follow

        def follow(index, status, body):
            request = given(index, status, body)
            return None if request is None else (request.encode(address), request.after)

    completed = deadline > time.monotonic()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    raw = []
    if completed:
        raw = _run(host, port, payloads, concurrency, deadline, request_timeout, started, follow)
    wall = time.perf_counter() - started
    client_cpu = _cpu_seconds() - cpu_before
    answers = []
    for index, result in enumerate(raw):
        if result is None:
            completed = False
            continue
        latency, status, body, done_at = result
        code, order_id = (body if status == 0 else ""), None
        if status and decode:
            code, order_id = _decode(status, body)
        answers.append(Answer(latency, status, code, order_id, done_at, index))
    if completed:  # the phase ends with its last answer, not with the loop's teardown
        wall = max((answer.done_at for answer in answers), default=wall)
    return Phase(name, len(payloads), answers, wall, completed, client_cpu)
