"""`Idempotency-Key` on the admin API: a retry gets the first answer, byte for byte, however the
requests race (real parallel connections to PostgreSQL through the app)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from tests.ledger_support import NOW, credit_order, days, make_product, make_retailer

A = "/api/v1/admin"
PHONE = "+919812345678"
RACERS = 8


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


@pytest.fixture
async def retailer(db: asyncpg.Pool) -> int:
    """A retailer owing ₹1,000 on one credit order."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, limit=10_000_00)
        await credit_order(conn, rid, await make_product(conn), 1_000_00, now=NOW - days(3))
        return rid


async def _waiting_on_locks(db: asyncpg.Pool) -> int:
    count: int = await db.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'"""
    )
    return count


@asynccontextmanager
async def _account_held(db: asyncpg.Pool, retailer_id: int) -> AsyncIterator[None]:
    """Hold the retailer's account row from another connection, so requests pile up behind it
    whatever the order they arrive in; released on exit."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM credit_accounts WHERE retailer_id = $1 FOR UPDATE", retailer_id
        )
        yield


def _replayed(answers: list[httpx.Response]) -> Iterator[str | None]:
    return (a.headers.get("idempotent-replayed") for a in answers)


@pytest.mark.parametrize("reference", [None, "UTR-7788"])
async def test_racing_retries_for_the_full_balance_all_get_the_first_answer(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, reference: str | None
) -> None:
    # Paying everything owed is where a second run of the payment is refused (nothing left to
    # pay, or the reference is taken): a retry must get the first answer, not that refusal.
    body: dict[str, object] = {"retailerId": retailer, "amountPaid": "1000"}
    if reference:
        body["reference"] = reference
    headers = {"Idempotency-Key": "pay-all-1"}
    async with _account_held(db, retailer):
        racing = [
            asyncio.create_task(api.post(f"{A}/payment/record", json=body, headers=headers))
            for _ in range(RACERS)
        ]
        # Every request has passed its checks of the key and waits on a lock: the race is on.
        while await _waiting_on_locks(db) < RACERS:
            await asyncio.sleep(0.01)
    answers = list(await asyncio.gather(*racing))
    assert [a.status_code for a in answers] == [201] * RACERS, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sorted(_replayed(answers), key=str) == [None] + ["true"] * (RACERS - 1)
    # A later retry gets the same bytes too (same key order as the first answer).
    later = await api.post(f"{A}/payment/record", json=body, headers=headers)
    assert (later.status_code, later.content) == (201, answers[0].content)
    assert later.headers["idempotent-replayed"] == "true"
    assert list(json.loads(later.content)) == [
        "paymentId",
        "retailerId",
        "amountPaid",
        "reference",
        "allocations",
        "outstandingBefore",
        "outstanding",
        "toAdvance",
        "advance",
        "creditResumed",
    ]
    async with db.acquire() as conn:
        payments = await conn.fetchval(
            "SELECT count(*) FROM credit_transactions WHERE type = 'PAYMENT'"
        )
        assert payments == 1
        assert await conn.fetchval("SELECT outstanding FROM credit_accounts") == 0


async def test_a_retry_gets_the_same_bytes_in_the_same_key_order(
    api: httpx.AsyncClient, retailer: int
) -> None:
    body = {"retailerId": retailer, "amountPaid": "100"}
    headers = {"Idempotency-Key": "pay-100"}
    first = await api.post(f"{A}/payment/record", json=body, headers=headers)
    again = await api.post(f"{A}/payment/record", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"


async def test_racing_retries_of_a_refused_request_are_each_processed(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    # Refusals are not stored: every racer gets the refusal on its own, and a corrected retry
    # with the same key is then processed.
    headers = {"Idempotency-Key": "pay-too-much"}
    too_much = {"retailerId": retailer, "amountPaid": "5000"}
    async with _account_held(db, retailer):
        racing = [
            asyncio.create_task(api.post(f"{A}/payment/record", json=too_much, headers=headers))
            for _ in range(3)
        ]
        while await _waiting_on_locks(db) < 3:
            await asyncio.sleep(0.01)
    answers = await asyncio.gather(*racing)
    assert [a.status_code for a in answers] == [422] * 3
    assert {a.json()["error"]["code"] for a in answers} == {"AMOUNT_ABOVE_OWED"}
    assert set(_replayed(answers)) == {None}
    corrected = {"retailerId": retailer, "amountPaid": "1000"}
    r = await api.post(f"{A}/payment/record", json=corrected, headers=headers)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT outstanding FROM credit_accounts") == 0


async def test_different_keys_are_different_payments(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    body = {"retailerId": retailer, "amountPaid": "100"}
    answers = await asyncio.gather(
        *(
            api.post(f"{A}/payment/record", json=body, headers={"Idempotency-Key": f"k-{i}"})
            for i in range(4)
        )
    )
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["paymentId"] for a in answers}) == 4
    assert set(_replayed(answers)) == {None}
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT outstanding FROM credit_accounts") == 600_00
