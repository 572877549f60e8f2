"""Logs as one JSON line per event, each with the id of the request it belongs to.

A request's thread only hands its records to a queue; one thread per process formats and
writes them. With a handler writing in each request's thread, the handler's lock is what 16
threads of a busy process wait on most (a third of a worker's samples under load).
"""

import atexit
import contextvars
import json
import logging
import logging.handlers
import queue
import re
import sys
import uuid
from datetime import UTC, datetime

_request_id = contextvars.ContextVar("request_id", default=None)
# An id a proxy or client sent is kept only if it is short and plain.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# What a LogRecord carries of its own; anything else given with ``extra=`` goes into the line.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


def begin_request(given: str | None) -> str:
    """Start a request's context: its id, the one given (X-Request-Id) if plain, else new."""
    request_id = given if given and _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id


def end_request():
    _request_id.set(None)


def request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC), level, logger, message, request id, extras."""

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = getattr(record, "request_id", None) or _request_id.get()
        if current is not None:
            line["request_id"] = current
        line.update(
            (key, value) for key, value in vars(record).items() if key not in _RECORD_FIELDS
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _Enqueue(logging.handlers.QueueHandler):
    """Hands a record to the writing thread, with the id of the request it belongs to: no lock,
    no formatting in the request's thread."""

    def handle(self, record):
        if self.filter(record):
            record.request_id = _request_id.get()
            self.enqueue(record)
        return record


_listener = None


def configure(level=logging.INFO):
    """Send every log record to stderr as a JSON line, written by one thread of this process
    (the process's only log handler); records still queued are written at exit."""
    global _listener
    if _listener is not None:
        _listener.stop()
    records = queue.SimpleQueue()
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(JsonFormatter())
    _listener = logging.handlers.QueueListener(records, writer)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    root.setLevel(level)


@atexit.register
def _flush():
    if _listener is not None:
        _listener.stop()
