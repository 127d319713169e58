"""Benchmark: reminders sent by real worker processes to a fake Twilio that answers 10% with 429.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/sending.py \\
        [--messages 600] [--rate 20] [--workers 2]

Creates a throwaway database with `--messages` retailers, each with one debit due today and a
message from them within WhatsApp's 24-hour window (so reminders go as free-form text), records
today's job slots as run (so the workers' catch-up runs nothing), and starts a fake Twilio on
127.0.0.1: its Messages API answers every tenth POST with 429 Too Many Requests (Retry-After: 1;
never the same recipient twice, so the retry tail stays one backoff long) and the others with
201. Starts `--workers` `python -m bot worker` processes with SEND_RATE_PER_SECOND=`--rate`,
runs today's `payment_reminders` (one reminder per retailer into the outbox), and watches:

- the send rate: POSTs per second from the first to the moment every reminder was posted once,
  against the outbox's configured rate (SEND_RATE_PER_SECOND x OUTBOX_RATE_SHARE, shared by all
  workers through Redis); a 429 takes a slot at Twilio like any POST;
- duplicates: recipients Twilio accepted more than one message for;
- lost: reminders not handed to Twilio (status ACCEPTED or later) once the 429-ed ones were retried (after
  the sender's 30 s backoff), within a bound.

Prints the figures and the workers' resident memory (idle, and after); stops the workers and drops
the database at the end (also on Ctrl+C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from benchlib import (
    Figures,
    create_database,
    database_name,
    drop_database,
    process,
    redis_url,
    rss_mb,
    service_env,
)

from bot.cli.deps import Deps, redis_client
from bot.clock import SystemClock, business_date
from bot.messages import Renderer
from bot.settings import Settings
from db.migrate import migrate
from db.pool import connect, create_pool
from jobs.registry import JOBS
from jobs.schedule import slots_on
from jobs.tasks import payment_reminders

ACCOUNT_SID = "AC" + "2" * 32
FROM = "+14155238886"
TARGET_SHARE = 0.9
# The retried reminders go again after the sender's first backoff (30 s, jittered).
RETRY_BOUND_S = 150


class FakeTwilio:
    """Twilio's Messages API on a local port: every tenth POST refused with 429 (never the same
    recipient twice), the rest accepted; every POST kept with its time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: list[tuple[float, str, int]] = []  # (time, To, status)
        self.accepted: list[dict[str, Any]] = []
        self.refused: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: Any, extra: dict[str, str]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                to = fields.get("To", "")
                with fake.lock:
                    refuse = len(fake.posts) % 10 == 9 and to not in fake.refused
                    fake.posts.append((time.monotonic(), to, 429 if refuse else 201))
                    if refuse:
                        fake.refused.add(to)
                    else:
                        message = {
                            "sid": "SM" + secrets.token_hex(16),
                            "to": to,
                            "from": fields.get("From", ""),
                            "body": fields.get("Body", ""),
                            "status": "queued",
                            "direction": "outbound-api",
                            "date_created": format_datetime(datetime.now(UTC), usegmt=True),
                        }
                        fake.accepted.append(message)
                if refuse:
                    self._answer(
                        429,
                        {"code": 20429, "message": "Too Many Requests", "status": 429},
                        {"Retry-After": "1"},
                    )
                else:
                    self._answer(201, message, {})

            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                with fake.lock:
                    found = [
                        m
                        for m in reversed(fake.accepted)
                        if m["to"] == query.get("To") and m["from"] == query.get("From")
                    ]
                self._answer(200, {"messages": found, "next_page_uri": None}, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> tuple[list[tuple[float, str, int]], Counter[str]]:
        with self.lock:
            return list(self.posts), Counter(m["to"] for m in self.accepted)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def prepare(url: str, n: int, settings: Settings) -> None:
    """`n` retailers who wrote today, one ₹700 debit each ordered 15 days ago (due today: the
    due-today reminder point), and today's job slots so far recorded as run."""
    now = datetime.now(UTC)
    today = business_date(now, settings.tz)
    ordered = today - timedelta(days=15)
    conn = await connect(url)
    try:
        await migrate(conn)
        await conn.execute(
            """INSERT INTO retailers (phone, name, shop_name, language, last_inbound_at)
               SELECT '+9170' || lpad(g::text, 8, '0'), 'Retailer ' || g, 'Shop ' || g,
                      CASE WHEN g % 3 = 0 THEN 'hi' ELSE 'en' END, $2
               FROM generate_series(1, $1::int) g""",
            n,
            now - timedelta(minutes=30),
        )
        await conn.execute(
            """INSERT INTO credit_accounts (retailer_id, credit_limit, outstanding)
               SELECT id, 10000000, 70000 FROM retailers"""
        )
        await conn.execute(
            """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                   due_date, txn_date, created_at)
               SELECT id, 'DEBIT', 'DEBIT', 70000, 'OPEN', $1::date + 15, $1::date,
                      now() - interval '15 days'
               FROM retailers""",
            ordered,
        )
        rows = [
            (name, slot, today, slot)
            for name in JOBS
            for slot in slots_on(name, today, settings.tz, settings)
            if slot <= now
        ]
        await conn.executemany(
            """INSERT INTO job_runs (job, scheduled_for, as_of, started_at, finished_at)
               VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING""",
            rows,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def queue_reminders(settings: Settings) -> dict[str, int]:
    """Today's payment_reminders, as the 10:00 job runs it (queues; the workers send)."""
    assert settings.database_url and settings.redis_url
    pool = await create_pool(settings.database_url, max_size=2)
    redis = redis_client(settings.redis_url)
    http = httpx.AsyncClient()
    try:
        clock = SystemClock()
        deps = Deps(settings, pool, redis, http, clock, Renderer())
        return await payment_reminders(deps, business_date(clock.now(), settings.tz))
    finally:
        await http.aclose()
        await redis.aclose()
        await pool.close()


HANDED = ("ACCEPTED", "SENT", "DELIVERED", "READ")


def handed(statuses: dict[str, int]) -> int:
    """Reminders Twilio took (ACCEPTED, and the statuses its callbacks move them on to)."""
    return sum(statuses.get(s, 0) for s in HANDED)


async def status_counts(url: str) -> dict[str, int]:
    conn = await connect(url)
    try:
        rows = await conn.fetch(
            """SELECT status, count(*) AS n FROM outbox_messages
               WHERE kind = 'payment_reminder' GROUP BY status"""
        )
    finally:
        await conn.close()
    return {r["status"]: r["n"] for r in rows}


async def run(args: argparse.Namespace, figures: Figures) -> None:
    name = database_name()
    url = await create_database(name)
    queue = f"arq:{name}"  # run_all.py drops arq:<its prefix>* if this run is killed
    settings = Settings(
        database_url=url,
        redis_url=redis_url(),
        quiet_hours="off",
        send_rate_per_second=args.rate,
        arq_queue_name=queue,
    )
    twilio = FakeTwilio()
    logs = Path(tempfile.mkdtemp(prefix="bench-sending-"))
    env = service_env(
        url,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_WHATSAPP_FROM=FROM,
        TWILIO_API_URL=twilio.url,
        PUBLIC_BASE_URL="https://bot.example.test",
        SEND_RATE_PER_SECOND=str(args.rate),
        QUIET_HOURS="off",
        ARQ_QUEUE_NAME=queue,
    )
    n = args.messages
    rate = settings.outbox_rate_per_second
    print(f"database {name}: {n:,} retailers; {args.workers} workers, SEND_RATE_PER_SECOND="
          f"{args.rate:g} (the outbox's share: {rate:g}/s); fake Twilio on {twilio.url}")  # fmt: skip
    try:
        await prepare(url, n, settings)
        with contextlib.ExitStack() as stack:
            pids = [
                stack.enter_context(process(["worker"], env, logs / f"worker{i + 1}.log"))
                for i in range(args.workers)
            ]
            await asyncio.sleep(args.settle)  # started and idle
            idle = [rss_mb(pid) for pid in pids]
            t0 = time.perf_counter()
            counts = await queue_reminders(settings)
            print(f"payment_reminders queued in {time.perf_counter() - t0:.1f} s: {counts}")
            # the first pass: until every reminder was posted once
            deadline = time.monotonic() + n / rate * 3 + 60
            while True:
                posts, accepted = twilio.snapshot()
                if len({to for _, to, _ in posts}) >= n or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            firsts: dict[str, float] = {}
            for at, to, _ in posts:
                firsts.setdefault(to, at)
            end = max(firsts.values())
            window = [p for p in posts if p[0] <= end]
            seconds = end - window[0][0]
            post_rate = (len(window) - 1) / seconds if seconds > 0 else 0.0
            ok_rate = sum(1 for p in window if p[2] == 201) / seconds if seconds > 0 else 0.0
            refused = sum(1 for p in window if p[2] == 429)
            print(f"first pass: {len(window):,} POSTs in {seconds:.1f} s = {post_rate:.2f}/s "
                  f"({refused} answered 429), {ok_rate:.2f} accepted/s; the outbox's rate "
                  f"{rate:g}/s")  # fmt: skip
            # the retries of the refused ones, after the sender's backoff
            deadline = time.monotonic() + RETRY_BOUND_S
            t_retry = time.monotonic()
            while time.monotonic() < deadline:
                statuses = await status_counts(url)
                if handed(statuses) >= n:
                    break
                await asyncio.sleep(0.5)
            retry_s = time.monotonic() - t_retry
            await asyncio.sleep(1)  # anything sent twice would be posted by now
            loaded = [rss_mb(pid) for pid in pids]
        posts, accepted = twilio.snapshot()
        statuses = await status_counts(url)
        duplicates = sum(c - 1 for c in accepted.values() if c > 1)
        lost = n - len(accepted)
        not_sent = n - handed(statuses)
        print(f"after the retries ({retry_s:.0f} s): {len(posts):,} POSTs, {len(accepted):,} "
              f"recipients accepted, duplicates {duplicates}, lost {lost}; outbox {statuses}")  # fmt: skip
        print(f"worker resident memory: idle {', '.join(f'{m:.0f}' for m in idle)} MB; "
              f"after {', '.join(f'{m:.0f}' for m in loaded)} MB")  # fmt: skip
        figures.add(
            f"{n:,} reminders sent by {args.workers} workers to a fake Twilio answering 10% with 429: "
            f"POSTs/s in the first pass "
            f"({len(window):,} POSTs, {refused} answered 429)",
            f"{post_rate:.2f}/s = {post_rate / rate:.0%} of the outbox's {rate:g}/s "
            f"(SEND_RATE_PER_SECOND {args.rate:g} x share {settings.outbox_rate_share:g}); "
            f"{ok_rate:.2f} accepted/s",
            f">= {TARGET_SHARE:.0%} of the rate",
            post_rate >= TARGET_SHARE * rate,
        )
        figures.add(
            f"reminders: duplicates / lost of {n:,} (429-ed ones retried after the backoff)",
            f"{duplicates} / {lost} (outbox: {statuses})",
            "0 / 0",
            duplicates == 0 and lost == 0 and not_sent == 0,
        )
        figures.add(
            "worker process resident memory, idle / after sending",
            " + ".join(f"{m:.0f}" for m in idle)
            + " MB / "
            + " + ".join(f"{m:.0f}" for m in loaded)
            + " MB",
        )
    finally:
        twilio.close()
        await drop_database(name)
        await _drop_queue(queue)
        print(f"dropped {name}; worker logs in {logs}")


async def _drop_queue(queue: str) -> None:
    redis = redis_client(redis_url())
    try:
        keys = [k async for k in redis.scan_iter(match=f"{queue}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=600, help="reminders (one per retailer)")
    parser.add_argument("--rate", type=float, default=20.0, help="SEND_RATE_PER_SECOND")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settle", type=float, default=4.0, help="seconds for workers to start")
    parser.add_argument("--json", help="also write the figures to this file (bench/run_all.py)")
    args = parser.parse_args()
    figures = Figures(
        "reminders",
        args.json,
        "python bench/sending.py " + " ".join(sys.argv[1:]),
    )
    asyncio.run(run(args, figures))
    figures.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
