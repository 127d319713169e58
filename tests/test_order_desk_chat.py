"""The business day in chat: the desk's admin commands, and what retailers see of it (a price
changed at checkout, a retired product gone from the menu, the statement, the next due date)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from bot.clock import FixedClock
from db.seed import seed_demo
from tests.conftest import ADMIN_PHONE
from tests.test_whatsapp import RAMESH, product_number, say

A = "/api/v1/admin"


@pytest.fixture
async def shop(db: asyncpg.Pool, clock: FixedClock) -> asyncpg.Pool:
    async with db.acquire() as conn:
        await seed_demo(conn, now=clock.now())
    return db


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


async def _ramesh_order(client: httpx.AsyncClient, shop: asyncpg.Pool) -> int:
    """Ramesh orders 2 atta on credit through the chat; the order's id."""
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, "atta 2")
    await say(client, RAMESH, "checkout")
    await say(client, RAMESH, "1")
    assert "is placed" in await say(client, RAMESH, "haan")
    oid: int = await shop.fetchval("SELECT max(id) FROM orders")
    return oid


async def test_admin_desk_commands(client: httpx.AsyncClient, shop: asyncpg.Pool) -> None:
    oid = await _ramesh_order(client, shop)
    listing = await say(client, ADMIN_PHONE, "orders")
    assert "Placed (to dispatch)" in listing and f"#{oid} · Ramesh Kumar" in listing
    assert "₹900 CREDIT" in listing
    assert "Usage: orders" in await say(client, ADMIN_PHONE, "orders lost")
    assert "ORDER_NOT_DISPATCHED" in await say(client, ADMIN_PHONE, f"deliver {oid}")
    moved = await say(client, ADMIN_PHONE, f"dispatch #{oid}")
    assert f"Order #{oid}" in moved and "dispatched" in moved and "told by message" in moved
    assert "ORDER_DISPATCHED" in await say(client, ADMIN_PHONE, f"cancel {oid} wrong items")
    assert "delivered" in await say(client, ADMIN_PHONE, f"deliver {oid}")
    refused = await say(client, ADMIN_PHONE, f"fail {oid} truck accident")
    assert "ORDER_DELIVERED" in refused and "return" in refused
    returned = await say(client, ADMIN_PHONE, f"return {oid} 450 one bag torn")
    assert "₹450 credited" in returned and "Still returnable on the order: ₹450" in returned
    assert "RETURN_ABOVE_ORDER" in await say(client, ADMIN_PHONE, f"return {oid} 451 more")
    assert "Usage: return" in await say(client, ADMIN_PHONE, f"return {oid} 10")
    delivered = await say(client, ADMIN_PHONE, "orders delivered")
    assert f"#{oid}" in delivered
    # The next step offered is what a delivered order allows; a closed list offers none.
    assert "Next: return <order> <amount> <reason>" in delivered and "dispatch" not in delivered
    assert "Next:" not in await say(client, ADMIN_PHONE, "orders cancelled")
    audit = await shop.fetch(
        "SELECT action, performed_by FROM audit_log WHERE action IN "
        "('ORDER_DISPATCHED', 'ORDER_DELIVERED', 'RETURN') ORDER BY id"
    )
    assert [(a["action"], a["performed_by"]) for a in audit] == [
        ("ORDER_DISPATCHED", ADMIN_PHONE), ("ORDER_DELIVERED", ADMIN_PHONE),
        ("RETURN", ADMIN_PHONE),
    ]  # fmt: skip


