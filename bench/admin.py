"""Benchmark: p95 of every admin GET route over HTTP at 100k retailers / 1M transactions.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/admin.py \\
        [--retailers 100000] [--transactions 1000000] [--runs 40]

Creates a throwaway database, applies the migrations and loads the ledger of bench/dashboard.py
(dated from today, as the server's clock reads it), with a catalogue, insights for every
retailer, outbox messages and pending checkouts; VACUUM ANALYZE (the machine's PostgreSQL runs
with autovacuum off: this stands in for it). Then starts `python -m bot web` (one uvicorn
process) with an ADMIN_API_TOKEN and times, with a bearer token over keep-alive HTTP, every GET
route of `handlers.admin.ADMIN_ROUTES` (enumerated, so a new route cannot be missed; path
parameters filled with real ids, a different one each request): first as before the 04:00 refresh
(yesterday's refresh ran: the readers age from the ledger the accounts whose debits moved
overnight), then after today's `refresh_stale_aging` and a VACUUM ANALYZE of credit_accounts. Prints p50/p95/max per route and phase; drops the database at the end (also on
Ctrl+C).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg
from benchlib import (
    Figures,
    create_database,
    database_name,
    drop_database,
    pct,
    rss_mb,
    web_server,
)
from dashboard import generate, load
from starlette.routing import Route
from webhook import Connection

from bot.clock import business_date
from bot.insights import OrderLineSummary, OrderSummary, compute_insights
from db.aging import STALE, refresh_stale_aging
from db.migrate import migrate
from db.pool import connect
from db.seed import PRODUCTS
from handlers.admin import ADMIN_ROUTES, PREFIX

TARGET_P95_MS = 100.0
TZ_NAME = "Asia/Kolkata"
# Query strings timed besides each route's bare path (the at-risk list as the console shows it,
# one retailer's audit, the statement as CSV).
VARIANTS = {
    "/credit/at-risk": ["?limit=100"],
    "/audit": ["?retailer={retailer}"],
    "/credit/{retailer}/statement": ["?format=csv"],
}


def get_routes() -> list[tuple[str, list[str]]]:
    """Every admin GET route: its path below PREFIX and its path parameters' names."""
    found = []
    for route in ADMIN_ROUTES:
        if isinstance(route, Route) and route.methods and "GET" in route.methods:
            found.append((route.path, list(route.param_convertors)))
    return found


