"""GET /metrics (who may read it, what it says), the request id, the request and job log lines,
and the log scrubber."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli.deps import Deps
from bot.cli.logs import JsonFormatter, register_secrets, scrub
from bot.clock import FixedClock
from db.seed import seed_demo
from jobs.runner import run_job_now
from tests.conftest import ADMIN_PHONE, ADMIN_TOKEN
from tests.console_support import console_client
from tests.test_outbox_sender import queue
from tests.test_whatsapp import RAMESH, form, post, signed

METRICS_TOKEN = "metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(
    scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def http(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    deps = dataclasses.replace(
        deps, settings=deps.settings.model_copy(update={"metrics_token": METRICS_TOKEN})
    )
    async with console_client(deps) as client:
        yield client


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


async def test_metrics_are_closed_without_a_token_and_refused_with_a_wrong_one(
    client: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    # `client` has no METRICS_TOKEN configured: /metrics is not there at all.
    assert (await client.get("/metrics")).status_code == 404
    assert (
        await client.get("/metrics", headers={"Authorization": "Bearer anything-at-all-here"})
    ).status_code == 404
    assert (await http.get("/metrics")).status_code == 401
    wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    # The admin token is not a metrics token.
    admin = await http.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 401


async def test_requests_are_counted_by_route_template_never_the_raw_path(
    http: httpx.AsyncClient, db: asyncpg.Pool, clock: FixedClock
) -> None:
    async with db.acquire() as conn:
        await seed_demo(conn, now=clock.now())
    before = await scrape(http)
    route = "/api/v1/admin/credit/{retailer}"
    for _ in range(3):
        r = await http.get(
            f"/api/v1/admin/credit/{RAMESH}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert r.status_code == 200
    assert (await http.get("/no/such/page/+919800000001")).status_code == 404
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert RAMESH not in response.text and RAMESH[1:] not in response.text
    after = samples(response.text)
    count = "kirana_http_request_duration_seconds_count"
    labels = {"method": "GET", "route": route, "status": "200"}
    assert value(after, count, **labels) - value(before, count, **labels) == 3
    assert value(after, count, method="GET", route="unmatched", status="404") >= 1
    assert value(
        after, "kirana_http_request_duration_seconds_bucket", le="+Inf", **labels
    ) == value(after, count, **labels)


async def test_webhook_outcomes_and_orders_are_counted(
    http: httpx.AsyncClient, db: asyncpg.Pool, clock: FixedClock
) -> None:
    async with db.acquire() as conn:
        await seed_demo(conn, now=clock.now())
    before = await scrape(http)
    fields = form(RAMESH, "hi")
    assert (await post(http, fields)).status_code == 200
    assert (await post(http, fields)).status_code == 200  # Twilio's redelivery
    bad = await http.post(
        "/webhooks/twilio/whatsapp", data=form(RAMESH, "hi"), headers={"X-Twilio-Signature": "x"}
    )
    assert bad.status_code == 403
    for text in ("1 x 2", "checkout", "1", "confirm"):  # an order on credit
        assert (await post(http, form(RAMESH, text))).status_code == 200
    after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    outcomes = "kirana_webhook_outcomes_total"
    assert grew(outcomes, webhook="whatsapp", outcome="replied") == 5
    assert grew(outcomes, webhook="whatsapp", outcome="duplicate") == 1
    assert grew(outcomes, webhook="whatsapp", outcome="bad_signature") == 1
    assert grew("kirana_orders_total", mode="CREDIT", result="placed") == 1


async def test_outbox_depth_is_read_at_scrape_time(
    http: httpx.AsyncClient, db: asyncpg.Pool, deps: Deps, clock: FixedClock
) -> None:
    now = deps.clock.now()
    await queue(db, now - timedelta(minutes=5), retailer_id=None, key="a")
    await queue(db, now - timedelta(minutes=1), retailer_id=None, key="b")
    await queue(db, now + timedelta(hours=1), retailer_id=None, key="c")  # not due yet
    await db.execute("UPDATE outbox_messages SET status = 'HELD' WHERE dedupe_key = 'b'")
    got = await scrape(http)
    assert value(got, "kirana_outbox_messages", status="QUEUED") == 2
    assert value(got, "kirana_outbox_messages", status="HELD") == 1
    assert value(got, "kirana_outbox_messages", status="SENDING") == 0
    assert value(got, "kirana_outbox_oldest_due_age_seconds") == 300


async def test_job_runs_are_counted_and_logged_as_one_line(
    deps: Deps, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.cli import metrics

    before = metrics.JOB_RUNS.labels("expire_pending_orders", "ok")._value.get()
    with caplog.at_level(logging.INFO, logger="jobs.runner"):
        await run_job_now(deps, "expire_pending_orders")
    assert metrics.JOB_RUNS.labels("expire_pending_orders", "ok")._value.get() == before + 1
    [record] = [r for r in caplog.records if r.name == "jobs.runner"]
    line = json.loads(JsonFormatter().format(record))
    assert line["job"] == "expire_pending_orders"
    assert line["outcome"] == "ok"
    assert isinstance(line["duration_ms"], float)
    assert isinstance(line["counts"], dict)


async def test_request_id_is_taken_when_sane_made_otherwise_and_echoed(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kirana.request"):
        given = await client.get("/health", headers={"X-Request-Id": "lb-7f3a.42:x"})
        insane = await client.get("/health", headers={"X-Request-Id": "a b <script>"})
        none = await client.get("/health")
    assert given.headers["x-request-id"] == "lb-7f3a.42:x"
    assert insane.headers["x-request-id"] != "a b <script>"
    assert len(insane.headers["x-request-id"]) == 16
    assert none.headers["x-request-id"] != insane.headers["x-request-id"]
    lines = [r for r in caplog.records if r.name == "kirana.request"]
    assert len(lines) == 3
    first = lines[0]
    assert (first.method, first.route, first.status) == ("GET", "/health", 200)  # type: ignore[attr-defined]
    assert first.duration_ms >= 0  # type: ignore[attr-defined]


async def test_lines_logged_while_serving_carry_the_request_id(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        fields = form(ADMIN_PHONE, "help")
        r = await client.post(
            "/webhooks/twilio/whatsapp",
            data=fields,
            headers={**signed(fields), "X-Request-Id": "req-1234"},
        )
        assert r.status_code == 200
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "req-1234"]
    loggers = {line["logger"] for line in mine}
    assert {"handlers.admin_chat", "kirana.request"} <= loggers, lines
    [request_line] = [line for line in mine if line["logger"] == "kirana.request"]
    assert request_line["outcome"] == "admin"
    assert request_line["sender"] == "+91*******000"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("from +919800000001: hi", "from +91*******001: hi"),
        ("From=whatsapp%3A%2B919800000001&Body=hi", "From=whatsapp%3A+91*******001&Body=hi"),
        ("Authorization: Bearer abcdef123456", "Authorization: Bearer [redacted]"),
        ("password=hunter22 next", "password=[redacted] next"),
        ('{"csrf_token": "abc123def"}', '{"csrf_token": "[redacted]"}'),
        ("job payment_reminders as of 2026-11-29: ok in 0.10 s {'queued': 3}", None),
        ("outbox #12 credit_paused accepted by Twilio (SM0123456789abcdef)", None),
        ("order 1234567890 placed", None),
    ],
)
def test_scrub(text: str, expected: str | None) -> None:
    assert scrub(text) == (text if expected is None else expected)


def test_scrub_replaces_registered_secrets() -> None:
    register_secrets(["s3cret-value-xyz", None, ""])
    try:
        assert scrub("token was s3cret-value-xyz!") == "token was [redacted]!"
    finally:
        register_secrets(())


@pytest.mark.parametrize(
    "message",
    [
        'login failed: password="ab\\"cd efgh" for +919800000001',
        "Authorization: Bearer abc\\def123456 cookie=sess\\\\ion-value",
        'token: "x\\u0000yz1234" session=\'abc"def\'',
    ],
)
def test_a_scrubbed_json_line_is_still_json(message: str) -> None:
    record = logging.LogRecord("t", logging.WARNING, "x", 1, message, None, None)
    line = JsonFormatter().format(record)
    assert json.loads(line)["level"] == "WARNING"
    assert "919800000001" not in line


def test_the_worker_serves_its_metrics_on_metrics_port() -> None:
    import socket

    from bot.cli import metrics

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.JOB_RUNS.labels("auto_pause", "error").inc()
    metrics.serve_worker(port, "127.0.0.1")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'kirana_job_runs_total{job="auto_pause",outcome="error"}' in text
    assert "kirana_outbox_sends_total" in text
