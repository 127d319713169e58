"""Benchmark: the dispatch desk's lists at 1,000,000 orders and 100,000 retailers.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/desk.py

Creates a throwaway database on that server, applies the migrations, fills it with SQL
(generate_series: 100k retailers, 1M orders over a year, a fifth of them still PLACED or
DISPATCHED), then times each list through the functions the admin API calls (first page, a page
deep into the list by keyset, each filter), prints p50/p95 and the plan's first line, and drops
the database at the end (also on Ctrl+C).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bot.cli.embedded import database_url_for
from bot.credit import CreditStatus
from bot.orders import OrderStatus
from db import order_queries as oq
from db import upkeep
from db.migrate import migrate
from db.pool import connect

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)

FILL = """
INSERT INTO retailers (id, phone, name, shop_name, language, created_at)
SELECT g, '+919' || lpad(((g::bigint * 982451653) % 1000000000)::text, 9, '0'),
       (ARRAY['Ramesh','Sunita','Abdul','Priya','Lakshmi','Vikram','Anita','Suresh','Meena',
              'Farhan','Kavita','Deepak','Rekha','Arjun','Pooja','Imran'])[1 + g % 16]
           || ' ' || (ARRAY['Kumar','Devi','Rahman','Sharma','Iyer','Singh','Patel','Gupta',
                            'Reddy','Khan','Das','Nair','Joshi','Yadav','Mehta','Bose'])
           [1 + (g / 16) % 16] || ' ' || g,
       'Shop ' || g, CASE WHEN g % 3 = 0 THEN 'hi' ELSE 'en' END, $1::timestamptz - interval '400 days'
FROM generate_series(1, $2::int) g;
SELECT setval('retailers_id_seq', $2::int);
INSERT INTO credit_accounts (retailer_id, credit_limit) SELECT g, 10000000 FROM generate_series(1, $2::int) g;
UPDATE retailers SET credit_status = 'PAUSED', credit_paused_at = $1, paused_by = 'SYSTEM'
WHERE id % 20 = 0;
INSERT INTO products (id, sku, name, category, price) VALUES (1, 'UNIT', 'Unit', 'Test', 100);
INSERT INTO orders (id, retailer_id, total, payment_mode, status, due_date, created_at)
SELECT g, 1 + (g::bigint * 7919) % $2::int, 1000 + (g % 500) * 100, 'COD',
       CASE WHEN g > $3::int * 0.8 THEN (ARRAY['PLACED','DISPATCHED'])[1 + g % 2]
            ELSE (ARRAY['DELIVERED','DELIVERED','DELIVERED','CANCELLED','FAILED'])[1 + g % 5] END,
       NULL, $1::timestamptz - (($3::int - g) * interval '31 seconds')
FROM generate_series(1, $3::int) g;
SELECT setval('orders_id_seq', $3::int);
INSERT INTO order_items (order_id, product_id, sku, name, unit_price, quantity, line_total)
SELECT g, 1, 'UNIT', 'Unit', 100, 10, 1000 FROM generate_series(1, $3::int) g;
ANALYZE;
"""


def _ms(seconds: float) -> float:
    return seconds * 1000


async def _time(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    await fn()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return _ms(statistics.median(samples)), _ms(samples[int(len(samples) * 0.95) - 1])


async def _plan(conn: asyncpg.Connection, sql: str, args: list[Any], search: bool = False) -> str:
    """The first scan of the query's plan, planned as the list runs it."""
    async with conn.transaction():
        if search:  # as db.upkeep.search_retailers plans it
            await conn.execute("SET LOCAL enable_seqscan = off")
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    lines = [r[0] for r in rows]
    scans = [line.strip() for line in lines if "Scan" in line]
    return (scans[0] if scans else lines[0])[:110]


async def run(url: str, retailers: int, orders: int, runs: int) -> None:
    name = f"kirana_bench_desk_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await connect(database_url_for(url, name))
        try:
            await migrate(conn)
            start = time.perf_counter()
            # Constants of our own written into the script (no user input): one simple query.
            script = (
                FILL.replace("$1::timestamptz", f"'{NOW.isoformat()}'::timestamptz")
                .replace("$1", f"'{NOW.isoformat()}'")
                .replace("$2", str(retailers))
                .replace("$3", str(orders))
            )
            await conn.execute(script)
            print(f"filled {retailers:,} retailers, {orders:,} orders in "
                  f"{time.perf_counter() - start:.0f} s")  # fmt: skip
            await _bench(conn, runs)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _bench(conn: asyncpg.Connection, runs: int) -> None:
    deep = await conn.fetchrow(
        "SELECT created_at, id FROM orders ORDER BY created_at DESC, id DESC OFFSET 500000 LIMIT 1"
    )
    deep_key = (deep["created_at"], deep["id"])
    since = NOW - timedelta(days=30)
    until = NOW - timedelta(days=29)
    order_cases: list[tuple[str, dict[str, Any]]] = [
        ("orders: first page", {}),
        ("orders: page 10,000 (keyset)", {"after": deep_key}),
        ("orders: PLACED", {"status": OrderStatus.PLACED}),
        ("orders: FAILED, deep", {"status": OrderStatus.FAILED, "after": deep_key}),
        ("orders: one retailer", {"retailer_id": 4242}),
        ("orders: one day", {"since": since, "until": until}),
        (
            "orders: DELIVERED on one day",
            {"status": OrderStatus.DELIVERED, "since": since, "until": until},
        ),
    ]
    print(f"{'list':40} {'p50 ms':>8} {'p95 ms':>8}  plan")
    for label, kw in order_cases:
        args = {"status": None, "retailer_id": None, "since": None, "until": None,
                "after": None, "limit": 50} | kw  # fmt: skip
        sql, params = oq.orders_query(**args)
        p50, p95 = await _time(lambda a=args: oq.list_orders(conn, **a), runs)
        print(f"{label:40} {p50:8.2f} {p95:8.2f}  {await _plan(conn, sql, params)}")
    phone: str = await conn.fetchval("SELECT phone FROM retailers WHERE id = 4242")
    retailer_cases: list[tuple[str, dict[str, Any]]] = [
        ("retailers: first page", {}),
        ("retailers: q=sunita", {"q": "sunita"}),
        ("retailers: q=rahman 4242", {"q": "rahman 4242"}),
        ("retailers: q=sunita khan", {"q": "sunita khan"}),
        ("retailers: q=5 digits of a number", {"q": phone[5:10]}),
        ("retailers: q=a whole number, spaced", {"q": f"{phone[:3]} {phone[3:8]} {phone[8:]}"}),
        ("retailers: PAUSED", {"status": CreditStatus.PAUSED}),
        ("retailers: q=shop 99, PAUSED", {"q": "shop 99", "status": CreditStatus.PAUSED}),
    ]
    for label, kw in retailer_cases:
        args = {"q": None, "status": None, "after": None, "limit": 50} | kw
        sql, params = upkeep.retailers_query(**args)
        p50, p95 = await _time(lambda a=args: upkeep.search_retailers(conn, **a), runs)
        plan = await _plan(conn, sql, params, search=True)
        print(f"{label:40} {p50:8.2f} {p95:8.2f}  {plan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--retailers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    try:
        asyncio.run(run(url, args.retailers, args.orders, args.runs))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