async def fill_extras(url: str, retailers: int, today: date, now: datetime) -> None:
    """What the ledger load leaves empty and a GET route reads: the catalogue, insights for every
    retailer, outbox messages (two per retailer), pending checkouts (one per 10 retailers)."""
    conn = await connect(url)
    try:
        await conn.executemany(
            "INSERT INTO products (sku, name, category, price, unit) VALUES ($1, $2, $3, $4, $5)",
            PRODUCTS,
        )
        sample = compute_insights(
            [
                OrderSummary(
                    i,
                    today - timedelta(days=7 * i),
                    250000,
                    "CREDIT",
                    (OrderLineSummary(1, "Atta 5kg", 2, 50000),),
                )
                for i in range(1, 9)
            ],
            today,
        )
        await conn.execute(
            """INSERT INTO retailer_insights (retailer_id, as_of, data, generated_at)
               SELECT g, $2, $3::jsonb, $4 FROM generate_series(1, $1::int) g""",
            retailers,
            today,
            sample,
            now,
        )
        await conn.execute(
            """INSERT INTO outbox_messages (retailer_id, to_phone, kind, template, body, status,
                   dedupe_key, created_at, sent_at, updated_at, attempts)
               SELECT r.id, r.phone, 'payment_reminder', 'payment_reminder',
                      'Reminder ' || k || ' for ' || r.name,
                      CASE WHEN k = 1 THEN 'DELIVERED' ELSE 'SENT' END,
                      'bench:' || r.id || ':' || k, at, at, at, 1
               FROM retailers r, generate_series(1, 2) k,
                    LATERAL (SELECT $1::timestamptz - make_interval(mins => (r.id * 7 + k * 1440)::int)
                             AS at) t""",
            now,
        )
        await conn.execute(
            """INSERT INTO pending_orders (retailer_id, cart, total, status, expires_at, created_at)
               SELECT g, '[]', 25000, CASE WHEN g % 3 = 0 THEN 'PENDING' ELSE 'EXPIRED' END,
                      $2::timestamptz + interval '1 hour', $2
               FROM generate_series(1, $1::int, 10) g""",
            retailers,
            now,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def time_routes(
    base: str, token: str, ids: dict[str, list[int]], runs: int, rng: random.Random
) -> list[tuple[str, list[float]]]:
    """Each route (and variant) `runs` times, one request at a time, after 3 warm-up requests."""
    split = urlsplit(base)
    conn = Connection(split.hostname or "127.0.0.1", split.port or 80)
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    try:
        for path, params in get_routes():
            for name in params:
                if name not in ids:
                    raise SystemExit(
                        f"bench/admin.py has no ids for {{{name}}} of GET {PREFIX}{path}:"
                        " add them to `ids` in main()"
                    )
            for variant in ["", *VARIANTS.get(path, [])]:
                template = PREFIX + path + variant

                def url(template: str = template) -> str:
                    filled = {n: rng.choice(ids[n]) for n in ids}
                    return template.format(**filled)

                samples = await _time(conn, url, headers, runs)
                out.append((path + variant, samples))
    finally:
        await conn.close()
    return out


async def _time(
    conn: Connection, url: Callable[[], str], headers: dict[str, str], runs: int
) -> list[float]:
    samples = []
    for i in range(3 + runs):
        target = url()
        t0 = time.perf_counter()
        status = await conn.request("GET", target, b"", headers)
        took = time.perf_counter() - t0
        if status != 200:
            raise SystemExit(f"GET {target} answered {status}")
        if i >= 3:
            samples.append(took)
    return samples


async def run(args: argparse.Namespace, figures: Figures) -> None:
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)
    today = business_date(now, ZoneInfo(TZ_NAME))
    name = database_name()
    url = await create_database(name)
    print(f"database {name}: {args.retailers:,} retailers, {args.transactions:,} transactions")
    try:
        raw = await connect(url)
        try:
            await migrate(raw)
        finally:
            await raw.close()
        raw = await asyncpg.connect(url)
        try:
            t0 = time.perf_counter()
            data = generate(args.retailers, args.transactions, now=now)
            print(f"  generated in {time.perf_counter() - t0:.1f} s")
            await load(raw, data)
            del data
            order_ids = [r["id"] for r in await raw.fetch("SELECT id FROM orders")]
        finally:
            await raw.close()
        await fill_extras(url, args.retailers, today, now)
        rng = random.Random(5)
        ids = {
            "retailer": list(range(1, args.retailers + 1)),
            "order": order_ids,
        }
        # The state before today's 04:00 refresh: yesterday's ran (accounts whose debits moved
        # overnight are aged from the ledger by the readers).
        conn = await connect(url)
        try:
            t0 = time.perf_counter()
            aged = await refresh_stale_aging(conn, today - timedelta(days=1))
            took = time.perf_counter() - t0
            await conn.execute("VACUUM ANALYZE credit_accounts")
            stale = await conn.fetchval(
                f"SELECT count(*) FROM credit_accounts ca WHERE {STALE}", today
            )
        finally:
            await conn.close()
        print(
            f"  yesterday's aging refresh: {aged:,} accounts in {took:.1f} s; {stale:,} stale today"
        )
        token = secrets.token_hex(16)
        phases: list[tuple[str, list[tuple[str, list[float]]]]] = []
        with web_server(url, ADMIN_API_TOKEN=token) as (base, pid):
            idle = rss_mb(pid)
            phases.append(
                (
                    "before the day's aging refresh",
                    await time_routes(base, token, ids, args.runs, rng),
                )
            )
            conn = await connect(url)
            try:
                t0 = time.perf_counter()
                refreshed = await refresh_stale_aging(conn, today)
                took = time.perf_counter() - t0
                await conn.execute("VACUUM ANALYZE credit_accounts")
            finally:
                await conn.close()
            print(f"  aging refresh: {refreshed:,} accounts in {took:.1f} s, then VACUUM ANALYZE")
            figures.add(
                f"{args.retailers:,} retailers, {args.transactions:,} transactions; the day's "
                f"aging refresh ({args.runs} requests per route and phase, one at a time)",
                f"{stale:,} of {aged:,} accounts aged yesterday no longer hold today; "
                f"refreshed in {took:.1f} s",
            )
            phases.append(
                (
                    "after the day's aging refresh",
                    await time_routes(base, token, ids, args.runs, rng),
                )
            )
            loaded = rss_mb(pid)
        for phase, results in phases:
            print(f"\n{phase}: {args.runs} requests per route, one at a time")
            print(f"{'GET ' + PREFIX:<48}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
            worst = max(results, key=lambda r: pct(r[1], 95))
            for path, samples in results:
                p50, p95 = pct(samples, 50), pct(samples, 95)
                print(f"{path:<48}{p50:>9.1f}{p95:>9.1f}{max(samples) * 1000:>9.1f}")
            print(f"slowest: {worst[0]} p95 {pct(worst[1], 95):.1f} ms")
        (_, before), (_, after) = phases
        for (path, b_samples), (_, a_samples) in zip(before, after, strict=True):
            p95s = pct(b_samples, 95), pct(a_samples, 95)
            figures.add(
                f"GET {path}",
                f"before the refresh p50 {pct(b_samples, 50):.1f} / p95 {p95s[0]:.1f} ms; "
                f"after p50 {pct(a_samples, 50):.1f} / p95 {p95s[1]:.1f} ms",
                f"p95 < {TARGET_P95_MS:.0f} ms",
                max(p95s) < TARGET_P95_MS,
            )
        print(f"\nweb process resident memory: {idle:.0f} MB idle, {loaded:.0f} MB after")
        figures.add(
            "web process resident memory (admin run), idle / after",
            f"{idle:.0f} MB / {loaded:.0f} MB",
        )
    finally:
        await drop_database(name)
        print(f"dropped {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--retailers", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per route and phase")
    parser.add_argument("--json", help="also write the figures to this file (bench/run_all.py)")
    args = parser.parse_args()
    figures = Figures(
        "admin GET",
        args.json,
        "python bench/admin.py " + " ".join(sys.argv[1:]),
    )
    asyncio.run(run(args, figures))
    figures.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
