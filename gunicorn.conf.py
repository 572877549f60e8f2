"""gunicorn's settings for the app: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Stock gunicorn with its gthread worker: one process per core (``--workers`` or gunicorn's own
``WEB_CONCURRENCY``), threads in each, so that holds arriving together meet in one group commit
(app/infra/groupcommit.py). Command-line options override what is set here; docs/deployment.md
gives the production command and docs/performance.md the measurements behind these values.
"""

import gc

from app.infra.groupcommit import arrivals

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
