"""gunicorn's settings for the app: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Stock gunicorn with its gthread worker: one process per core (``--workers`` or gunicorn's own
``WEB_CONCURRENCY``), threads in each, so that holds arriving together meet in one group commit
(app/infra/groupcommit.py). Command-line options override what is set here; docs/deployment.md
gives the production command and docs/performance.md the measurements behind these values.
"""

import gc
import glob
import os
import tempfile

# The directory where the workers count their metrics together (app/infra/metrics.py): named
# before anything imports prometheus_client, which reads it once, in the master that then
# forks the workers. A deployment may name its own (e.g. systemd's RuntimeDirectory).
_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
os.environ.setdefault(_METRICS_DIR, tempfile.mkdtemp(prefix="booking-metrics-"))

from gunicorn.glogging import Logger  # noqa: E402

from app.infra import metrics  # noqa: E402 - after the directory is named
from app.infra.groupcommit import arrivals  # noqa: E402
from app.infra.logs import JsonFormatter  # noqa: E402

wsgi_app = "wsgi:app"
worker_class = "gthread"
threads = 16
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
    """Start counting from zero: a previous run's files in the directory are dropped."""
    for stale in glob.glob(os.path.join(os.environ[_METRICS_DIR], "*.db")):
        os.remove(stale)


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
