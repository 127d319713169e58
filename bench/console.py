"""Benchmark: the console's retailer search and orders board at 100k retailers / 1M transactions.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/console.py

Loads bench/dashboard.py's data with realistic names and shops (so a word matches a few hundred
retailers, not all of them), prints EXPLAIN ANALYZE of the searches the console runs and their
p50/p95 through `db.console_queries`, and drops the database at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
from typing import Any

import asyncpg

from bench.dashboard import DEFAULT_URL, generate, load, timed
from bot.cli.embedded import database_url_for
from bot.credit import CreditStatus
from db import console_queries as cq
from db.migrate import migrate
from db.pool import connect

FIRST = [
    "Ramesh",
    "Suresh",
    "Mahesh",
    "Ganesh",
    "Rajesh",
    "Sunita",
    "Anita",
    "Kavita",
    "Priya",
    "Pooja",
    "Abdul",
    "Imran",
    "Salim",
    "Farah",
    "Vijay",
    "Ajay",
    "Sanjay",
    "Lakshmi",
    "Meena",
    "Geeta",
    "Harish",
    "Naresh",
    "Dinesh",
    "Rakesh",
    "Mukesh",
    "Kiran",
    "Arjun",
    "Ravi",
    "Sita",
    "Radha",
    "Gopal",
    "Mohan",
    "Sohan",
    "Kamal",
    "Nirmala",
    "Usha",
    "Asha",
    "Deepak",
    "Anil",
    "Sunil",
]
LAST = [
    "Kumar",
    "Sharma",
    "Verma",
    "Gupta",
    "Agarwal",
    "Patil",
    "Iyer",
    "Nair",
    "Reddy",
    "Rao",
    "Khan",
    "Sheikh",
    "Singh",
    "Yadav",
    "Jain",
    "Mehta",
    "Shah",
    "Desai",
    "Joshi",
    "Kulkarni",
    "Pillai",
    "Menon",
    "Das",
    "Ghosh",
    "Bose",
    "Mishra",
    "Pandey",
    "Tiwari",
    "Chauhan",
]
SHOP = [
    "General Store",
    "Kirana",
    "Provision Store",
    "Supermart",
    "Traders",
    "Stores",
    "Mart",
    "Bazaar",
    "Departmental Store",
    "Enterprises",
]


def rename(data: dict[str, list[tuple[object, ...]]], seed: int = 3) -> None:
    """Give the generated retailers people's names and shop names (columns 2 and 3)."""
    rng = random.Random(seed)
    rows = data["retailers"]
    for i, row in enumerate(rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        shop = f"{rng.choice((first, last))} {rng.choice(SHOP)}"
        rows[i] = (*row[:2], f"{first} {last}", shop, *row[4:])


SEARCHES: list[tuple[str, str, dict[str, Any]]] = [
    ("first page, no query", "", {}),
    ("a surname (~3% match)", "sharma", {}),
    ("a shop word", "kirana", {}),
    ("name + surname (rare)", "kavita pillai", {}),
    ("part of a number", "0004567", {}),
    ("a whole number", "+917000045678", {}),
    ("two letters", "ra", {}),
    ("no match", "zzzz", {}),
    ("paused, no query", "", {"status": CreditStatus.PAUSED}),
    ("surname, paused", "sharma", {"status": CreditStatus.PAUSED}),
]


async def explain(conn: asyncpg.Connection, query: str, **kw: Any) -> str:
    """EXPLAIN ANALYZE of the statement `search_retailers` sends."""
    sql, args = cq.search_statement(query, **kw)
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", *args)
    return "\n".join(r[0] for r in rows)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--retailers", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    name = f"kirana_bench_console_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url_for(server, name)
    print(f"database {name}: {args.retailers:,} retailers, {args.transactions:,} transactions")
    try:
        raw = await asyncpg.connect(url)
        try:
            await migrate(raw)
            data = generate(args.retailers, args.transactions)
            rename(data)
            await load(raw, data)
        finally:
            await raw.close()
        conn = await connect(url)
        try:
            deep = await cq.search_retailers(conn, "", limit=50 * 40)
            after_deep = deep.rows[-1].id
            for label, query, kw in SEARCHES[:2] + SEARCHES[4:5] + SEARCHES[6:7]:
                print(f"\n--- {label}: {query!r} {kw or ''}")
                print(await explain(conn, query, **kw))
            print(f"\n{'search':<28}{'rows':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
            for label, query, kw in SEARCHES:
                page = await cq.search_retailers(conn, query, **kw)
                _, p50, p95, worst = await timed(
                    label,
                    args.runs,
                    lambda i, q=query, k=kw: cq.search_retailers(conn, q, **k),  # type: ignore[misc]
                )
                print(f"{label:<28}{len(page.rows):>6}{p50:>10.1f}{p95:>10.1f}{worst:>10.1f}")
            _, p50, p95, worst = await timed(
                "page 41 (keyset)",
                args.runs,
                lambda i: cq.search_retailers(conn, "", after=after_deep),
            )
            print(
                f"{'page 41, no query (keyset)':<28}{50:>6}{p50:>10.1f}{p95:>10.1f}{worst:>10.1f}"
            )
            for label, kw in (
                ("orders board, newest", {}),
                ("orders board, DELIVERED", {"status": "DELIVERED"}),
                ("orders board, PLACED", {"status": "PLACED"}),
            ):
                _, p50, p95, worst = await timed(
                    label,
                    args.runs,
                    lambda i, k=kw: cq.get_orders_board(conn, **k),  # type: ignore[misc]
                )
                print(f"{label:<28}{'':>6}{p50:>10.1f}{p95:>10.1f}{worst:>10.1f}")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"\ndropped {name}")
        await admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
