"""The Prometheus metrics of the web app and the worker (prometheus-client), in one place.

Each process counts what it does in its own registry: the web app serves it at `/metrics`
(behind METRICS_TOKEN, `handlers.observability`), the worker on METRICS_PORT (`serve_worker`).
Several uvicorn processes on one port (WEB_CONCURRENCY > 1) share theirs through
prometheus-client's multiprocess mode (`python -m bot web` sets it up): a scrape then sums them.
docs/decisions.md ("Metrics and logs") says why.

Labels are bounded: a route's path template (never the raw path, so no ids or phone numbers),
a status code, a job's name, a refusal code, an outcome word.

| metric | labels | from |
|---|---|---|
| `kirana_http_request_duration_seconds` (histogram; `_count` is requests) | method, route, status | every request |
| `kirana_webhook_outcomes_total` | webhook, outcome | Twilio and gateway webhooks |
| `kirana_orders_total` | mode, result (`placed` or the refusal code) | the checkout's order placement |
| `kirana_outbox_messages` | status (QUEUED, SENDING, HELD) | PostgreSQL, at scrape time (web) |
| `kirana_outbox_oldest_due_age_seconds` | | PostgreSQL, at scrape time (web) |
| `kirana_outbox_sends_total` | result (sent, retried, failed, held, ...) | the outbox sender |
| `kirana_job_runs_total`, `kirana_job_duration_seconds` | job, outcome (ok, error, interrupted) | the job runner |
| `kirana_job_last_success_timestamp_seconds` | job | the job runner |
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from db.outbox_queries import OutboxDepth

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# No `_created` series: they double the scrape and no alert here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds. The webhook answers in milliseconds; the console's heaviest pages in tenths.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Jobs take from milliseconds (nothing due) to about a minute (insights at 100,000 retailers).
_JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

HTTP_REQUESTS = Histogram(
    "kirana_http_request_duration_seconds",
    "HTTP requests by method, route (path template) and status; time to the response's end.",
    ["method", "route", "status"],
    buckets=_HTTP_BUCKETS,
)
WEBHOOK_OUTCOMES = Counter(
    "kirana_webhook_outcomes_total",
    "Webhook requests by webhook (whatsapp, status, payments) and what became of them.",
    ["webhook", "outcome"],
)
ORDERS = Counter(
    "kirana_orders_total",
    "Order placements by payment mode and result: placed, or the refusal code.",
    ["mode", "result"],
)
OUTBOX_SENDS = Counter(
    "kirana_outbox_sends_total",
    "Outbox rows handled by the sender, by result (sent, retried, failed, held, ...).",
    ["result"],
)
JOB_RUNS = Counter(
    "kirana_job_runs_total",
    "Job runs by job and outcome (ok, error, interrupted).",
    ["job", "outcome"],
)
JOB_DURATION = Histogram(
    "kirana_job_duration_seconds",
    "Job run time by job and outcome.",
    ["job", "outcome"],
    buckets=_JOB_BUCKETS,
)
JOB_LAST_SUCCESS = Gauge(
    "kirana_job_last_success_timestamp_seconds",
    "When each job last finished without error (Unix time), in this process.",
    ["job"],
    multiprocess_mode="max",
)


class OutboxCollector(Collector):
    """Reports the last `OutboxDepth` read (the `/metrics` handler reads it before rendering);
    nothing when the read failed, so a stale figure never looks current."""

    def __init__(self) -> None:
        self.depth: OutboxDepth | None = None

    def collect(self) -> Iterator[Metric]:
        depth = self.depth
        if depth is None:
            return
        by_status = GaugeMetricFamily(
            "kirana_outbox_messages",
            "Outbox rows waiting to go, by status (QUEUED, SENDING, HELD); read at scrape time.",
            labels=["status"],
        )
        for status, count in sorted(depth.by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "kirana_outbox_oldest_due_age_seconds",
            "How long the oldest QUEUED row has been due (0 when none is); read at scrape time.",
            value=depth.oldest_due_age_seconds,
        )


OUTBOX = OutboxCollector()
REGISTRY.register(OUTBOX)


def render() -> bytes:
    """This process's metrics in Prometheus' text format; under multiprocess mode, every web
    process's together (plus the outbox gauges, read by this one)."""
    if MULTIPROC_ENV in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(OUTBOX)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def prepare_multiprocess(workers: int) -> Path | None:
    """Before uvicorn starts `workers` > 1 processes: give them one empty directory to share
    their figures in (PROMETHEUS_MULTIPROC_DIR, or a new temporary one, returned for the caller
    to remove at exit). Must run before prometheus-client is imported in those processes (they
    are spawned fresh)."""
    if workers <= 1:
        return None
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given or tempfile.mkdtemp(prefix="kirana-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):  # figures of an earlier run would be added to this one's
        old.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return None if given else path


_worker_server_started = False


def serve_worker(port: int | None, host: str) -> None:
    """The worker's metrics on http://host:port/metrics (a thread of prometheus-client's); off
    when METRICS_PORT is unset. Once per process."""
    global _worker_server_started
    if port is None or _worker_server_started:
        return
    start_http_server(port, addr=host)
    _worker_server_started = True
    log.info("worker metrics on http://%s:%d/metrics", host, port)
