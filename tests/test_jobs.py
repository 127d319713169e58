"""The scheduled jobs against real PostgreSQL, and through a real arq worker on Redis."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from arq.connections import ArqRedis
from arq.worker import Worker, func

import jobs.schedule as schedule
from bot.cli.deps import Deps
from bot.clock import FixedClock
from jobs.registry import JOBS
from jobs.runner import UnknownJob, run_job_now
from jobs.schedule import CRON_TASKS, cron_jobs, next_run

IST = ZoneInfo("Asia/Kolkata")


async def add_retailer(
    db: asyncpg.Pool, phone: str = "+919811100001", *, opted_out: bool = False, lang: str = "en"
) -> int:
    rid: int = await db.fetchval(
        """INSERT INTO retailers (phone, name, shop_name, language, opted_out)
           VALUES ($1, 'Ramesh', 'Ramesh Stores', $2, $3) RETURNING id""",
        phone,
        lang,
        opted_out,
    )
    await db.execute(
        "INSERT INTO credit_accounts (retailer_id, credit_limit) VALUES ($1, 10000000)", rid
    )
    return rid


async def add_debit(db: asyncpg.Pool, rid: int, amount: int, ordered_on: date) -> int:
    created = datetime.combine(ordered_on, datetime.min.time(), tzinfo=IST) + timedelta(hours=12)
    txn: int = await db.fetchval(
        """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status, due_date,
               created_at) VALUES ($1, 'DEBIT', 'DEBIT', $2, 'OPEN', $3, $4) RETURNING id""",
        rid,
        amount,
        ordered_on + timedelta(days=15),
        created,
    )
    await db.execute(
        "UPDATE credit_accounts SET outstanding = outstanding + $2 WHERE retailer_id = $1",
        rid,
        amount,
    )
    return txn


def at_ist(day: date, hour: int) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=IST).replace(hour=hour).astimezone(UTC)


ORDERED = date(2026, 1, 1)


async def reminders(db: asyncpg.Pool) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM outbox_messages WHERE kind = 'payment_reminder' ORDER BY id"
    )


# --- schedule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "job, after_ist, expected_ist",
    [
        ("payment_reminders", datetime(2026, 3, 1, 9, 59), datetime(2026, 3, 1, 10, 0)),
        ("payment_reminders", datetime(2026, 3, 1, 10, 0), datetime(2026, 3, 2, 10, 0)),
        ("auto_pause", datetime(2026, 3, 1, 10, 30), datetime(2026, 3, 1, 11, 0)),
        ("expire_pending_orders", datetime(2026, 3, 1, 6, 1), datetime(2026, 3, 1, 12, 0)),
        ("expire_pending_orders", datetime(2026, 3, 1, 19, 0), datetime(2026, 3, 2, 0, 0)),
        # Every 15 minutes (issue 13: a daily 14:00 sweep missed checkouts left at 12:30).
        ("pending_order_follow_up", datetime(2026, 3, 1, 15, 0), datetime(2026, 3, 1, 15, 15)),
        ("pending_order_follow_up", datetime(2026, 3, 1, 23, 50), datetime(2026, 3, 2, 0, 0)),
        # Weekly, INSIGHTS_WEEKDAY (default Monday) at 09:00: 1 March 2026 is a Sunday.
        ("send_insights", datetime(2026, 3, 1, 15, 0), datetime(2026, 3, 2, 9, 0)),
        ("send_insights", datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 9, 9, 0)),
        ("regenerate_insights", datetime(2026, 12, 31, 23, 0), datetime(2027, 1, 1, 3, 0)),
        ("evaluate_guardrails", datetime(2026, 3, 1, 0, 0), datetime(2026, 3, 1, 4, 0)),
    ],
)
def test_next_run_is_in_business_time(
    job: str, after_ist: datetime, expected_ist: datetime
) -> None:
    after = after_ist.replace(tzinfo=IST).astimezone(UTC)
    # The same instant, given in another zone, gives the same answer: the host zone never matters.
    assert next_run(job, after, IST) == expected_ist.replace(tzinfo=IST).astimezone(UTC)
    assert next_run(job, after.astimezone(ZoneInfo("America/New_York")), IST) == next_run(
        job, after, IST
    )


def test_every_job_is_scheduled_with_several_tries() -> None:
    assert set(JOBS) == set(CRON_TASKS)
    for job in cron_jobs:
        assert job.max_tries >= 3
        assert job.unique


# --- payment reminders --------------------------------------------------------------------------


async def test_reminder_days_and_once_per_day(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool)
    await add_debit(deps.pool, rid, 18_500_00, ORDERED)
    due = ORDERED + timedelta(days=15)

    async def run_on(day: date) -> dict[str, int]:
        clock.current = at_ist(day, 10)
        return (await run_job_now(deps, "payment_reminders")).counts

    assert (await run_on(due - timedelta(days=4)))["queued"] == 0
    assert (await run_on(due - timedelta(days=3)))["queued"] == 1  # day 12: due soon
    assert (await run_on(due - timedelta(days=3)))["queued"] == 0  # a rerun sends nothing
    assert (await run_on(due - timedelta(days=2)))["queued"] == 0  # nothing new on day 13
    assert (await run_on(due))["queued"] == 1  # due today
    assert (await run_on(due + timedelta(days=1)))["queued"] == 1  # overdue
    rows = await reminders(deps.pool)
    assert len(rows) == 3
    assert [r["variables"]["stage"] for r in rows] == ["due_soon", "due_today", "overdue"]
    assert "₹18,500" in rows[0]["body"]
    assert rows[0]["to_phone"] == "+919811100001"
    txn = await deps.pool.fetchrow(
        "SELECT reminder_count, reminder_sent_at FROM credit_transactions"
    )
    # Queued, not sent: the count moves when the sender hands a reminder to Twilio (issue 9).
    assert (txn["reminder_count"], txn["reminder_sent_at"]) == (0, None)


async def test_one_message_lists_every_due_item(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool, lang="hi")
    await add_debit(deps.pool, rid, 1_000_00, ORDERED)
    await add_debit(deps.pool, rid, 2_000_50, ORDERED + timedelta(days=2))
    clock.current = at_ist(ORDERED + timedelta(days=16), 10)
    counts = (await run_job_now(deps, "payment_reminders")).counts
    assert counts["queued"] == 1
    (row,) = await reminders(deps.pool)
    assert len(row["variables"]["items"]) == 2
    assert row["language"] == "hi"
    assert "₹3,000.50" in row["body"]  # total due
    assert "बकाया" in row["body"]


async def test_opted_out_and_paid_retailers_are_not_reminded(deps: Deps, clock: FixedClock) -> None:
    out = await add_retailer(deps.pool, "+919811100002", opted_out=True)
    await add_debit(deps.pool, out, 1_000_00, ORDERED)
    paid = await add_retailer(deps.pool, "+919811100003")
    txn = await add_debit(deps.pool, paid, 1_000_00, ORDERED)
    await deps.pool.execute(
        "UPDATE credit_transactions SET status = 'CLEARED', cleared_amount = amount WHERE id = $1",
        txn,
    )
    clock.current = at_ist(ORDERED + timedelta(days=15), 10)
    counts = (await run_job_now(deps, "payment_reminders")).counts
    assert counts["queued"] == 0
    assert await reminders(deps.pool) == []


async def test_missed_reminder_day_is_caught_up_once(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool)
    await add_debit(deps.pool, rid, 500_00, ORDERED)
    # Workers were down on days 12 to 15; the next morning catches up with one message.
    clock.current = at_ist(ORDERED + timedelta(days=17), 10)
    assert (await run_job_now(deps, "payment_reminders")).counts["queued"] == 1
    clock.current = at_ist(ORDERED + timedelta(days=17), 15)
    assert (await run_job_now(deps, "payment_reminders")).counts["queued"] == 0


async def test_as_of_run_uses_that_day(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool)
    await add_debit(deps.pool, rid, 500_00, ORDERED)
    clock.current = at_ist(ORDERED, 10)
    result = await run_job_now(deps, "payment_reminders", ORDERED + timedelta(days=12))
    assert result.as_of == ORDERED + timedelta(days=12)
    assert result.counts["queued"] == 1
    run = await deps.pool.fetchrow("SELECT * FROM job_runs")
    assert run["job"] == "payment_reminders"
    assert run["as_of"] == ORDERED + timedelta(days=12)
    assert run["finished_at"] is not None and run["error"] is None
    assert run["counts"]["queued"] == 1


async def test_unknown_job(deps: Deps) -> None:
    with pytest.raises(UnknownJob):
        await run_job_now(deps, "make_coffee")


# --- pending orders -----------------------------------------------------------------------------


async def add_pending(
    db: asyncpg.Pool, rid: int, created: datetime, *, total: int = 4_520_00
) -> int:
    pid: int = await db.fetchval(
        """INSERT INTO pending_orders (retailer_id, cart, total, expires_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5) RETURNING id""",
        rid,
        [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}],
        total,
        created + timedelta(hours=24),
        created,
    )
    return pid


async def test_expire_pending_orders(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool)
    old = await add_pending(deps.pool, rid, clock.now() - timedelta(hours=25))
    fresh = await add_pending(deps.pool, rid, clock.now() - timedelta(hours=1))
    assert (await run_job_now(deps, "expire_pending_orders")).counts == {"expired": 1}
    assert (await run_job_now(deps, "expire_pending_orders")).counts == {"expired": 0}
    statuses = dict(await deps.pool.fetch("SELECT id, status FROM pending_orders"))
    assert statuses == {old: "EXPIRED", fresh: "PENDING"}


async def test_follow_up_abandoned_checkouts_once(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool)
    abandoned = await add_pending(deps.pool, rid, clock.now() - timedelta(hours=3))
    await add_pending(deps.pool, rid, clock.now() - timedelta(minutes=30))  # still shopping
    await add_pending(deps.pool, rid, clock.now() - timedelta(hours=30))  # expired already
    out = await add_retailer(deps.pool, "+919811100009", opted_out=True)
    await add_pending(deps.pool, out, clock.now() - timedelta(hours=3))
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 1}
    assert (await run_job_now(deps, "pending_order_follow_up")).counts == {"queued": 0}
    (row,) = await deps.pool.fetch("SELECT * FROM outbox_messages")
    assert row["kind"] == "pending_order_follow_up"
    assert row["dedupe_key"] == f"pending_order_follow_up:{abandoned}"
    # Issue 13: it offers what `resume` does (not "confirm", which a "haan" did not do) and
    # states when the checkout expires, with the time.
    assert "₹4,520" in row["body"] and "*resume*" in row["body"]
    assert "kept until 16 Jan, 9 am" in row["body"]


# --- insights -----------------------------------------------------------------------------------


async def test_regenerate_insights(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool)
    other = await add_retailer(deps.pool, "+919811100005")
    pid = await deps.pool.fetchval(
        "INSERT INTO products (sku, name, category, price) VALUES ('A', 'Atta 10kg', 'Staples', 45000) RETURNING id"
    )
    for days_ago in (3, 10, 17):
        oid = await deps.pool.fetchval(
            """INSERT INTO orders (retailer_id, total, payment_mode, status, created_at)
               VALUES ($1, 90000, 'COD', 'DELIVERED', $2) RETURNING id""",
            rid,
            clock.now() - timedelta(days=days_ago),
        )
        await deps.pool.execute(
            """INSERT INTO order_items (order_id, product_id, sku, name, unit_price, quantity, line_total)
               VALUES ($1, $2, 'A', 'Atta 10kg', 45000, 2, 90000)""",
            oid,
            pid,
        )
    result = await run_job_now(deps, "regenerate_insights")
    assert result.counts == {"retailers": 2, "updated": 2, "kept_newer": 0}
    data = await deps.pool.fetchval(
        "SELECT data FROM retailer_insights WHERE retailer_id = $1", rid
    )
    assert data["orders"] == 3
    assert data["spend"] == 270000
    assert data["typicalGapDays"] == 7
    assert data["topItems"] == [{"name": "Atta 10kg", "quantity": 6}]
    empty = await deps.pool.fetchval(
        "SELECT data FROM retailer_insights WHERE retailer_id = $1", other
    )
    assert empty["orders"] == 0


# --- a real arq worker --------------------------------------------------------------------------


async def run_worker(
    deps: Deps, redis: ArqRedis, queue_name: str, functions: list[Any] | None = None
) -> Worker:
    async def startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = deps

    worker = Worker(
        functions=functions or [],
        cron_jobs=cron_jobs,
        redis_pool=redis,
        queue_name=queue_name,
        burst=True,
        poll_delay=0.05,
        on_startup=startup,
        handle_signals=False,
        timezone=IST,
    )
    await worker.main()
    return worker


async def test_cron_job_runs_in_a_real_worker_once_per_slot(
    deps: Deps, clock: FixedClock, queue_name: str
) -> None:
    rid = await add_retailer(deps.pool)
    await add_debit(deps.pool, rid, 700_00, ORDERED)
    slot = at_ist(ORDERED + timedelta(days=12), 10)
    clock.current = slot
    # arq keys jobs by id across queues; a random millisecond keeps reruns of the suite apart
    # (the slot itself is read to the second).
    millis = int(slot.timestamp()) * 1000 + secrets.randbelow(1000)
    job_id = f"cron:payment_reminders:{millis}"
    redis = deps.redis
    # Two workers enqueueing the same slot: arq keeps one job for one id.
    assert await redis.enqueue_job("cron:payment_reminders", _job_id=job_id, _queue_name=queue_name)
    assert (
        await redis.enqueue_job("cron:payment_reminders", _job_id=job_id, _queue_name=queue_name)
        is None
    )
    worker = await run_worker(deps, redis, queue_name)
    assert worker.jobs_complete == 1
    run = await deps.pool.fetchrow("SELECT * FROM job_runs")
    assert run["scheduled_for"] == slot
    assert run["counts"] == {"queued": 1, "already_sent": 0, "candidates": 1}
    # A manual rerun for the same day sends nothing more.
    await run_job_now(deps, "payment_reminders")
    assert len(await reminders(deps.pool)) == 1


async def test_failed_cron_run_is_retried(
    deps: Deps, clock: FixedClock, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[date] = []
    real = JOBS["expire_pending_orders"]

    async def flaky(d: Deps, as_of: date) -> dict[str, int]:
        calls.append(as_of)
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        return await real.run(d, as_of)

    monkeypatch.setitem(JOBS, "expire_pending_orders", dataclasses.replace(real, run=flaky))
    monkeypatch.setattr(schedule, "RETRY_DELAY", timedelta(0))
    # arq holds a cron slot's in-progress key for a while after a retry, to stop a second worker
    # from starting the same slot; the same task registered as a plain function retries at once.
    probe = func(CRON_TASKS["expire_pending_orders"], name="retry_probe", max_tries=5)
    job_id = f"retry_probe:{queue_name}"
    await deps.redis.enqueue_job("retry_probe", _job_id=job_id, _queue_name=queue_name)
    worker = await run_worker(deps, deps.redis, queue_name, [probe])
    assert len(calls) == 2
    assert worker.jobs_retried == 1 and worker.jobs_complete == 1
    run = await deps.pool.fetchrow("SELECT * FROM job_runs")
    assert run["attempts"] == 2 and run["error"] is None and run["finished_at"] is not None


# --- guardrails ---------------------------------------------------------------------------------


async def test_auto_pause_job_pauses_once_and_queues_the_notice(
    deps: Deps, clock: FixedClock
) -> None:
    overdue = await add_retailer(deps.pool, "+919811100011")
    await add_debit(deps.pool, overdue, 5_000_00, ORDERED)
    fine = await add_retailer(deps.pool, "+919811100012")
    await add_debit(deps.pool, fine, 5_000_00, ORDERED + timedelta(days=20))
    # Day 31 after the order: beyond 30 days outstanding.
    clock.current = at_ist(ORDERED + timedelta(days=31), 11)
    first = await run_job_now(deps, "auto_pause")
    assert first.counts["paused"] == 1
    second = await run_job_now(deps, "auto_pause")
    assert second.counts["paused"] == 0
    statuses = dict(await deps.pool.fetch("SELECT id, credit_status FROM retailers"))
    assert statuses == {overdue: "PAUSED", fine: "ACTIVE"}
    row = await deps.pool.fetchrow(
        "SELECT paused_by, credit_pause_reason FROM retailers WHERE id = $1", overdue
    )
    assert row["paused_by"] == "SYSTEM"
    notices = await deps.pool.fetch("SELECT * FROM outbox_messages WHERE kind = 'credit_paused'")
    assert len(notices) == 1 and notices[0]["retailer_id"] == overdue
    audit = await deps.pool.fetch(
        "SELECT * FROM audit_log WHERE retailer_id = $1 AND performed_by = 'SYSTEM'", overdue
    )
    assert len(audit) == 1


async def test_evaluate_guardrails_job_reports_risk(deps: Deps, clock: FixedClock) -> None:
    rid = await add_retailer(deps.pool)
    await add_debit(deps.pool, rid, 3_000_00, ORDERED)
    clock.current = at_ist(ORDERED + timedelta(days=20), 4)
    counts = (await run_job_now(deps, "evaluate_guardrails")).counts
    assert counts["outstanding_paise"] == 3_000_00
    assert counts["bucket_1_30_paise"] == 3_000_00
    assert counts["at_risk"] == 1
    assert counts["aging_refreshed"] == 1
    assert await deps.pool.fetchval("SELECT credit_status FROM retailers") == "ACTIVE"
