"""The service's metrics in Prometheus's format: requests and their latency per endpoint, holds
by outcome, payment notifications by channel and outcome, and the job queues.

Under gunicorn every worker process counts for itself into files of a directory shared by them
all (prometheus_client's multiprocess mode, switched on by ``PROMETHEUS_MULTIPROC_DIR``, which
gunicorn.conf.py sets before the workers start); a scrape adds them up. Without it (a single
process: tests, ``flask run``) the process's own counts are served.
"""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

REQUEST_SECONDS = Histogram(
    "booking_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint (its route), method and status.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HOLDS = Counter(
    "booking_holds_total",
    "Holds asked for, by outcome (created, replayed or the refusal's code).",
    ["outcome"],
)
NOTIFICATIONS = Counter(
    "booking_payment_notifications_total",
    "Payment channels' notifications, by channel and what applying them came to.",
    ["channel", "outcome"],
)


def observe_request(endpoint, method, status, seconds):
    """Count one answered request."""
    REQUEST_SECONDS.labels(endpoint, method, status).observe(seconds)


def hold_outcome(outcome):
    """Count one hold's outcome: ``created``, ``replayed`` or a refusal's code."""
    HOLDS.labels(outcome).inc()


def notification(channel, outcome):
    """Count one notification of a payment channel and its outcome (``rejected`` when refused)."""
    NOTIFICATIONS.labels(channel, outcome).inc()


class _Queues:
    """The job queues' depths and failures, read from Redis at each scrape."""

    def __init__(self, queues):
        self.queues = queues

    def collect(self):
        waiting = GaugeMetricFamily(
            "booking_jobs_queued", "Jobs waiting in a queue.", labels=["queue"]
        )
        scheduled = GaugeMetricFamily(
            "booking_jobs_scheduled", "Jobs scheduled for later (timers).", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "booking_jobs_failed", "Jobs in the failed registry.", labels=["queue"]
        )
        for queue in self.queues:
            waiting.add_metric([queue.name], queue.count)
            scheduled.add_metric([queue.name], ScheduledJobRegistry(queue=queue).count)
            failed.add_metric([queue.name], FailedJobRegistry(queue=queue).count)
        yield from (waiting, scheduled, failed)


def exposition(multiprocess_dir, queues) -> tuple[bytes, str]:
    """The metrics as a scrape reads them, and their content type."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    queue_registry = CollectorRegistry()
    queue_registry.register(_Queues(queues))
    return text + generate_latest(queue_registry), CONTENT_TYPE_LATEST


def process_ended(multiprocess_dir, pid):
    """Forget the live-only values of a worker process that ended (gunicorn's child_exit)."""
    if multiprocess_dir:
        multiprocess.mark_process_dead(pid, multiprocess_dir)
