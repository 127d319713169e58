"""Reads that race with payments (issue 9, items 2 and 3).

The aging refresh waits for an account's lock and must then write what the ledger holds, not
what it saw before waiting. The dashboard, the at-risk list and the profile each come from one
snapshot, so a payment landing while they read never makes open debits disagree with outstanding.
Each race is made deterministic: a second real connection holds a lock, or commits a payment
exactly between the reader's statements.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg

from bot.credit import BUCKETS
from db.aging import AGING_SELECT, refresh_stale_aging
from db.credit_queries import get_at_risk, get_credit_profile, get_risk_dashboard
from db.ledger import lock_account, record_payment
from db.pool import Conn, connect
from tests.ledger_support import (
    NOW,
    TODAY,
    TOL,
    TZ,
    check_invariants,
    credit_order,
    days,
    make_product,
    make_retailer,
)

AGED = ("aged_current", "aged_1_30", "aged_31_60", "aged_61_90", "aged_90_plus")


async def _owing_retailer(conn: Conn, phone: str = "+919812345678") -> int:
    """A retailer with ₹1,000 ordered 40 days ago and ₹500 five days ago (stale aging today)."""
    pid = await make_product(conn, sku=f"P{phone[-4:]}")
    rid = await make_retailer(conn, phone)
    # newest first, so the old debit does not stop the newer order
    await credit_order(conn, rid, pid, 500_00, now=NOW - days(5))
    await credit_order(conn, rid, pid, 1_000_00, now=NOW - days(40))
    return rid


async def _until_waiting(
    observer: Conn, waiter: Conn, holder: Conn, task: asyncio.Task[Any]
) -> None:
    """Return once `waiter` is blocked on a lock `holder` has (no sleeping on a guess)."""
    while not await observer.fetchval(
        "SELECT $1::int = any(pg_blocking_pids($2::int))",
        holder.get_server_pid(),
        waiter.get_server_pid(),
    ):
        assert not task.done(), "the refresh finished without waiting for the account's lock"
        await asyncio.sleep(0.005)


# --- item 2: the aging refresh writes what the ledger holds after its wait ----------------------


async def test_aging_refresh_that_waited_for_a_payment_stores_the_payment_s_aging(
    db: asyncpg.Pool, database_url: str
) -> None:
    async with db.acquire() as conn:
        rid = await _owing_retailer(conn)
        stale = await conn.fetchval(
            "SELECT aging_as_of FROM credit_accounts WHERE retailer_id = $1", rid
        )
        assert stale != TODAY  # the refresh has work to do
    holder, refresher, observer = [await connect(database_url) for _ in range(3)]
    try:
        tx = holder.transaction()
        await tx.start()
        await lock_account(holder, rid)  # a payment is being recorded...
        refresh = asyncio.create_task(refresh_stale_aging(refresher, TODAY))
        await _until_waiting(observer, refresher, holder, refresh)
        # ...and commits while the refresh waits: ₹1,200 clears the old debit and part of the new
        await record_payment(
            holder, retailer_id=rid, amount=1_200_00, performed_by="t", now=NOW, tz=TZ
        )
        await tx.commit()
        await refresh
    finally:
        for c in (holder, refresher, observer):
            await c.close()

    async with db.acquire() as conn:
        stored = await conn.fetchrow("SELECT * FROM credit_accounts WHERE retailer_id = $1", rid)
        live = await conn.fetchrow(AGING_SELECT.format(where="ca.retailer_id = $2"), TODAY, rid)
        assert stored is not None and live is not None
        assert stored["aging_as_of"] == TODAY
        assert {c: stored[c] for c in AGED} == {c: live[c] for c in AGED}
        assert (stored["oldest_due_date"], stored["beyond_unpaid"]) == (
            live["oldest_due_date"],
            live["beyond_unpaid"],
        )
        assert sum(stored[c] for c in AGED) == stored["outstanding"] == 300_00
        d = await get_risk_dashboard(conn, TODAY)
        assert sum(b.amount for b in d.buckets.values()) == d.total_outstanding == 300_00
        await check_invariants(conn)


# --- item 3: one snapshot per view ----------------------------------------------------------


class Interleaved:
    """A connection that runs `between()` once, right after the first statement it sends: the
    moment a reader that used several statements would read the rest at."""

    def __init__(self, conn: Conn, between: Callable[[], Awaitable[None]]) -> None:
        self._conn = conn
        self._between: Callable[[], Awaitable[None]] | None = between
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def _after(self) -> None:
        self.statements += 1
        if self._between is not None:
            between, self._between = self._between, None
            await between()

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._conn.fetch(*args, **kwargs)
        await self._after()
        return result

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._conn.fetchrow(*args, **kwargs)
        await self._after()
        return result

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._conn.fetchval(*args, **kwargs)
        await self._after()
        return result

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._conn.execute(*args, **kwargs)
        await self._after()
        return result

    @property
    def fired(self) -> bool:
        return self._between is None


def _payment_from(database_url: str, rid: int, amount: int, **kw: Any) -> Callable[[], Any]:
    """A payment committed by another connection (another request of the service)."""

    async def pay() -> None:
        other = await connect(database_url)
        try:
            async with other.transaction():
                await record_payment(
                    other, retailer_id=rid, amount=amount, performed_by="t", tz=TZ,
                    **{"now": NOW, **kw},
                )  # fmt: skip
        finally:
            await other.close()

    return pay


async def test_dashboard_is_one_moment_while_a_payment_lands(
    db: asyncpg.Pool, database_url: str
) -> None:
    async with db.acquire() as conn:
        rid = await _owing_retailer(conn)
        await _owing_retailer(conn, "+919812340000")
        reader = Interleaved(conn, _payment_from(database_url, rid, 1_200_00))
        d = await get_risk_dashboard(cast(Conn, reader), TODAY)
        assert reader.fired
        assert sum(d.buckets[b].amount for b in BUCKETS) == d.total_outstanding
        assert d.total_outstanding in (3_000_00, 1_800_00)  # before or after, never a mix
        await check_invariants(conn)


async def test_dashboard_in_the_caller_s_transaction_is_one_moment(
    db: asyncpg.Pool, database_url: str
) -> None:
    """The admin chat reads inside the webhook's (READ COMMITTED) transaction."""
    async with db.acquire() as conn:
        rid = await _owing_retailer(conn)
        async with conn.transaction():
            reader = Interleaved(conn, _payment_from(database_url, rid, 700_00))
            d = await get_risk_dashboard(cast(Conn, reader), TODAY)
        assert reader.fired
        assert sum(d.buckets[b].amount for b in BUCKETS) == d.total_outstanding


