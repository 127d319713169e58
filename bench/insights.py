"""Benchmark: `regenerate_insights` at scale: its time and the peak memory of the process.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/insights.py \\
        [--retailers 100000] [--lines 5000000]

Creates a throwaway database on that server, applies the migrations, makes the orders of 120
days (about 5 lines an order, spread evenly over the retailers, 500 products), then runs the job
in a child process of its own, as a worker would, and prints the job's time and the child's peak
resident memory (and what the child held before the job). The database is dropped at the end (also
on Ctrl+C).

The rows are made by the server (`generate_series`), not in Python and copied in as
bench/dashboard.py does: five million order lines would take more memory here than the job under
test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from benchlib import Figures, create_database, database_name, drop_database, redis_url

from bot.clock import FixedClock, business_date
from db.migrate import migrate
from db.pool import connect

NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
PRODUCTS = 500
LINES_PER_ORDER = 5


async def generate(conn: asyncpg.Connection, retailers: int, lines: int) -> None:
    """Retailers, products, orders over the last 120 days and their lines, made by the server."""
    orders_per = max(1, round(lines / LINES_PER_ORDER / retailers))
    await conn.execute("SET session_replication_role = replica")  # consistent by construction
    steps = [
        (
            "retailers",
            """INSERT INTO retailers (id, phone, name, shop_name, language, created_at)
               SELECT g, '+9170' || lpad(g::text, 8, '0'), 'Retailer ' || g, 'Shop ' || g,
                      CASE WHEN g % 3 = 0 THEN 'hi' ELSE 'en' END, $1::timestamptz
               FROM generate_series(1, $2::int) g""",
            (NOW, retailers),
        ),
        (
            "products",
            """INSERT INTO products (id, sku, name, category, price)
               SELECT g, 'SKU-' || g, 'Product ' || g, 'Category ' || (g % 20),
                      1000 + (g * 37 % 50000)
               FROM generate_series(1, $1::int) g""",
            (PRODUCTS,),
        ),
        (
            "orders",
            """INSERT INTO orders (id, retailer_id, total, payment_mode, status, due_date,
                   created_at)
               SELECT (r - 1) * $2::int + k, r, 10000 + ((r * 7919 + k * 104729) % 900000),
                      CASE WHEN (r + k) % 5 < 3 THEN 'CREDIT' ELSE 'COD' END, 'DELIVERED',
                      ($1::timestamptz - make_interval(mins => m))::date + 15,
                      $1::timestamptz - make_interval(mins => m)
               FROM generate_series(1, $3::int) r, generate_series(1, $2::int) k,
                    LATERAL (SELECT ((r * 31 + k * 7717) % 172800)::int AS m) at""",
            (NOW, orders_per, retailers),
        ),
        (
            "order_items",
            """INSERT INTO order_items (order_id, product_id, sku, name, unit_price, quantity,
                   line_total)
               SELECT o.id, p.id, p.sku, p.name, p.price, q.n, p.price * q.n
               FROM orders o, generate_series(1, $1::int) k,
                    LATERAL (SELECT 1 + ((o.id * 7919 + k * 104729) % $2::int) AS id) pick
                    JOIN products p ON p.id = pick.id,
                    LATERAL (SELECT 1 + ((o.id * 31 + k * 17) % 10)::int AS n) q""",
            (LINES_PER_ORDER, PRODUCTS),
        ),
    ]
    for table, sql, args in steps:
        t0 = time.perf_counter()
        status = await conn.execute(sql, *args)
        print(
            f"  {table:<12} {int(status.split()[-1]):>10,} rows  {time.perf_counter() - t0:6.1f} s"
        )
    for seq, table in (
        ("retailers_id_seq", "retailers"),
        ("products_id_seq", "products"),
        ("orders_id_seq", "orders"),
    ):
        await conn.execute(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))")
    await conn.execute("SET session_replication_role = DEFAULT")
    t0 = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    print(f"  vacuum analyze                        {time.perf_counter() - t0:6.1f} s")


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_job(url: str) -> dict[str, object]:
    """The child: run the job once, as a worker would; its time and this process's peak RSS."""
    import httpx

    from bot.cli.deps import Deps, redis_client
    from bot.messages import Renderer
    from bot.settings import Settings
    from db.pool import create_pool
    from jobs.tasks import regenerate_insights

    settings = Settings(database_url=url, redis_url=redis_url())
    clock = FixedClock(NOW)
    pool = await create_pool(url, max_size=5)
    redis = redis_client(redis_url())  # the job never uses it
    http = httpx.AsyncClient()
    before = _rss_mb()
    try:
        deps = Deps(settings, pool, redis, http, clock, Renderer())
        t0 = time.perf_counter()
        counts = await regenerate_insights(deps, business_date(NOW, settings.tz))
        seconds = time.perf_counter() - t0
    finally:
        await http.aclose()
        await redis.aclose()
        await pool.close()
    return {"seconds": seconds, "peak_mb": _rss_mb(), "before_mb": before, "counts": counts}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--retailers", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--json", help="also write the figures to this file (bench/run_all.py)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(await run_job(args.child)))
        return 0

    figures = Figures(
        "insights",
        args.json,
        "python bench/insights.py " + " ".join(sys.argv[1:]),
    )
    name = database_name()
    url = await create_database(name)
    print(f"database {name}: {args.retailers:,} retailers, about {args.lines:,} order lines")
    try:
        conn = await connect(url)
        try:
            await migrate(conn)
            await generate(conn, args.retailers, args.lines)
        finally:
            await conn.close()
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", url],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            return 1
        result = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"regenerate_insights: {result['seconds']:.1f} s, peak RSS {result['peak_mb']:.0f} MB "
            f"({result['before_mb']:.0f} MB before the job); {result['counts']}"
        )
        ok = result["seconds"] < 60 and result["peak_mb"] < 300
        print(f"target under 60 s and 300 MB: {'met' if ok else 'MISSED'}")
        figures.add(
            f"regenerate_insights at {args.retailers:,} retailers, {args.lines:,} order lines, in a "
            "process of its own: time, peak resident memory",
            f"{result['seconds']:.1f} s, {result['peak_mb']:.0f} MB "
            f"({result['before_mb']:.0f} MB before the job)",
            "< 60 s, < 300 MB",
            ok,
        )
    finally:
        if not args.keep:
            await drop_database(name)
    figures.write()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
