"""CSV import: validated row by row with line numbers, all or nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from bot.cli.importer import import_csv, parse_products, parse_retailers
from tests.ledger_support import NOW, make_retailer

RETAILERS = """phone,name,shop_name,language,credit_limit,max_order_value,max_outstanding_days,payment_terms_days
+919800000001,Ramesh Kumar,Ramesh Stores,en,"1,00,000",,,
98000 00002,Sunita Devi,Sunita Kirana,hi,50000.50,20000,45,10
"""


def test_parse_retailers_good_rows() -> None:
    parsed = parse_retailers(RETAILERS)
    assert parsed.errors == []
    (l1, a), (l2, b) = parsed.rows
    assert (l1, a.phone, a.credit_limit, a.max_order_value, a.payment_terms_days) == (
        2, "+919800000001", 100_000_00, 50_000_00, 15,
    )  # fmt: skip
    assert (l2, b.phone, b.language, b.credit_limit, b.max_outstanding_days) == (
        3, "+919800000002", "hi", 50_000_50, 45,
    )  # fmt: skip


def test_parse_retailers_reports_every_bad_line() -> None:
    text = (
        "phone,name,creditLimit,language,paymentTermsDays\n"
        "+919800000001,A,100,en,\n"
        "12,B,100,en,\n"
        "+919800000003,,100,en,\n"
        "+919800000004,D,12.345,en,\n"
        "+919800000005,E,100,fr,\n"
        "98000 00001,F,100,en,\n"
        "+919800000007,G,100,en,ten\n"
        "+919800000008,H,100\n"
        "\n"
        "+919800000009,I,-5,en,\n"
        "+919800000010,J\x00,100,en,\n"
        "+919800000011,K,100,en,²\n"
    )
    errors = [str(e) for e in parse_retailers(text).errors]
    assert errors == [
        "line 3: phone is not a valid phone number",
        "line 4: name is required",
        "line 5: credit_limit: amount can have at most 2 decimals",
        "line 6: language must be one of en, hi",
        "line 7: +919800000001 repeats line 2",
        "line 8: payment_terms_days: 'ten' is not a whole number of days",
        "line 9: expected 5 fields, got 3",
        "line 11: credit_limit: amount must be positive",
        "line 12: a field holds a NUL character (is it a text file?)",
        "line 13: payment_terms_days: '²' is not a whole number of days",
    ]


def test_parse_header_problems() -> None:
    assert [str(e) for e in parse_retailers("").errors] == ["line 1: the file is empty"]
    assert [str(e) for e in parse_products("sku,name\nA,B\n").errors] == [
        "line 1: missing column(s): category, price"
    ]


def test_parse_products() -> None:
    parsed = parse_products(
        "sku,name,category,price,unit\nATTA,Atta,Staples,450,bag\nSALT,Salt,Staples,0,\n"
    )
    assert [(line, p.sku, p.price, p.unit) for line, p in parsed.rows] == [
        (2, "ATTA", 450_00, "bag")
    ]
    assert [str(e) for e in parsed.errors] == ["line 3: price: amount must be positive"]


async def test_import_is_all_or_nothing(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await make_retailer(conn, "+919800000002")
        result = await import_csv(conn, "retailers", RETAILERS, now=NOW)
        assert not result.ok and result.imported == 0
        assert [str(e) for e in result.errors] == [
            "line 3: phone +919800000002 is already registered"
        ]
        assert await conn.fetchval("SELECT count(*) FROM retailers") == 1

        await conn.execute("TRUNCATE retailers CASCADE")
        result = await import_csv(conn, "retailers", RETAILERS, now=NOW)
        assert result.ok and result.imported == 2
        rows = await conn.fetch(
            """SELECT r.phone, ca.credit_limit, ca.payment_terms_days FROM retailers r
               JOIN credit_accounts ca ON ca.retailer_id = r.id ORDER BY r.phone"""
        )
        assert [tuple(r) for r in rows] == [
            ("+919800000001", 100_000_00, 15),
            ("+919800000002", 50_000_50, 10),
        ]
        audit = await conn.fetchval("SELECT count(*) FROM audit_log WHERE performed_by = 'import'")
        assert audit == 2


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADMIN_", "TWILIO_"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "bot", "import", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


async def test_cli_import(db: asyncpg.Pool, database_url: str, tmp_path: Path) -> None:
    good = tmp_path / "products.csv"
    good.write_text(
        "sku,name,category,price\nATTA,Atta 10kg,Staples,450\nSALT,Salt,Staples,28.50\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,category,price\nOIL,Oil,Staples,abc\nATTA,Atta,Staples,1\n")

    run = _cli(database_url, "products", str(bad))
    assert run.returncode == 1
    assert "line 2: price: 'abc' is not an amount like 1,25,000.50" in run.stderr
    assert "nothing imported: 1 error(s)" in run.stderr
    run = _cli(database_url, "products", str(good))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "imported 2 products"
    run = _cli(database_url, "products", str(good))
    assert run.returncode == 1 and "line 2: SKU ATTA already exists" in run.stderr
    assert await db.fetchval("SELECT count(*) FROM products") == 2
    run = _cli(database_url, "products", str(tmp_path / "missing.csv"))
    assert run.returncode == 2 and "cannot read" in run.stderr
