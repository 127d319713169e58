"""Jobs at scale: the reminders sweep reads only retailers owed a reminder (its SQL agrees with
the pure rule), and insights are computed a page of retailers at a time (same result as whole)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

import jobs.tasks as tasks
from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.insights import compute_insights
from bot.reminders import REMINDER_POLICY, ReminderDebit, reminder_owed
from db import sweeps

IST = ZoneInfo("Asia/Kolkata")
TODAY = date(2026, 3, 2)


async def add_retailer(db: asyncpg.Pool, n: int) -> int:
    rid: int = await db.fetchval(
        """INSERT INTO retailers (phone, name, shop_name) VALUES ($1, 'R', 'S') RETURNING id""",
        f"+9170{n:08d}",
    )
    await db.execute("INSERT INTO credit_accounts (retailer_id, credit_limit) VALUES ($1, 1)", rid)
    return rid


async def add_debit(
    db: asyncpg.Pool, rid: int, due: date, reminded_on: date | None, *, cleared: int = 0
) -> None:
    reminded = datetime.combine(reminded_on, time(10), tzinfo=IST) if reminded_on else None
    await db.execute(
        """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status, due_date,
               cleared_amount, reminder_queued_at, created_at)
           VALUES ($1, 'DEBIT', 'DEBIT', 1000, $2, $3, $4, $5, $6)""",
        rid,
        "PARTIAL" if cleared else "OPEN",
        due,
        cleared,
        reminded,
        datetime.combine(due - timedelta(days=15), time(12), tzinfo=IST),
    )


async def test_the_sweep_reads_exactly_the_retailers_owed_a_reminder(deps: Deps) -> None:
    """Against the pure rule (`bot.reminders.reminder_owed`), over every distance from the due
    date the rule distinguishes and every last reminder before it."""
    rng = random.Random(17)
    owed: set[int] = set()
    everyone: set[int] = set()
    for n in range(400):
        rid = await add_retailer(deps.pool, n)
        everyone.add(rid)
        for _ in range(rng.choice([1, 1, 2, 3])):
            due = TODAY + timedelta(days=rng.randint(-70, 8))
            reminded_on = None if rng.random() < 0.3 else TODAY - timedelta(days=rng.randint(0, 80))
            await add_debit(deps.pool, rid, due, reminded_on)
            debit = ReminderDebit(1, None, 1000, due, reminded_on)
            if due <= TODAY + timedelta(days=3) and reminder_owed(debit, TODAY, REMINDER_POLICY):
                owed.add(rid)
    async with deps.pool.acquire() as conn:
        targets = await sweeps.get_reminder_targets(
            conn, horizon=TODAY + timedelta(days=3), tz=IST, today=TODAY
        )
    assert owed and owed != everyone
    assert {t.retailer_id for t in targets} == owed
    for t in targets:
        # each target comes with all its debits in the horizon, owed or not, for the message
        assert all(d.due_date <= TODAY + timedelta(days=3) for d in t.debits)


@pytest.mark.parametrize(
    "days_from_due, reminded_days_ago, owed",
    [
        (-4, None, False),  # not yet at the first point
        (-3, None, True),  # three days before it is due
        (-3, 0, False),  # reminded today already
        (0, 3, True),  # due today, last reminded at -3
        (2, 1, False),  # +1 reminded yesterday; +3 not yet
        (3, 2, True),
        (13, 6, False),  # +7 reminded
        (14, 7, True),  # escalating, weekly from +14
        (20, 6, False),
        (21, 7, True),
        (70, 1, True),  # a weekly point (+70) today
        (69, 1, False),  # +63 reminded
        (69, 7, True),  # a missed weekly point (+63) is caught up
    ],
)
async def test_reminder_points_in_sql(
    deps: Deps, days_from_due: int, reminded_days_ago: int | None, owed: bool
) -> None:
    rid = await add_retailer(deps.pool, 1)
    reminded = TODAY - timedelta(days=reminded_days_ago) if reminded_days_ago is not None else None
    await add_debit(deps.pool, rid, TODAY - timedelta(days=days_from_due), reminded)
    async with deps.pool.acquire() as conn:
        targets = await sweeps.get_reminder_targets(
            conn, horizon=TODAY + timedelta(days=3), tz=IST, today=TODAY
        )
    assert bool(targets) is owed
    debit = ReminderDebit(1, None, 1000, TODAY - timedelta(days=days_from_due), reminded)
    assert reminder_owed(debit, TODAY, REMINDER_POLICY) is owed  # the pure rule agrees


async def test_a_paid_debit_is_owed_nothing(deps: Deps) -> None:
    rid = await add_retailer(deps.pool, 1)
    await add_debit(deps.pool, rid, TODAY, None, cleared=1000)
    async with deps.pool.acquire() as conn:
        assert not await sweeps.get_reminder_targets(conn, horizon=TODAY, tz=IST, today=TODAY)


async def test_insights_a_page_at_a_time_equal_the_whole(
    deps: Deps, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.current = datetime.combine(TODAY, time(3), tzinfo=IST).astimezone(UTC)
    product: int = await deps.pool.fetchval(
        "INSERT INTO products (sku, name, category, price) VALUES ('A', 'Atta', 'S', 100) "
        "RETURNING id"
    )
    rids = [await add_retailer(deps.pool, n) for n in range(7)]
    for i, rid in enumerate(rids):
        for k in range(i):  # the first retailer has no orders
            order: int = await deps.pool.fetchval(
                """INSERT INTO orders (retailer_id, total, payment_mode, status, created_at)
                   VALUES ($1, $2, 'COD', 'DELIVERED', $3) RETURNING id""",
                rid,
                100 * (k + 1),
                clock.current - timedelta(days=3 * k + 1),
            )
            await deps.pool.execute(
                """INSERT INTO order_items (order_id, product_id, sku, name, unit_price,
                       quantity, line_total) VALUES ($1, $2, 'A', 'Atta', 100, $3, 100 * $3)""",
                order,
                product,
                k + 1,
            )
    async with deps.pool.acquire() as conn:
        whole = await sweeps.get_recent_orders_by_retailer(
            conn, since=clock.current - timedelta(days=120), tz=IST
        )
    monkeypatch.setattr(tasks, "INSIGHTS_BATCH", 3)  # pages of 3, 3 and 1 retailers
    counts = await tasks.regenerate_insights(deps, TODAY)
    assert counts == {"retailers": 7, "updated": 7, "kept_newer": 0}
    stored = {
        r["retailer_id"]: r["data"]
        for r in await deps.pool.fetch("SELECT retailer_id, data FROM retailer_insights")
    }
    assert stored == {rid: compute_insights(whole.get(rid, []), TODAY) for rid in rids}
    assert stored[rids[6]]["orders"] == 6
