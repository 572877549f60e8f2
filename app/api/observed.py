"""Every request observed the same way, whichever part of the app answers it: an id (the
``X-Request-Id`` a proxy sent, else a new one; sent back on the answer), one JSON log line, and
its latency counted under its endpoint's route (app/infra/metrics.py)."""

import logging
import time

from app.infra import logs, metrics

# Where the part that answered names the endpoint (its route): Flask's routing, or app/api/hot.py.
ENDPOINT = "booking.endpoint"
UNMATCHED = "unmatched"  # no route: counted together, whatever the path (scans stay one series)

# What an answer that says nothing else may be cached as: not at all (accounts, orders, tokens,
# errors). Public catalogue answers set their own (app/api/public.py).
PRIVATE = "no-store"

access = logging.getLogger("access")
log = logging.getLogger(__name__)


class Observed:
    """WSGI middleware around the whole app: see the module's docstring. With
    ``trusted_proxies`` 0, the first request that arrives through a proxy anyway (it carries
    X-Forwarded-For) is warned about: every client then has the proxy's address, and the per-IP
    limits count them all as one."""

    def __init__(self, wsgi_app, log_requests=True, trusted_proxies=0):
        self.wsgi_app = wsgi_app
        self.log_requests = log_requests
        self.proxy_unseen = not trusted_proxies

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        if self.proxy_unseen and "HTTP_X_FORWARDED_FOR" in environ:
            self.proxy_unseen = False
            log.warning(
                "requests arrive through a proxy (X-Forwarded-For) but TRUSTED_PROXIES is 0: "
                "every client has the proxy's address %s and per-IP limits count them as one; "
                "set TRUSTED_PROXIES to the number of proxies in front",
                environ.get("REMOTE_ADDR"),
            )
        request_id = logs.begin_request(environ.get("HTTP_X_REQUEST_ID"))
        status = "500"  # unless the app starts an answer

        def start(status_line, headers, exc_info=None):
            nonlocal status
            status = status_line[:3]
            headers.append(("X-Request-Id", request_id))
            return start_response(status_line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            seconds = time.perf_counter() - started
            endpoint = environ.get(ENDPOINT, UNMATCHED)
            method = environ.get("REQUEST_METHOD", "")
            metrics.observe_request(endpoint, method, status, seconds)
            if self.log_requests:
                access.info(
                    "%s %s %s",
                    method,
                    environ.get("PATH_INFO", ""),
                    status,
                    extra={
                        "endpoint": endpoint,
                        "status": int(status),
                        "duration_ms": round(seconds * 1000, 1),
                        "client": environ.get("REMOTE_ADDR"),
                    },
                )
            logs.end_request()


def name_endpoint(request):
    """Flask's ``before_request``: the route that matched names the request's endpoint."""
    rule = request.url_rule
    request.environ[ENDPOINT] = rule.rule if rule is not None else UNMATCHED


def uncacheable_by_default(response):
    """Flask's ``after_request``: an answer without a Cache-Control of its own is no-store."""
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = PRIVATE
    return response
