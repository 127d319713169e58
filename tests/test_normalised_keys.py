"""Keys that differ only in case or spacing are one key (issue 9, item 5).

Payment references per retailer, SKUs and category names: compared through the database's
`norm_key()` (whitespace runs made one space, trimmed, lower-cased), enforced by unique indexes,
shown as first typed. The ledger's duplicate check compares the same way, and the index behind it
answers the same 409 DUPLICATE_REFERENCE when a writer got past the check.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.deps import Deps
from bot.text import norm_key
from db import ledger
from db.catalogue import read_catalogue
from db.errors import Conflict
from db.onboarding import NewProduct, create_product
from tests.conftest import ADMIN_TOKEN
from tests.ledger_support import NOW, TZ, credit_order, make_product, make_retailer

A = "/api/v1/admin"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def owing(db: asyncpg.Pool) -> int:
    """A retailer owing ₹1,000 on one credit order."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn, price=100_00)
        await credit_order(conn, rid, pid, 10)
    return rid


@pytest.mark.parametrize("again", ["utr-7788", " UTR-7788 ", "Utr-7788\t", "utr-7788\n"])
async def test_a_reference_in_another_case_or_spacing_is_a_duplicate(
    client: httpx.AsyncClient, db: asyncpg.Pool, owing: int, again: str
) -> None:
    first = await client.post(
        f"{A}/payment/record",
        json={"retailerId": owing, "amountPaid": 100, "reference": "UTR-7788"},
        headers=AUTH,
    )
    assert first.status_code == 201, first.text
    r = await client.post(
        f"{A}/payment/record",
        json={"retailerId": owing, "amountPaid": 100, "reference": again},
        headers=AUTH,
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "DUPLICATE_REFERENCE"
    assert r.json()["error"]["paymentId"] == first.json()["paymentId"]
    refs = await db.fetch("SELECT reference FROM credit_transactions WHERE type = 'PAYMENT'")
    assert [r["reference"] for r in refs] == ["UTR-7788"]  # shown as first typed
    assert await db.fetchval("SELECT outstanding FROM credit_accounts") == 900_00


async def test_references_are_per_retailer(db: asyncpg.Pool, owing: int) -> None:
    async with db.acquire() as conn:
        other = await make_retailer(conn, "+919800000002")
        pid = await make_product(conn, "OTHER", price=100_00)
        await credit_order(conn, other, pid, 1)
        for rid in (owing, other):
            await ledger.record_payment(
                conn, amount=1_00, retailer_id=rid, reference="UTR-1", performed_by="t",
                now=NOW, tz=TZ,
            )  # fmt: skip
    assert await db.fetchval("SELECT count(*) FROM credit_transactions WHERE type='PAYMENT'") == 2


async def test_the_index_refuses_what_the_check_would(db: asyncpg.Pool, owing: int) -> None:
    """A writer that skips the ledger's check (hand-written SQL, a future code path) meets the
    unique index on the normalised reference."""
    insert = """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                    reference) VALUES ($1, 'PAYMENT', 'CREDIT', 100, 'APPLIED', $2)"""
    await db.execute(insert, owing, "NEFT 55")
    with pytest.raises(asyncpg.UniqueViolationError, match="payment_reference_key"):
        await db.execute(insert, owing, "  neft   55 ")


async def test_the_index_answers_409_when_a_writer_got_past_the_check(
    db: asyncpg.Pool, owing: int
) -> None:
    """Another writer holds an uncommitted payment with the reference (it took no account lock);
    the ledger's check cannot see it, its insert waits on the index, and when the other commits
    the answer is the same Conflict, with nothing of this payment kept."""
    async with db.acquire() as other, db.acquire() as conn:
        tx = other.transaction()
        await tx.start()
        await other.execute(
            """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                   reference) VALUES ($1, 'PAYMENT', 'CREDIT', 100, 'APPLIED', 'IMPS-9')""",
            owing,
        )
        pid = conn.get_server_pid()
        paying = asyncio.create_task(
            ledger.record_payment(
                conn,
                amount=50_00,
                retailer_id=owing,
                reference="imps-9",
                performed_by="t",
                now=NOW,
                tz=TZ,
            )
        )
        # Wait until the payment's insert is blocked on the other writer's index entry.
        for _ in range(500):
            waiting = await db.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
            )
            if waiting or paying.done():
                break
            await asyncio.sleep(0.01)
        assert not paying.done()
        await tx.commit()
        with pytest.raises(Conflict) as refused:
            await paying
    assert refused.value.code == "DUPLICATE_REFERENCE"
    assert await db.fetchval("SELECT outstanding FROM credit_accounts") == 1_000_00
    assert await db.fetchval("SELECT count(*) FROM credit_transactions WHERE type='PAYMENT'") == 1
    cleared = await db.fetchval("SELECT sum(cleared_amount) FROM credit_transactions")
    assert cleared == 0