async def test_profile_is_one_moment_while_a_payment_lands(
    db: asyncpg.Pool, database_url: str
) -> None:
    async with db.acquire() as conn:
        rid = await _owing_retailer(conn)
        for in_transaction in (False, True):
            reader = Interleaved(conn, _payment_from(database_url, rid, 100_00))
            if in_transaction:
                async with conn.transaction():
                    p = await get_credit_profile(cast(Conn, reader), rid, TODAY)
            else:
                p = await get_credit_profile(cast(Conn, reader), rid, TODAY)
            assert reader.fired and p is not None
            assert sum(d.outstanding for d in p.open_debits) == p.outstanding
            assert p.open_debit_count == len(p.open_debits)
            assert p.available == 100_000_00 - p.outstanding
        owed = await conn.fetchval(
            "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", rid
        )
        assert owed == 1_300_00  # both payments landed, after their reads


async def test_at_risk_is_one_moment_while_a_payment_lands(
    db: asyncpg.Pool, database_url: str
) -> None:
    async with db.acquire() as conn:
        rid = await _owing_retailer(conn)
        await refresh_stale_aging(conn, TODAY)  # every row aged for today
        before = await get_at_risk(conn, TODAY, tolerance=TOL)
        assert [r.retailer_id for r in before.retailers] == [rid]
        # A payment recorded with yesterday's date (a bank statement's line) ages the account
        # for yesterday: for today it is stale again, and the retailer is still at risk.
        reader = Interleaved(conn, _payment_from(database_url, rid, 10_00, now=NOW - days(1)))
        during = await get_at_risk(cast(Conn, reader), TODAY, tolerance=TOL)
        assert reader.fired
        after = await get_at_risk(conn, TODAY, tolerance=TOL)
        assert [r.retailer_id for r in after.retailers] == [rid]
        assert during in (before, after)
