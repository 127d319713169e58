"""Benchmark: risk dashboard, at-risk list and credit profile at 100k retailers / 1M transactions.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/dashboard.py

Creates a throwaway database on that server, applies the migrations, loads the data with COPY,
times each view through the same functions the admin API calls, prints p50/p95, and drops the
database at the end (also on Ctrl+C).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg

from bot.cli.embedded import database_url_for
from bot.clock import business_date
from bot.money import format_inr
from db.aging import refresh_stale_aging
from db.credit_queries import get_at_risk, get_credit_profile, get_risk_dashboard
from db.migrate import migrate
from db.pool import connect

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TZ_NAME = "Asia/Kolkata"
NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
TOLERANCE = 100_00


def _ms(seconds: float) -> float:
    return seconds * 1000


def generate(
    retailers: int, transactions: int, seed: int = 7, now: datetime = NOW
) -> dict[str, list[tuple[object, ...]]]:
    """Rows for retailers, credit_accounts, orders, credit_transactions and audit_log.

    Each retailer gets debits over the last 180 days (one order each) and payments; debits older
    than 20 days are mostly cleared, so about one in seven debits is open, some overdue, a few
    far overdue. `outstanding` is computed from the open debits, as the ledger keeps it.
    """
    from zoneinfo import ZoneInfo

    rng = random.Random(seed)
    tz = ZoneInfo(TZ_NAME)
    today = business_date(now, tz)
    debits_per = max(1, round(transactions * 0.6 / retailers))
    payments_total = transactions - debits_per * retailers
    out: dict[str, list[tuple[object, ...]]] = {
        "retailers": [], "credit_accounts": [], "orders": [], "credit_transactions": [],
        "audit_log": [],
    }  # fmt: skip
    txn_id = 0
    order_id = 0
    created = now - timedelta(days=400)
    for rid in range(1, retailers + 1):
        r = rng.random()
        status = "ACTIVE" if r < 0.93 else ("PAUSED" if r < 0.98 else "BLOCKED")
        paused = status != "ACTIVE"
        out["retailers"].append((
            rid, f"+9170{rid:08d}", f"Retailer {rid}", f"Shop {rid}",
            "hi" if rid % 3 == 0 else "en", status, now - timedelta(days=5) if paused else None,
            "seeded" if paused else None, "SYSTEM" if paused else None, created,
        ))  # fmt: skip
        limit = rng.choice([25_000_00, 50_000_00, 100_000_00, 200_000_00])
        outstanding = 0
        for _ in range(debits_per):
            age = rng.randint(0, 180)
            at = now - timedelta(days=age, minutes=rng.randint(0, 600))
            amount = rng.randint(500_00, 8_000_00)
            day = business_date(at, tz)
            due = day + timedelta(days=15)
            # recent debits are open; older ones mostly paid, some partly, a few never
            p = rng.random()
            if age <= 20:
                cleared, status_t = (0, "OPEN") if p < 0.8 else (amount // 2, "PARTIAL")
            elif p < 0.88:
                cleared, status_t = amount, "CLEARED"
            elif p < 0.94:
                cleared, status_t = amount // 3, "PARTIAL"
            else:
                cleared, status_t = 0, "OPEN"
            if status_t != "CLEARED":
                outstanding += amount - cleared
            order_id += 1
            txn_id += 1
            out["orders"].append((order_id, rid, amount, "CREDIT", "DELIVERED", due, at))
            out["credit_transactions"].append((
                txn_id, rid, "DEBIT", "DEBIT", amount, status_t, due, day, cleared,
                at if cleared else None, order_id, None, "SYSTEM", at,
            ))  # fmt: skip
            out["audit_log"].append(
                (rid, "DEBIT", f"txn:{txn_id}", None, f'{{"amount": {amount}}}', "SYSTEM", at)
            )
        out["credit_accounts"].append(
            (rid, max(limit, outstanding), 50_000_00, 30, 15, outstanding, created)
        )
    for _ in range(payments_total):
        rid = rng.randint(1, retailers)
        at = now - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 600))
        amount = rng.randint(100_00, 5_000_00)
        txn_id += 1
        out["credit_transactions"].append((
            txn_id, rid, "PAYMENT", "CREDIT", amount, "APPLIED", None, business_date(at, tz), 0,
            None, None, f"UPI-{txn_id}", "api", at,
        ))  # fmt: skip
        out["audit_log"].append(
            (rid, "PAYMENT", f"txn:{txn_id}", None, f'{{"amount": {amount}}}', "api", at)
        )
    assert today
    return out


COLUMNS = {
    "retailers": (
        "id", "phone", "name", "shop_name", "language", "credit_status", "credit_paused_at",
        "credit_pause_reason", "paused_by", "created_at",
    ),
    "credit_accounts": (
        "retailer_id", "credit_limit", "max_order_value", "max_outstanding_days",
        "payment_terms_days", "outstanding", "updated_at",
    ),
    "orders": ("id", "retailer_id", "total", "payment_mode", "status", "due_date", "created_at"),
    "credit_transactions": (
        "id", "retailer_id", "type", "direction", "amount", "status", "due_date", "txn_date",
        "cleared_amount", "cleared_at", "order_id", "reference", "performed_by", "created_at",
    ),
    "audit_log": (
        "retailer_id", "action", "reference", "old_value", "new_value", "performed_by",
        "created_at",
    ),
}  # fmt: skip


async def load(conn: asyncpg.Connection, data: dict[str, list[tuple[object, ...]]]) -> None:
    # Raw COPY: JSON columns go in as text, so this connection has no JSON codec. The rows are
    # consistent by construction, so triggers and foreign-key checks are off while loading.
    await conn.execute("SET session_replication_role = replica")
    for table in ("retailers", "credit_accounts", "orders", "credit_transactions", "audit_log"):
        t0 = time.perf_counter()
        await conn.copy_records_to_table(table, records=data[table], columns=COLUMNS[table])
        print(f"  {table:<20} {len(data[table]):>9,} rows  {time.perf_counter() - t0:6.1f} s")
    for seq, table in (
        ("retailers_id_seq", "retailers"),
        ("orders_id_seq", "orders"),
        ("credit_transactions_id_seq", "credit_transactions"),
    ):
        await conn.execute(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))")
    await conn.execute("SET session_replication_role = DEFAULT")
    t0 = time.perf_counter()
    # Index-only scans need the visibility map; autovacuum would get there on its own.
    await conn.execute("VACUUM ANALYZE")
    print(f"  vacuum analyze                        {time.perf_counter() - t0:6.1f} s")


async def timed(
    name: str, runs: int, call: Callable[[int], Awaitable[object]], warmup: int = 5
) -> tuple[str, float, float, float]:
    for i in range(warmup):
        await call(i)
    samples = []
    for i in range(runs):
        t0 = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return name, _ms(p50), _ms(p95), _ms(samples[-1])


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--retailers", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the database in place (for EXPLAIN); drop it yourself",
    )
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    name = f"kirana_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url_for(server, name)
    print(f"database {name}: {args.retailers:,} retailers, {args.transactions:,} transactions")
    try:
        raw = await asyncpg.connect(url)
        try:
            await migrate(raw)
            t0 = time.perf_counter()
            data = generate(args.retailers, args.transactions)
            print(f"  generated in {time.perf_counter() - t0:.1f} s")
            await load(raw, data)
            open_debits = await raw.fetchval(
                """SELECT count(*) FROM credit_transactions
                   WHERE status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT'"""
            )
            total_txns = await raw.fetchval("SELECT count(*) FROM credit_transactions")
            print(f"  {total_txns:,} transactions, {open_debits:,} open debits")
        finally:
            await raw.close()

        conn = await connect(url)
        try:
            from zoneinfo import ZoneInfo

            today: date = business_date(NOW, ZoneInfo(TZ_NAME))
            rng = random.Random(11)
            ids = [rng.randint(1, args.retailers) for _ in range(args.runs + 10)]
            dash = await get_risk_dashboard(conn, today)
            risky = await get_at_risk(conn, today, tolerance=TOLERANCE)
            outstanding = sum(b.amount for b in dash.buckets.values())
            assert outstanding == dash.total_outstanding, "buckets must sum to the outstanding"
            print(
                f"  outstanding {format_inr(dash.total_outstanding)} in "
                f"{', '.join(f'{b.value}={t.retailers:,}' for b, t in dash.buckets.items())}"
                f" retailers; at risk: {risky.total:,}"
            )
            # As loaded, no account has its aging for today yet: the readers age every account
            # from the ledger (what happens if the daily refresh has not run).
            before = [
                await timed(
                    "risk dashboard",
                    max(5, args.runs // 10),
                    lambda i: get_risk_dashboard(conn, today),
                ),
                await timed(
                    "at-risk list (top 100)",
                    max(5, args.runs // 10),
                    lambda i: get_at_risk(conn, today, tolerance=TOLERANCE, limit=100),
                ),
            ]
            t0 = time.perf_counter()
            refreshed = await refresh_stale_aging(conn, today)
            refresh_s = time.perf_counter() - t0
            # What autovacuum does after the nightly refresh rewrote most account rows.
            await conn.execute("VACUUM ANALYZE credit_accounts")
            assert await get_risk_dashboard(conn, today) == dash, "fresh and stale must agree"
            results = [
                await timed("risk dashboard", args.runs, lambda i: get_risk_dashboard(conn, today)),
                await timed(
                    "at-risk list (top 100)",
                    args.runs,
                    lambda i: get_at_risk(conn, today, tolerance=TOLERANCE, limit=100),
                ),
                await timed(
                    "credit profile",
                    args.runs,
                    lambda i: get_credit_profile(conn, ids[i % len(ids)], today),
                ),
            ]
        finally:
            await conn.close()
        header = f"{'query':<24}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}"
        print(f"\nno account aged yet (every one aged from the ledger)\n{header}")
        for label, p50, p95, worst in before:
            print(f"{label:<24}{p50:>10.1f}{p95:>10.1f}{worst:>10.1f}")
        print(
            f"\ndaily aging refresh: {refreshed:,} accounts in {refresh_s:.1f} s"
            " (then VACUUM ANALYZE credit_accounts, as autovacuum would)"
        )
        print(f"\nafter it (the normal state; ledger changes keep their rows current)\n{header}")
        for label, p50, p95, worst in results:
            print(f"{label:<24}{p50:>10.1f}{p95:>10.1f}{worst:>10.1f}")
    finally:
        if args.keep:
            print(f"\nkept {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"\ndropped {name}")
        await admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