async def test_admin_paid_command_sees_the_duplicate(
    deps: Deps, db: asyncpg.Pool, owing: int
) -> None:
    from handlers.admin_chat import handle_admin_text
    from tests.conftest import ADMIN_PHONE

    async def say(text: str) -> str:
        async with db.acquire() as conn, conn.transaction():
            return await handle_admin_text(deps, conn, ADMIN_PHONE, text, NOW)

    await say(f"paid {owing} 100 UPI-3")
    reply = await say(f"paid {owing} 100 upi-3")
    assert "already recorded" in reply
    assert await db.fetchval("SELECT count(*) FROM credit_transactions WHERE type='PAYMENT'") == 1


async def test_a_sku_in_another_case_or_spacing_exists(client: httpx.AsyncClient) -> None:
    product = {"sku": "GHEE-1", "name": "Ghee 1L", "category": "Staples", "price": 600}
    r = await client.post(f"{A}/products", json=product, headers=AUTH)
    assert r.status_code == 201, r.text
    for sku in ("ghee-1", " Ghee-1 "):
        r = await client.post(f"{A}/products", json={**product, "sku": sku}, headers=AUTH)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == {
            "code": "SKU_EXISTS",
            "message": "a product with SKU GHEE-1 already exists",
        }


async def test_the_sku_index_refuses_what_the_check_would(db: asyncpg.Pool) -> None:
    insert = "INSERT INTO products (sku, name, category, price) VALUES ($1, 'n', 'c', 1)"
    await db.execute(insert, "GHEE-1")
    with pytest.raises(asyncpg.UniqueViolationError, match="products_sku_norm_key"):
        await db.execute(insert, "ghee-1")


async def test_categories_have_one_spelling(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        for sku, category in (("A", "Staples"), ("B", "staples"), ("C", " STAPLES "), ("D", "Tea")):
            await create_product(
                conn, NewProduct(sku=sku, name=sku, category=category, price=1_00), now=NOW
            )
        # Hand-written SQL too, and a product moved into a category by an update.
        await conn.execute(
            "INSERT INTO products (sku, name, category, price) VALUES ('E', 'E', 'sTaPlEs', 1)"
        )
        await conn.execute("UPDATE products SET category = 'tea' WHERE sku = 'A'")
        rows = await conn.fetch("SELECT sku, category FROM products ORDER BY sku")
        assert [tuple(r) for r in rows] == [
            ("A", "Tea"), ("B", "Staples"), ("C", "Staples"), ("D", "Tea"), ("E", "Staples"),
        ]  # fmt: skip
        catalogue = await read_catalogue(conn)
        assert {p.category for p in catalogue.products.values()} == {"Staples", "Tea"}
        # Renaming a category renames it for every product of it.
        await conn.execute("UPDATE product_categories SET name = 'Grocery' WHERE name = 'Staples'")
        cats = await conn.fetch("SELECT DISTINCT category FROM products ORDER BY 1")
        assert [r["category"] for r in cats] == ["Grocery", "Tea"]


async def test_categories_race_to_one_spelling(db: asyncpg.Pool) -> None:
    """Two first products of a new category, written at once in two spellings, share one."""

    async def write(sku: str, category: str) -> None:
        async with db.acquire() as conn:
            await create_product(
                conn, NewProduct(sku=sku, name=sku, category=category, price=1_00), now=NOW
            )

    await asyncio.gather(*(write(f"S{i}", c) for i, c in enumerate(["Dairy", "dairy"] * 5)))
    assert await db.fetchval("SELECT count(DISTINCT category) FROM products") == 1


async def test_a_refused_product_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    """Found by the fuzz test: a product refused as SKU_EXISTS had still registered its new
    category and moved the catalogue's version (an insert that does nothing runs triggers)."""
    product = {"sku": "GHEE-1", "name": "Ghee 1L", "category": "Dairy", "price": 600}
    assert (await client.post(f"{A}/products", json=product, headers=AUTH)).status_code == 201
    version = await db.fetchval("SELECT version FROM catalogue_version")
    again = {**product, "sku": "ghee-1", "category": "Oils"}
    r = await client.post(f"{A}/products", json=again, headers=AUTH)
    assert r.status_code == 409, r.text
    assert await db.fetchval("SELECT version FROM catalogue_version") == version
    assert [r["name"] for r in await db.fetch("SELECT name FROM product_categories")] == ["Dairy"]


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from(" \t\n\r"),
        max_size=30,
    )
)
async def test_python_norm_key_is_the_databases(pool: asyncpg.Pool, text: str) -> None:
    assert norm_key(text) == await pool.fetchval("SELECT norm_key($1)", text)
