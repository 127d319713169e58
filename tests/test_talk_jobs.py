"""Issue 13's jobs against real PostgreSQL: follow-ups 2 hours after the retailer's last message
that keep their promise (`haan`/`resume`), the weekly insights and `insights off`, and reminders
that name adjustments and tell "due today" from "due soon"."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import respx

from bot.cli.deps import Deps
from bot.clock import FixedClock
from jobs.outbox_sender import deliver_due
from jobs.runner import run_job_now
from tests.test_jobs import add_debit, add_pending, add_retailer
from tests.test_outbox_sender import created, twilio, twilio_api  # noqa: F401
from tests.test_whatsapp import RAMESH, placed, product_number, say, shop  # noqa: F401

IST = ZoneInfo("Asia/Kolkata")


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=IST).astimezone(UTC)


async def follow_ups(db: asyncpg.Pool) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM outbox_messages WHERE kind = 'pending_order_follow_up' ORDER BY id"
    )


# --- follow-ups ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "left_at, too_early, due",
    [
        # Left at 12:30: the old 14:00-only sweep let it expire unanswered the next noon.
        (ist(2, 12, 30), ist(2, 14, 15), ist(2, 14, 30)),
        # Left at 15:00: the old sweep made it wait 23 hours.
        (ist(2, 15, 0), ist(2, 16, 45), ist(2, 17, 0)),
        # Left at 10:05: the first 15-minute sweep after two hours.
        (ist(2, 10, 5), ist(2, 12, 0), ist(2, 12, 15)),
        # The worker was down from 10:00 to 13:30: the first sweep after it restarts catches up.
        (ist(2, 9, 0), ist(2, 10, 45), ist(2, 13, 30)),
    ],
)
async def test_follow_up_two_hours_after_the_last_message(
    deps: Deps, clock: FixedClock, left_at: datetime, too_early: datetime, due: datetime
) -> None:
    rid = await add_retailer(deps.pool)
    await deps.pool.execute("UPDATE retailers SET last_inbound_at = $2 WHERE id = $1", rid, left_at)
    pid = await add_pending(deps.pool, rid, left_at)
    clock.current = too_early
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 0}
    clock.current = due
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 1}
    clock.current = due + timedelta(minutes=15)
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 0}  # once
    (row,) = await follow_ups(deps.pool)
    assert row["dedupe_key"] == f"pending_order_follow_up:{pid}"
    kept = (left_at + timedelta(hours=24)).astimezone(IST)
    stamp = f"{kept.day} Mar, {kept.hour % 12 or 12}{kept.strftime(':%M') if kept.minute else ''}"
    assert f"kept until {stamp}" in row["body"]


async def test_a_message_meanwhile_moves_the_follow_up_on(deps: Deps, clock: FixedClock) -> None:
    """ "Its last message": a retailer who wrote an hour later (a balance question) has not left."""
    rid = await add_retailer(deps.pool)
    await add_pending(deps.pool, rid, ist(2, 10, 0))
    await deps.pool.execute(
        "UPDATE retailers SET last_inbound_at = $2 WHERE id = $1", rid, ist(2, 11, 0)
    )
    clock.current = ist(2, 12, 30)
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 0}
    clock.current = ist(2, 13, 0)
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 1}


async def test_a_follow_up_at_night_waits_and_is_dropped_if_the_retailer_came_back(
    deps: Deps,
    clock: FixedClock,
    twilio: respx.Route,  # noqa: F811
) -> None:
    deps = dataclasses.replace(
        deps, settings=deps.settings.model_copy(update={"quiet_hours": "21:00-08:00"})
    )
    rid = await add_retailer(deps.pool)
    await deps.pool.execute(
        "UPDATE retailers SET last_inbound_at = $2 WHERE id = $1", rid, ist(2, 20, 0)
    )
    await add_pending(deps.pool, rid, ist(2, 20, 0))
    clock.current = ist(2, 22, 0)
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 1}
    (row,) = await follow_ups(deps.pool)
    assert row["quiet_until"] == row["next_attempt_at"] == ist(3, 8, 0)
    # They wrote at 07:00, before it went: it is not sent (their "haan" must mean what the
    # message they read last says).
    await deps.pool.execute(
        "UPDATE retailers SET last_inbound_at = $2 WHERE id = $1", rid, ist(3, 7, 0)
    )
    clock.current = ist(3, 8, 0)
    assert (await deliver_due(deps)).get("skipped") == 1
    assert not twilio.called
    row = (await follow_ups(deps.pool))[0]
    assert (row["status"], row["error_code"]) == ("FAILED", "CHECKOUT_CLOSED")


async def test_haan_to_the_follow_up_does_what_it_promised(
    client: httpx.AsyncClient,
    shop: asyncpg.Pool,  # noqa: F811
    deps: Deps,
    clock: FixedClock,
    twilio: respx.Route,  # noqa: F811
) -> None:
    """The follow-up said "Reply confirm to place it" but `haan` asked for a payment choice; it
    says "Reply *resume* (or *haan*) to carry on where you left off, at today's prices" now."""
    atta = await product_number(shop, "ATTA-10")
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, f"{atta} x 2")
    await say(client, RAMESH, "checkout")
    assert "paid by *credit*" in await say(client, RAMESH, "1")  # at CONFIRM, then silence
    await shop.execute("UPDATE products SET price = 44000 WHERE sku = 'ATTA-10'")

    clock.advance(hours=2, minutes=15)
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 1}
    (row,) = await follow_ups(shop)
    assert "Reply *resume* (or *haan*) to carry on where you left off" in row["body"]
    # Queued is not read: a "haan" before it is sent answers the confirm question.
    assert await placed(shop) == 0
    twilio.mock(return_value=created())
    clock.advance(minutes=1)
    assert (await deliver_due(deps))["sent"] == 1

    clock.advance(minutes=20)
    again = await say(client, RAMESH, "haan")
    # Carried on at today's price: the change is told and the payment asked again, nothing
    # placed unseen.
    assert "₹450 → *₹440*" in again and "New total: *₹880*" in again
    assert await placed(shop) == 0
    assert "total *₹880*, paid by *credit*" in await say(client, RAMESH, "1")
    done = await say(client, RAMESH, "haan")
    assert "is placed" in done and await placed(shop) == 1


async def test_haan_before_the_follow_up_went_out_is_the_confirm_question_s(
    client: httpx.AsyncClient,
    shop: asyncpg.Pool,  # noqa: F811
    deps: Deps,
    clock: FixedClock,
) -> None:
    """A follow-up still waiting (quiet hours) was never read: "haan" answers what was."""
    atta = await product_number(shop, "ATTA-10")
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, f"{atta} x 2")
    await say(client, RAMESH, "checkout")
    await say(client, RAMESH, "2")  # COD, at CONFIRM
    clock.advance(hours=2, minutes=15)
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 1}
    assert "is placed" in await say(client, RAMESH, "haan")


# --- weekly insights ----------------------------------------------------------------------------


async def add_order(db: asyncpg.Pool, rid: int, at: datetime, status: str = "DELIVERED") -> None:
    pid = await db.fetchval("SELECT id FROM products WHERE sku = 'A'") or await db.fetchval(
        """INSERT INTO products (sku, name, category, price)
           VALUES ('A', 'Atta 10kg', 'Staples', 45000) RETURNING id"""
    )
    oid = await db.fetchval(
        """INSERT INTO orders (retailer_id, total, payment_mode, status, created_at)
           VALUES ($1, 90000, 'COD', $2, $3) RETURNING id""",
        rid,
        status,
        at,
    )
    await db.execute(
        """INSERT INTO order_items (order_id, product_id, sku, name, unit_price, quantity, line_total)
           VALUES ($1, $2, 'A', 'Atta 10kg', 45000, 2, 90000)""",
        oid,
        pid,
    )


MONDAY = 2  # 2 March 2026


async def test_weekly_insights_go_to_recent_buyers_who_did_not_opt_out(
    deps: Deps, clock: FixedClock
) -> None:
    buyer = await add_retailer(deps.pool, "+919811100001")
    lapsed = await add_retailer(deps.pool, "+919811100002")
    stopped = await add_retailer(deps.pool, "+919811100003", opted_out=True)
    off = await add_retailer(deps.pool, "+919811100004", lang="hi")
    failed_only = await add_retailer(deps.pool, "+919811100005")
    for rid in (buyer, stopped, off):
        for days_ago in (5, 12, 19):
            await add_order(deps.pool, rid, ist(MONDAY, 12) - timedelta(days=days_ago))
    await add_order(deps.pool, lapsed, ist(MONDAY, 12) - timedelta(days=40))
    await add_order(deps.pool, failed_only, ist(MONDAY, 12) - timedelta(days=3), "FAILED")
    await deps.pool.execute("UPDATE retailers SET insights_off_at = $2 WHERE id = $1", off, NOW0)

    clock.current = ist(MONDAY, 9)
    assert (await run_job_now(deps, "send_insights")).counts == {
        "queued": 1, "already_sent": 0, "candidates": 1,
    }  # fmt: skip
    (row,) = await deps.pool.fetch("SELECT * FROM outbox_messages")
    assert (row["retailer_id"], row["kind"]) == (buyer, "insights")
    assert row["dedupe_key"] == f"insights:{buyer}:2026-03-02"
    assert "Orders: 3" in row["body"] and "Reply *insights off* to stop" in row["body"]
    # A rerun, and the rest of the week, send nothing twice; next Monday, again.
    assert (await run_job_now(deps, "send_insights")).counts["queued"] == 0
    clock.current = ist(MONDAY + 3, 9)
    assert (await run_job_now(deps, "send_insights")).counts["already_sent"] == 1
    clock.current = ist(MONDAY + 7, 9)
    assert (await run_job_now(deps, "send_insights")).counts["queued"] == 1


NOW0 = datetime(2026, 2, 1, tzinfo=UTC)


async def test_insights_off_and_on_in_chat(
    client: httpx.AsyncClient,
    shop: asyncpg.Pool,  # noqa: F811
) -> None:
    answer = await say(client, RAMESH, "insights band karo")
    assert "no more weekly insights" in answer
    assert await shop.fetchval("SELECT insights_off_at FROM retailers WHERE phone = $1", RAMESH)
    answer = await say(client, RAMESH, "insights on")
    assert "Weekly insights are on" in answer
    assert (
        await shop.fetchval("SELECT insights_off_at FROM retailers WHERE phone = $1", RAMESH)
        is None
    )


# --- reminders ----------------------------------------------------------------------------------


async def test_reminder_names_adjustments_and_tells_due_today_from_due_soon(
    deps: Deps, clock: FixedClock
) -> None:
    rid = await add_retailer(deps.pool)
    await add_debit(deps.pool, rid, 5_000_00, date(2026, 2, 14))  # due 1 March: 1 day late
    await add_debit(deps.pool, rid, 2_000_00, date(2026, 2, 15))  # due 2 March: today
    await deps.pool.execute(
        """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
               due_date, reason, notes)
           VALUES ($1, 'ADJUSTMENT', 'DEBIT', 30000, 'OPEN', '2026-03-04', 'correction',
                   'short weight on invoice 88')""",
        rid,
    )
    clock.current = ist(MONDAY, 10)
    assert (await run_job_now(deps, "payment_reminders")).counts["queued"] == 1
    body = await deps.pool.fetchval("SELECT body FROM outbox_messages")
    assert "(1 day late)" in body and "days late" not in body
    assert "due 2 Mar 2026 (today)" in body
    assert "Adjustment, correction (short weight on invoice 88): ₹300" in body
    assert "Other charge: ₹300" not in body
    assert "Overdue: ₹5,000 · Due today: ₹2,000 · Due soon: ₹300" in body
    assert "Total due: ₹7,300" in body
