"""The per-account aging kept on credit_accounts agrees with the ledger, fresh or stale."""

from __future__ import annotations

import random

import asyncpg

from bot.credit import Bucket, CreditStatus, RiskFacts, risk_rank_key
from db.aging import FRESH, STALE, refresh_stale_aging
from db.credit_queries import get_at_risk, get_risk_dashboard
from db.ledger import apply_guardrails, record_payment
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


async def _varied_ledger(conn: asyncpg.Connection, retailers: int = 30) -> list[int]:
    rng = random.Random(5)
    pid = await make_product(conn)
    rids = []
    for i in range(retailers):
        rid = await make_retailer(
            conn, f"+9198000{i:05d}", limit=rng.choice([0, 5_000_00, 20_000_00, 50_000_00])
        )
        rids.append(rid)
        # newest first, so older debits never block placing newer ones
        for ago in sorted(rng.sample(range(0, 150), rng.randint(0, 4))):
            amount = rng.randint(1_00, 8_000_00)
            await conn.execute(
                "UPDATE credit_accounts SET credit_limit = credit_limit + $2 WHERE retailer_id = $1",
                rid,
                amount,
            )
            await credit_order(conn, rid, pid, amount, now=NOW - days(ago))
        if rng.random() < 0.4:
            owed = await conn.fetchval(
                "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", rid
            )
            if owed:
                await record_payment(
                    conn, retailer_id=rid, amount=rng.randint(1, owed), performed_by="t",
                    now=NOW - days(rng.randint(0, 3)), tz=TZ,
                )  # fmt: skip
        if rng.random() < 0.2:
            await conn.execute(
                """UPDATE credit_transactions SET reminder_count = 3
                   WHERE retailer_id = $1 AND status IN ('OPEN', 'PARTIAL')""",
                rid,
            )
    return rids


async def test_fresh_and_stale_aging_give_the_same_answers(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await _varied_ledger(conn)
        stale_dash = await get_risk_dashboard(conn, TODAY)
        stale_risk = await get_at_risk(conn, TODAY, tolerance=TOL, limit=1000)
        assert await refresh_stale_aging(conn, TODAY) > 0
        assert await refresh_stale_aging(conn, TODAY) == 0
        assert await get_risk_dashboard(conn, TODAY) == stale_dash
        assert await get_at_risk(conn, TODAY, tolerance=TOL, limit=1000) == stale_risk
        assert stale_risk.total > 5
        # another day: the stored rows are stale again and readers age them for that day
        later = TODAY + days(45)
        before = await get_risk_dashboard(conn, later)
        await refresh_stale_aging(conn, later)
        assert await get_risk_dashboard(conn, later) == before
        await check_invariants(conn)


async def test_at_risk_order_is_the_pure_ranking(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await _varied_ledger(conn, retailers=40)
        ranked = await get_at_risk(conn, TODAY, tolerance=TOL, limit=1000)
        facts = [
            RiskFacts(
                retailer_id=r.retailer_id, status=CreditStatus.ACTIVE,
                credit_limit=r.credit_limit, outstanding=r.outstanding,
                overdue_amount=r.overdue_amount, max_days_past_due=r.max_days_past_due,
                beyond_limit_unpaid=0,  # the rank reads "about to be paused" from the reasons
                max_reminders=r.max_reminders,
            )
            for r in ranked.retailers
        ]  # fmt: skip
        assert all(r.reasons for r in ranked.retailers)
        keys = [risk_rank_key(f, r.reasons) for f, r in zip(facts, ranked.retailers, strict=True)]
        assert keys == sorted(keys)
        top = await get_at_risk(conn, TODAY, tolerance=TOL, limit=3)
        assert top.total == ranked.total and top.retailers == ranked.retailers[:3]


async def test_changes_keep_the_stored_aging_exact(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        pid = await make_product(conn)
        rid = await make_retailer(conn)
        await credit_order(conn, rid, pid, 1_000_00, now=NOW - days(40))
        await apply_guardrails(conn, today=TODAY, now=NOW, tolerance=TOL)
        row = await conn.fetchrow("SELECT * FROM credit_accounts WHERE retailer_id = $1", rid)
        assert (row["aging_as_of"], row["aged_1_30"], row["beyond_unpaid"]) == (
            TODAY,
            1_000_00,
            1_000_00,
        )
        # a ledger operation today recomputes the row in its own transaction
        await record_payment(conn, retailer_id=rid, amount=400_00, performed_by="t", now=NOW, tz=TZ)
        row = await conn.fetchrow("SELECT * FROM credit_accounts WHERE retailer_id = $1", rid)
        assert (row["aging_as_of"], row["aged_1_30"], row["beyond_unpaid"]) == (
            TODAY,
            600_00,
            600_00,
        )
        # a change behind the ledger's back marks the row stale; readers recompute it
        await conn.execute("UPDATE credit_transactions SET due_date = due_date + 60")
        assert await conn.fetchval("SELECT aging_as_of FROM credit_accounts") is None
        d = await get_risk_dashboard(conn, TODAY)
        assert (d.buckets[Bucket.CURRENT].amount, d.total_outstanding) == (600_00, 600_00)
        # reminder bookkeeping does not make it stale
        await refresh_stale_aging(conn, TODAY)
        await conn.execute("UPDATE credit_transactions SET reminder_count = reminder_count + 1")
        assert await conn.fetchval("SELECT aging_as_of FROM credit_accounts") == TODAY


async def test_stored_aging_holds_through_its_valid_days_and_no_further(db: asyncpg.Pool) -> None:
    """Aged once, a row is used as it is on each later day its debits cross no boundary
    (migration 0021), and aged from the ledger from the day one does: on each day of 130 the
    figures equal those aged from the ledger alone, and the refresh recomputes exactly the rows
    whose valid days ran out."""
    async with db.acquire() as conn:
        await _varied_ledger(conn)
        start = TODAY - days(40)
        await refresh_stale_aging(conn, start)
        for ahead in range(0, 130, 3):
            day = start + days(ahead)
            stored_dash = await get_risk_dashboard(conn, day)
            stored_risk = await get_at_risk(conn, day, tolerance=TOL, limit=1000)
            stale = await conn.fetchval(
                f"SELECT count(*) FROM credit_accounts ca WHERE {STALE}", day
            )
            if 0 < ahead < 30:
                fresh = await conn.fetchval(
                    f"SELECT count(*) FROM credit_accounts ca WHERE {FRESH}", day
                )
                assert fresh > 0  # some rows hold beyond the day they were aged for
            tx = conn.transaction()
            await tx.start()
            # every row marked stale: the readers age all of them from the ledger
            await conn.execute("UPDATE credit_accounts SET aging_as_of = NULL")
            assert not await conn.fetchval(
                "SELECT count(*) FROM credit_accounts WHERE aging_valid_until <> '-infinity'"
            )  # the trigger keeps a row marked stale valid for no day
            assert await get_risk_dashboard(conn, day) == stored_dash, day
            assert await get_at_risk(conn, day, tolerance=TOL, limit=1000) == stored_risk, day
            await tx.rollback()
            assert await refresh_stale_aging(conn, day) == stale
            await refresh_stale_aging(conn, start)  # back to the rows aged on the first day
