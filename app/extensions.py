"""Extensions, created unbound; ``create_app`` binds them to an app."""

import logging
import os
import threading
import time
from contextlib import contextmanager

import redis
from flask import current_app
from flask.json.provider import DefaultJSONProvider
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from redis.backoff import ConstantBackoff
from redis.retry import Retry
from sqlalchemy.orm import DeclarativeBase

from app.errors import ErrorSchema

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    """Declarative base of every model."""


class BookingApi(Api):
    """flask-smorest's Api, with errors left to ``app.errors`` so there is one envelope."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Errors are handled by app.errors.register_error_handlers."""


class RedisExtension:
    """One Redis connection pool per app, built from ``REDIS_URL``."""

    def init_app(self, app):
        app.extensions["redis"] = self.connect(app.config["REDIS_URL"], app.config)

    @staticmethod
    def connect(url, config) -> redis.Redis:
        """A client that fails fast: MySQL is the truth, so a missing Redis must cost little.
        A refused connection fails at once; a Redis that hangs costs one timeout, and then
        nothing for REDIS_SKIP_SECONDS (see _Breaker)."""
        timeout = config["REDIS_SOCKET_TIMEOUT"]
        options = {}
        if url.startswith("redis://"):
            breaker = _Breaker(config["REDIS_SKIP_SECONDS"])
            options["connection_class"] = type(
                "GuardedConnection", (_GuardedConnection,), {"breaker": breaker}
            )
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(ConstantBackoff(0.05), retries=1),
            health_check_interval=30,
            **options,
        )

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"]

    def read(self, *command):
        """A read-only command (GET, HGET, a script that writes nothing), on a connection of
        this thread's own, skipping the client's per-command machinery (pool checkout and
        return, retry wrapper, instrumentation: ~60 µs of redis-py's ~100 µs per command): for
        the release morning's hot paths. The raw reply; a dropped connection is replaced and the
        command sent once more (safe: it changes nothing); any other failure raises RedisError
        as the client would, and the connection is made anew on the next call.
        """
        client = self.client
        try:
            return _own_connection(client).call(command)
        except redis.ConnectionError:
            return _own_connection(client, anew=True).call(command)

    def send(self, *command):
        """A command that may change something, on the thread's own connection as ``read``
        sends it, but never sent twice: a dropped connection raises ConnectionError (the next
        call connects anew), for a caller that can do without the answer."""
        return _own_connection(self.client).call(command)

    @contextmanager
    def batch(self, what: str, level=logging.WARNING):
        """One MULTI/EXEC round trip for the after-commit effects queued on the yielded pipeline.

        For effects that something else catches up on (sweeps, TTLs, MySQL): if Redis fails they
        are logged (at ``level``) as lost, never raised, so a committed use case is still answered.
        """
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.multi()  # explicitly, as RQ wants a pipeline it is given to be
                yield pipe
                pipe.execute()
        except redis.RedisError as error:
            log.log(level, "%s: not sent to Redis: %s", what, error)


class _Breaker:
    """After a call to Redis times out (a Redis that hangs rather than refuses), every call of
    the client fails at once for ``seconds``, as if Redis refused it: the callers fall back as
    they do when it is down (MySQL decides, the cache is skipped) instead of each waiting out
    its own timeout, several times per request. /healthz still names Redis meanwhile."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.open_until = 0.0

    def check(self):
        if time.monotonic() < self.open_until:
            raise redis.ConnectionError("Redis skipped for a moment after a timeout")

    def trip(self):
        if time.monotonic() >= self.open_until:
            log.warning("Redis timed out: skipped for %.1f s", self.seconds)
        self.open_until = time.monotonic() + self.seconds


class _GuardedConnection(redis.Connection):
    """A connection that gives way to its client's breaker (see _Breaker)."""

    breaker: _Breaker  # the client's own, set on the class made for it

    def connect(self):
        self.breaker.check()
        try:
            return super().connect()
        except redis.TimeoutError:
            self.breaker.trip()
            raise

    def send_packed_command(self, command, check_health=True):
        self.breaker.check()
        try:
            return super().send_packed_command(command, check_health)
        except redis.TimeoutError:
            self.breaker.trip()
            raise

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except redis.TimeoutError:
            self.breaker.trip()
            raise


class _OwnConnection:
    """One thread's connection to one client's Redis (see RedisExtension.read)."""

    def __init__(self, client: redis.Redis):
        pool = client.connection_pool
        self.client, self.pid = client, os.getpid()
        self.connection = pool.connection_class(**pool.connection_kwargs)

    def call(self, command):
        try:
            self.connection.send_command(*command)
            return self.connection.read_response()
        except BaseException:
            self.connection.disconnect()
            raise


_own = threading.local()


def _own_connection(client, anew=False) -> _OwnConnection:
    own = getattr(_own, "connection", None)
    # Another app's client (tests build several), or a forked child: never share a socket.
    if anew or own is None or own.client is not client or own.pid != os.getpid():
        if own is not None and own.pid == os.getpid():
            own.connection.disconnect()
        own = _own.connection = _OwnConnection(client)
    return own


# Objects stay readable after the commit that wrote them (responses are built from them); locking
# reads refresh with populate_existing, so nothing decides on a stale copy.
def field_cipher():
    """The app's field cipher (app.infra.crypto.FieldCipher), which create_app builds from
    ``FIELD_ENCRYPTION_KEYS``."""
    return current_app.extensions["field_cipher"]


def lookup_hasher():
    """The app's keyed hasher (app.infra.crypto.LookupHasher), built from ``LOOKUP_HASH_KEY``."""
    return current_app.extensions["lookup_hasher"]


def per_app(name, build):
    """An object built once per app from its config (a keyring, a signer), kept in extensions."""
    extensions = current_app.extensions
    if name not in extensions:
        extensions[name] = build(current_app.config)
    return extensions[name]


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON, refusing a document nested too deep to parse as any other bad JSON (a 400)
    instead of letting the parser's RecursionError become a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deep") from None


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = BookingApi()
redis_store = RedisExtension()
