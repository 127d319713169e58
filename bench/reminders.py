"""Benchmark: the 10:00 `payment_reminders` sweep over 200,000 open debits.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/reminders.py \\
        [--retailers 100000] [--debits 200000]

Creates a throwaway database, applies the migrations and loads (with COPY, as bench/dashboard.py
does) retailers with open debits due from 60 days ago to 20 days ahead, each reminded at its
latest reminder point before today, as if the job had run every day: today's sweep owes
reminders only to the debits whose point is today. Runs the job as of today (no Twilio: it
queues), then again (nothing left to do), and prints the time, what was queued and how many open
debits there were. Drops the database at the end (also on Ctrl+C).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bot.cli.deps import Deps, redis_client
from bot.cli.embedded import database_url_for
from bot.clock import FixedClock, business_date
from bot.messages import Renderer
from bot.reminders import REMINDER_POLICY, latest_point
from bot.settings import Settings
from db.migrate import migrate
from db.pool import connect, create_pool
from jobs.tasks import payment_reminders

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TZ = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)  # 10:00 in Asia/Kolkata


def generate(retailers: int, debits: int, seed: int = 11) -> dict[str, list[tuple[object, ...]]]:
    rng = random.Random(seed)
    today = business_date(NOW, TZ)
    out: dict[str, list[tuple[object, ...]]] = {
        "retailers": [], "credit_accounts": [], "credit_transactions": [],
    }  # fmt: skip
    outstanding = [0] * (retailers + 1)
    for txn_id in range(1, debits + 1):
        rid = rng.randint(1, retailers)
        due = today + timedelta(days=rng.randint(-60, 20))
        ordered = due - timedelta(days=15)
        amount = rng.randint(500_00, 8_000_00)
        cleared = amount // 3 if rng.random() < 0.1 else 0
        point = latest_point(due, today - timedelta(days=1), REMINDER_POLICY)
        reminded = (
            datetime.combine(point, clock_time(10, 0), tzinfo=TZ) if point is not None else None
        )
        at = datetime.combine(ordered, clock_time(12, 0), tzinfo=TZ)
        out["credit_transactions"].append((
            txn_id, rid, "DEBIT", "DEBIT", amount, "PARTIAL" if cleared else "OPEN", due,
            ordered, cleared, None, reminded, at,
        ))  # fmt: skip
        outstanding[rid] += amount - cleared
    for rid in range(1, retailers + 1):
        out["retailers"].append(
            (rid, f"+9170{rid:08d}", f"Retailer {rid}", f"Shop {rid}", "en", NOW)
        )
        limit = max(100_000_00, outstanding[rid])
        out["credit_accounts"].append((rid, limit, outstanding[rid], NOW))
    return out


COLUMNS = {
    "retailers": ("id", "phone", "name", "shop_name", "language", "created_at"),
    "credit_accounts": ("retailer_id", "credit_limit", "outstanding", "updated_at"),
    "credit_transactions": (
        "id", "retailer_id", "type", "direction", "amount", "status", "due_date", "txn_date",
        "cleared_amount", "order_id", "reminder_queued_at", "created_at",
    ),
}  # fmt: skip


async def load(conn: asyncpg.Connection, data: dict[str, list[tuple[object, ...]]]) -> None:
    await conn.execute("SET session_replication_role = replica")  # consistent by construction
    for table in ("retailers", "credit_accounts", "credit_transactions"):
        t0 = time.perf_counter()
        await conn.copy_records_to_table(table, records=data[table], columns=COLUMNS[table])
        print(f"  {table:<20} {len(data[table]):>9,} rows  {time.perf_counter() - t0:6.1f} s")
    for seq, table in (
        ("retailers_id_seq", "retailers"),
        ("credit_transactions_id_seq", "credit_transactions"),
    ):
        await conn.execute(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))")
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("VACUUM ANALYZE")


async def run(url: str) -> None:
    settings = Settings(database_url=url, redis_url="redis://127.0.0.1:6379/0")
    pool = await create_pool(url, max_size=5)
    redis = redis_client("redis://127.0.0.1:6379/0")  # no gateway: never used
    http = httpx.AsyncClient()
    try:
        deps = Deps(settings, pool, redis, http, FixedClock(NOW), Renderer())
        today = business_date(NOW, TZ)
        for label in ("first run", "rerun"):
            t0 = time.perf_counter()
            counts = await payment_reminders(deps, today)
            print(f"payment_reminders, {label}: {time.perf_counter() - t0:.2f} s  {counts}")
    finally:
        await http.aclose()
        await redis.aclose()
        await pool.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--retailers", type=int, default=100_000)
    parser.add_argument("--debits", type=int, default=200_000)
    args = parser.parse_args()
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    name = f"kirana_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url_for(server, name)
    print(f"database {name}: {args.retailers:,} retailers, {args.debits:,} open debits")
    try:
        conn = await connect(url)
        try:
            await migrate(conn)
            await load(conn, generate(args.retailers, args.debits))
        finally:
            await conn.close()
        await run(url)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
