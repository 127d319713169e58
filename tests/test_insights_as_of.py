"""A past-dated insights run never replaces newer insights (issue 9, item 7), and says so."""

from __future__ import annotations

import asyncpg

from bot.cli.deps import Deps
from handlers.admin_chat import handle_admin_text
from jobs.runner import run_job_now
from tests.conftest import ADMIN_PHONE
from tests.ledger_support import NOW, TODAY, credit_order, days, make_product, make_retailer


async def say(deps: Deps, text: str) -> str:
    async with deps.pool.acquire() as conn, conn.transaction():
        return await handle_admin_text(deps, conn, ADMIN_PHONE, text, deps.clock.now())


async def _stored(db: asyncpg.Pool, rid: int) -> tuple[object, int]:
    row = await db.fetchrow("SELECT as_of, data FROM retailer_insights WHERE retailer_id = $1", rid)
    assert row is not None
    return row["as_of"], row["data"]["orders"]


async def test_past_dated_run_keeps_today_s_insights(deps: Deps, db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        shop = await make_retailer(conn, "+919812345678")
        newcomer = await make_retailer(conn, "+919812340000")
        pid = await make_product(conn)
        await credit_order(conn, shop, pid, 500_00, now=NOW - days(0.1))
        await credit_order(conn, shop, pid, 700_00, now=NOW)
    today = await run_job_now(deps, "regenerate_insights")
    assert await _stored(db, shop) == (TODAY, 2)
    await db.execute("DELETE FROM retailer_insights WHERE retailer_id = $1", newcomer)

    past = TODAY - days(5)
    reply = await say(deps, f"run regenerate_insights {past.isoformat()}")
    assert await _stored(db, shop) == (TODAY, 2)  # not "no orders" as of five days ago
    assert await _stored(db, newcomer) == (past, 0)  # nothing newer stored: written
    counts = await db.fetchval("SELECT counts FROM job_runs ORDER BY id DESC LIMIT 1")
    assert counts == {"retailers": 2, "updated": 1, "kept_newer": 1}
    assert "updated 1" in reply and "kept (newer ones stored) 1" in reply, reply
    assert today.counts == {"retailers": 2, "updated": 2, "kept_newer": 0}

    # the same day again recomputes (an order may have come in since); a later day replaces
    again = await run_job_now(deps, "regenerate_insights")
    assert again.counts == {"retailers": 2, "updated": 2, "kept_newer": 0}
    assert await _stored(db, newcomer) == (TODAY, 0)
