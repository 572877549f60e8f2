"""A lean asyncio HTTP/1.1 load generator: fixed requests, a fixed concurrency, a deadline.

``concurrency`` coroutines take the next request from the list until it is empty, so exactly that
many are in flight. Each coroutine owns one connection and keeps it alive when the server allows
(gunicorn's gthread worker does; its sync worker closes after every answer). Requests are encoded
once, before the clock starts, and answers are read with the standard library's streams only:
on a 2-core machine the client shares the CPU with the server, and this client costs about half
of what aiohttp does per request (0.34 vs 0.55–0.63 ms measured against /livez), so the server
gets the CPU and the bare /livez figure is not held down by the client.

Every answer is kept with its latency, status and, when asked, the order id of a 201 or the
``code`` of the JSON error envelope. Only Content-Length and chunked bodies are understood, which
is all gunicorn sends.
"""

import asyncio
import json
import math
import os
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One request to send."""

    method: str
    path: str
    headers: dict | None = None
    body: dict | None = None

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


async def _read_answer(reader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection may be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ProtocolError(lines[0][:40])
    status = int(rest[:3])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "chunked" in headers.get("transfer-encoding", ""):
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")  # no trailers are sent
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        raise ProtocolError("an answer without a length")
    keep = version == "HTTP/1.1" and headers.get("connection") != "close"
    return status, body, keep


class _Client:
    """One connection, reopened when the server closed it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, payload: bytes) -> tuple[int, bytes]:
        reused = self.writer is not None
        try:
            if not reused:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(payload)
            status, body, keep = await _read_answer(self.reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
            # The server closed an idle kept-alive connection just then: send once more on a
            # new one (holds carry an Idempotency-Key, so a second send is safe anyway).
            return await self.send(payload)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, body


async def _run(host, port, payloads, concurrency, request_timeout, decode, answers, started):
    queue = iter(enumerate(payloads))

    async def worker():
        client = _Client(host, port)
        try:
            for index, payload in queue:
                sent = time.perf_counter()
                order_id, code = None, ""
                try:
                    async with asyncio.timeout(request_timeout):
                        status, body = await client.send(payload)
                    if decode:
                        code, order_id = _decode(status, body)
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as error:
                    client.close()
                    status, code = 0, type(error).__name__
                done = time.perf_counter()
                answers[index] = Answer(done - sent, status, code, order_id, done - started)
        finally:
            client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


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
) -> Phase:
    """Send ``requests`` at ``concurrency``, stopping at ``deadline`` (a time.monotonic() value)."""
    payloads = [request.encode(f"{host}:{port}") for request in requests]
    answers: list[Answer | None] = [None] * len(payloads)
    budget = deadline - time.monotonic()
    completed = budget > 0
    cpu_before = _cpu_seconds()
    started = time.perf_counter()

    async def bounded():
        async with asyncio.timeout(budget):
            await _run(host, port, payloads, concurrency, request_timeout, decode, answers, started)

    if completed:
        try:
            asyncio.run(bounded())
        except TimeoutError:
            completed = False
    done = [answer for answer in answers if answer is not None]
    wall = time.perf_counter() - started
    if completed:  # the phase ends with its last answer, not with the loop's teardown
        wall = max((answer.done_at for answer in done), default=wall)
    return Phase(name, len(payloads), done, wall, completed, _cpu_seconds() - cpu_before)