async def test_cancel_by_command_reverses_and_tells_the_retailer_once(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    oid = await _ramesh_order(client, shop)
    before = await shop.fetchval(
        "SELECT outstanding FROM credit_accounts ca JOIN retailers r ON r.id = ca.retailer_id "
        "WHERE r.phone = $1",
        RAMESH,
    )
    answer = await say(client, ADMIN_PHONE, f"cancel {oid} out of stock")
    assert "cancelled: out of stock" in answer and "₹900 taken off" in answer
    assert "ORDER_ALREADY_CLOSED" in await say(client, ADMIN_PHONE, f"cancel {oid} again")
    after = await shop.fetchval(
        "SELECT outstanding FROM credit_accounts ca JOIN retailers r ON r.id = ca.retailer_id "
        "WHERE r.phone = $1",
        RAMESH,
    )
    assert before - after == 900_00
    sent = await shop.fetch("SELECT kind, body FROM outbox_messages WHERE kind = 'order_cancelled'")
    assert len(sent) == 1 and "out of stock" in sent[0]["body"]


async def test_price_command_and_a_price_change_seen_at_checkout(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, "atta 2")
    options = await say(client, RAMESH, "checkout")
    assert "total *₹900*" in options
    changed = await say(client, ADMIN_PHONE, "price atta-10 470")
    assert "₹450 → *₹470*" in changed
    assert "nothing changed" in await say(client, ADMIN_PHONE, "price ATTA-10 470")
    assert "PRODUCT_NOT_FOUND" in await say(client, ADMIN_PHONE, "price NOPE 1")
    told = await say(client, RAMESH, "1")
    assert "Prices changed" in told and "₹450 → *₹470*" in told and "New total: *₹940*" in told
    assert "is placed" not in told
    assert await shop.fetchval("SELECT total FROM pending_orders") == 940_00
    await say(client, RAMESH, "1")
    placed = await say(client, RAMESH, "haan")
    assert "Total: *₹940*" in placed
    audit = await shop.fetchrow("SELECT * FROM audit_log WHERE action = 'PRODUCT_UPDATED'")
    assert audit["retailer_id"] is None and audit["performed_by"] == ADMIN_PHONE


async def test_a_price_changed_after_the_cart_is_told_at_checkout(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    """Added at ₹450, repriced to ₹470 before checkout: the checkout says so before the payment
    choice (walk of issue 12: the new total came with no word of which price moved)."""
    await say(client, RAMESH, "hi")
    assert "₹900" in await say(client, RAMESH, "atta 2")
    await say(client, ADMIN_PHONE, "price ATTA-10 470")
    options = await say(client, RAMESH, "checkout")
    assert "Prices changed since you added these to your cart" in options
    assert "Aashirvaad Atta 10kg: ₹450 → *₹470*" in options and "total *₹940*" in options
    # Seen now: the next checkout (after going back to the cart) says nothing more.
    await say(client, RAMESH, "cart")
    assert "Prices changed" not in await say(client, RAMESH, "checkout")
    hindi = "+919800000002"
    await say(client, hindi, "hi")
    await say(client, hindi, "salt 3")
    await say(client, ADMIN_PHONE, "price SALT-1 30")
    assert "दाम बदल गए हैं" in await say(client, hindi, "checkout")


async def test_a_retired_product_leaves_the_menu_at_once(
    client: httpx.AsyncClient, api: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, RAMESH, "hi")
    staples = await say(client, RAMESH, "5")
    assert "Aashirvaad Atta 10kg" in staples
    atta = await shop.fetchval("SELECT id FROM products WHERE sku = 'ATTA-10'")
    r = await api.patch(f"{A}/products/{atta}", json={"active": False})
    assert r.status_code == 200, r.text
    await say(client, RAMESH, "menu")
    staples = await say(client, RAMESH, "5")
    assert "Staples" in staples and "Aashirvaad Atta 10kg" not in staples
    # Named as before, it is said to be gone, not "didn't understand" (walk of issue 12).
    refused = await say(client, RAMESH, "atta 2")
    assert "Aashirvaad Atta 10kg is no longer available" in refused, refused
    assert "didn't understand" not in refused
    hindi = await say(client, "+919800000002", "atta 2")
    assert "Aashirvaad Atta 10kg" in hindi and "समझ नहीं" not in hindi, hindi
    assert "Added" not in refused and "जोड़ दिया" not in hindi
    assert await product_number(shop, "SALT-1")


async def test_statement_and_balance_in_chat(client: httpx.AsyncClient, shop: asyncpg.Pool) -> None:
    await say(client, RAMESH, "hi")
    statement = await say(client, RAMESH, "hisab")
    assert "what you owe" in statement and "Total due: *₹40,050*" in statement
    assert "How to pay" in statement and "due " in statement
    assert statement == await say(client, RAMESH, "statement")
    balance = await say(client, RAMESH, "balance")
    # The nearest due amount is said, and the next step ends the message (issue 13, item 4).
    # Ramesh's oldest order was due six days ago: overdue since then, not "next due" on a day
    # gone (walk of issues 11 and 12).
    assert "Overdue: *₹21,600*, due since " in balance and "Next due" not in balance
    assert balance.splitlines()[-1].startswith("Reply *statement*")
    sunita = await say(client, "+919800000002", "balance")
    assert "अगली देय राशि: *₹41,850*" in sunita and "तारीख निकल चुकी" not in sunita
    priya = await say(client, "+919800000004", "balance")
    assert "तारीख निकल चुकी राशि: *₹24,750*" in priya and "अगली देय राशि" not in priya
    lakshmi = await say(client, "+919800000006", "khata")
    assert "Nothing is due" in lakshmi
    hindi = await say(client, "+919800000002", "हिसाब")
    assert "हिसाब" in hindi and "कुल बकाया" in hindi
