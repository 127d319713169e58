"""The ledger and the audit are append-only (issue 9, item 9); migration 0009 on existing data.

A retailer with money history cannot be deleted (foreign keys RESTRICT, no cascade); audit
entries are never updated or deleted; a ledger row's amount, direction, type and retailer are
written once and no ledger row is deleted. What a row's life moves on (status, cleared amount,
reminders) still changes, and TRUNCATE (how the tests empty tables) still works.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from db import ledger
from db.migrate import MIGRATIONS_DIR, migrate
from tests.ledger_support import NOW, TZ, credit_order, make_product, make_retailer

REFUSED = asyncpg.RestrictViolationError


@pytest.fixture
async def history(db: asyncpg.Pool) -> tuple[int, int]:
    """A retailer with an order, its debit, a payment and their audit entries: (retailer, debit)."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn, price=100_00)
        placed = await credit_order(conn, rid, pid, 10)
        await ledger.record_payment(
            conn, amount=100_00, retailer_id=rid, performed_by="t", now=NOW, tz=TZ
        )
    assert placed.transaction_id is not None
    return rid, placed.transaction_id


async def test_a_retailer_with_history_cannot_be_deleted(
    db: asyncpg.Pool, history: tuple[int, int]
) -> None:
    rid, _ = history
    # PostgreSQL 16+ says "violates RESTRICT setting of foreign key constraint" (23001), 15 says
    # "violates foreign key constraint" (23503): both refuse.
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="foreign key constraint"):
        await db.execute("DELETE FROM retailers WHERE id = $1", rid)
    assert await db.fetchval("SELECT count(*) FROM retailers") == 1


@pytest.mark.parametrize(
    "table, column",
    [
        ("credit_accounts", "retailer_id"),
        ("credit_transactions", "retailer_id"),
        ("orders", "retailer_id"),
        ("audit_log", "retailer_id"),
        ("order_items", "order_id"),
    ],
)
async def test_money_tables_restrict_deletion(db: asyncpg.Pool, table: str, column: str) -> None:
    rule = await db.fetchval(
        """SELECT confdeltype FROM pg_constraint
           WHERE conrelid = $1::regclass AND contype = 'f' AND conname = $2""",
        table,
        f"{table}_{column}_fkey",
    )
    assert rule == b"r"  # RESTRICT, not CASCADE ("c")


# Rows that may go with their retailer or message (none of them money): everything else that
# points at a retailer, an order, a ledger row or a received payment keeps its history.
CASCADE_ALLOWED = frozenset(
    {
        "conversations.conversations_retailer_id_fkey",
        "pending_orders.pending_orders_retailer_id_fkey",
        "retailer_insights.retailer_insights_retailer_id_fkey",
        "outbox_messages.outbox_messages_retailer_id_fkey",
    }
)


async def test_no_key_into_money_history_cascades(db: asyncpg.Pool) -> None:
    rows = await db.fetch(
        """SELECT conrelid::regclass::text || '.' || conname AS key
           FROM pg_constraint WHERE contype = 'f' AND confdeltype = 'c'"""
    )
    assert {r["key"] for r in rows} <= CASCADE_ALLOWED


async def test_an_order_with_lines_cannot_be_deleted(
    db: asyncpg.Pool, history: tuple[int, int]
) -> None:
    # Its debit refers to it; with the debit's link cleared, its lines still do.
    order = await db.fetchval("SELECT id FROM orders")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await db.execute("DELETE FROM orders WHERE id = $1", order)
    await db.execute("UPDATE credit_transactions SET order_id = NULL")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="order_items"):
        await db.execute("DELETE FROM orders WHERE id = $1", order)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET reason = 'edited'",
        "UPDATE audit_log SET new_value = '{}'::jsonb WHERE action = 'PAYMENT'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'PAYMENT'",
    ],
)
async def test_audit_entries_are_never_changed(
    db: asyncpg.Pool, history: tuple[int, int], sql: str
) -> None:
    before = [tuple(r) for r in await db.fetch("SELECT * FROM audit_log ORDER BY id")]
    with pytest.raises(REFUSED, match="audit_log is append-only"):
        await db.execute(sql)
    assert [tuple(r) for r in await db.fetch("SELECT * FROM audit_log ORDER BY id")] == before


