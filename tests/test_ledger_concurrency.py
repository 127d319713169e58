"""Concurrent CREDIT orders for one retailer, each from its own connection, never over-commit."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.credit import PaymentMode
from bot.orders import OrderLine
from db.ledger import PlaceOrderResult, place_order
from db.pool import connect
from tests.ledger_support import NOW, TOL, TZ, check_invariants, make_product, make_retailer

ORDERS = 50
LIMIT = 10_000_00
# 50 orders of ₹300 to ₹398: about 29 fit under ₹10,000, the rest must be refused.
AMOUNTS = [300_00 + 2_00 * (i % 50) for i in range(ORDERS)]


async def test_concurrent_credit_orders_never_exceed_the_limit(
    db: asyncpg.Pool, database_url: str
) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, limit=LIMIT)
        pid = await make_product(conn)  # 1 paisa each: quantity = amount

    conns = await asyncio.gather(*(connect(database_url) for _ in range(ORDERS)))
    watcher = await connect(database_url)
    start = asyncio.Event()
    done = asyncio.Event()
    seen: list[int] = []

    async def order(conn: asyncpg.Connection, amount: int) -> PlaceOrderResult:
        await start.wait()
        async with conn.transaction():
            return await place_order(
                conn,
                retailer_id=rid,
                lines=[OrderLine(pid, amount)],
                mode=PaymentMode.CREDIT,
                now=NOW,
                tz=TZ,
                tolerance=TOL,
                performed_by="+919812345678",
            )

    async def watch() -> None:
        # Committed outstanding, sampled while the orders race.
        while not done.is_set():
            seen.append(await watcher.fetchval("SELECT outstanding FROM credit_accounts"))
            await asyncio.sleep(0)

    try:
        tasks = [asyncio.create_task(order(c, a)) for c, a in zip(conns, AMOUNTS, strict=True)]
        watching = asyncio.create_task(watch())
        start.set()
        results = await asyncio.gather(*tasks)
        done.set()
        await watching
    finally:
        await asyncio.gather(*(c.close() for c in [*conns, watcher]))

    placed = [r for r in results if r.order is not None]
    refused = [r for r in results if r.order is None]
    assert len(results) == ORDERS
    assert placed and refused, "the test must hit the limit"
    assert {r.verdict.code for r in refused} == {"CREDIT_LIMIT_EXCEEDED"}
    total = sum(r.order.total for r in placed if r.order)
    assert total <= LIMIT
    # Every refusal was right: the order really did not fit in what was left at the end.
    assert all(a > LIMIT - total for a, r in zip(AMOUNTS, results, strict=True) if r.order is None)
    assert seen and max(seen) <= LIMIT
    async with db.acquire() as conn:
        outstanding = await conn.fetchval("SELECT outstanding FROM credit_accounts")
        debits = await conn.fetchval(
            "SELECT sum(amount) FROM credit_transactions WHERE type = 'DEBIT' AND status = 'OPEN'"
        )
        assert outstanding == debits == total
        assert await conn.fetchval("SELECT count(*) FROM orders") == len(placed)
        await check_invariants(conn)