@pytest.mark.parametrize(
    "change",
    [
        "amount = amount + 1",
        "amount = 1",
        "direction = 'CREDIT'",
        "type = 'ADJUSTMENT'",
        "retailer_id = (SELECT max(id) FROM retailers)",
    ],
)
async def test_a_transactions_money_is_written_once(
    db: asyncpg.Pool, history: tuple[int, int], change: str
) -> None:
    _, debit = history
    async with db.acquire() as conn:
        await make_retailer(conn, "+919800000002")  # a second retailer to move to
    before = await db.fetchrow("SELECT * FROM credit_transactions WHERE id = $1", debit)
    with pytest.raises(REFUSED, match="written once"):
        await db.execute(f"UPDATE credit_transactions SET {change} WHERE id = $1", debit)
    assert await db.fetchrow("SELECT * FROM credit_transactions WHERE id = $1", debit) == before


async def test_no_transaction_is_deleted(db: asyncpg.Pool, history: tuple[int, int]) -> None:
    with pytest.raises(REFUSED, match="append-only"):
        await db.execute("DELETE FROM credit_transactions WHERE type = 'PAYMENT'")
    assert await db.fetchval("SELECT count(*) FROM credit_transactions") == 2


async def test_a_transactions_life_still_moves(db: asyncpg.Pool, history: tuple[int, int]) -> None:
    _, debit = history
    await db.execute(
        """UPDATE credit_transactions
           SET status = 'CLEARED', cleared_amount = amount, cleared_at = now(),
               reminder_count = reminder_count + 1, reminder_sent_at = now(), notes = 'n',
               amount = amount, type = type  -- the same values are no change
           WHERE id = $1""",
        debit,
    )
    row = await db.fetchrow(
        "SELECT status, cleared_amount FROM credit_transactions WHERE id=$1", debit
    )
    assert tuple(row) == ("CLEARED", 1_000_00)


async def test_truncate_still_empties_the_tables(
    db: asyncpg.Pool, history: tuple[int, int], table_names: list[str]
) -> None:
    await db.execute(f"TRUNCATE {', '.join(table_names)} RESTART IDENTITY CASCADE")
    for table in ("retailers", "credit_transactions", "audit_log", "orders", "product_categories"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0


# --- migration 0009 over data written before it ------------------------------------------------


@pytest.fixture
async def before_0009(
    database_server_url: str, tmp_path: Path
) -> AsyncIterator[asyncpg.Connection]:
    """A database migrated up to 0008 (a copy of the migrations before 0009)."""
    from bot.cli.embedded import database_url_for

    earlier = tmp_path / "migrations"
    earlier.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) < 9:
            shutil.copy(path, earlier / path.name)
    name = f"kirana_0009_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(database_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(database_url_for(database_server_url, name))
    try:
        await migrate(conn, earlier)
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_migration_keeps_duplicates_and_their_money(before_0009: asyncpg.Connection) -> None:
    conn = before_0009
    rid = await conn.fetchval(
        "INSERT INTO retailers (phone, name) VALUES ('+919812345678', 'R') RETURNING id"
    )
    pay = """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                 reference) VALUES ($1, 'PAYMENT', 'CREDIT', $2, 'APPLIED', $3) RETURNING id"""
    first = await conn.fetchval(pay, rid, 100, "UTR-7788")
    second = await conn.fetchval(pay, rid, 200, "utr-7788")
    await conn.executemany(
        "INSERT INTO products (sku, name, category, price) VALUES ($1, $2, $3, 1)",
        [("GHEE-1", "Ghee", "Staples"), ("ghee-1", "Ghee too", " staples"), ("TEA", "Tea", "Tea")],
    )
    await migrate(conn)

    refs = await conn.fetch("SELECT id, amount, reference FROM credit_transactions ORDER BY id")
    assert [tuple(r) for r in refs] == [
        (first, 100, "UTR-7788"),
        (second, 200, f"utr-7788 (duplicate #{second})"),
    ]
    audit = await conn.fetchrow(
        "SELECT * FROM audit_log WHERE action = 'PAYMENT_REFERENCE_RENAMED'"
    )
    assert audit["reference"] == f"txn:{second}"
    assert audit["old_value"] == '{"paymentReference": "utr-7788"}'
    products = await conn.fetch("SELECT sku, category FROM products ORDER BY id")
    assert [tuple(r) for r in products] == [
        ("GHEE-1", "Staples"),
        ("ghee-1 (duplicate #2)", "Staples"),
        ("TEA", "Tea"),
    ]
    categories = await conn.fetch("SELECT name FROM product_categories ORDER BY name")
    assert [r["name"] for r in categories] == ["Staples", "Tea"]
