"""The jobs' functions; their names, schedules and rules are one table, `jobs.registry.JOBS`.

Each is a sweep over "due and not yet done", so a rerun does nothing twice: outbox dedupe keys make
each message once-only, and rows are marked in the same transaction."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.cli.deps import Deps
from bot.clock import business_date
from bot.credit import Bucket
from bot.insights import (
    WINDOW_DAYS,
    OrderSummary,
    compute_insights,
    insights_vars,
    insights_week,
)
from bot.messages import MessageKind, Reply
from bot.quiet_hours import release_at
from bot.reminders import REMINDER_POLICY, breakdown, plan_reminder
from db import sweeps
from db.aging import refresh_stale_aging
from db.credit_queries import get_at_risk, get_risk_dashboard
from db.ledger import apply_guardrails
from db.outbox import enqueue
from jobs.payment_links import pay_for

log = logging.getLogger(__name__)

# A checkout untouched this long is "abandoned" and gets one follow-up ...
FOLLOW_UP_AFTER = timedelta(hours=2)
# Retailers whose insights are computed and written at a time (about 50 order lines each at
# 5,000,000 lines over 100,000 retailers: some 50,000 rows in memory).
INSIGHTS_BATCH = 1000
# ... if it has this long left before it expires (time to read it and answer).
FOLLOW_UP_TIME_LEFT = timedelta(hours=1)
# The weekly insights go to retailers who ordered within this many days.
INSIGHTS_ACTIVE_DAYS = 30


def _effective_now(deps: Deps, as_of: date, at: time) -> datetime:
    """`now` for a run as of `as_of`: the real clock on that day, else `at` o'clock of that day."""
    now = deps.clock.now()
    if business_date(now, deps.settings.tz) == as_of:
        return now
    return datetime.combine(as_of, at, tzinfo=deps.settings.tz)


async def payment_reminders(deps: Deps, as_of: date) -> dict[str, int]:
    """One reminder per retailer per day, listing all its due items (held for quiet hours)."""
    now = _effective_now(deps, as_of, time(10, 0))
    send_at = _send_at(deps, MessageKind.PAYMENT_REMINDER, now)
    horizon = as_of + timedelta(days=REMINDER_POLICY.days_before_due)
    queued = skipped = 0
    async with deps.pool.acquire() as conn:
        targets = await sweeps.get_reminder_targets(
            conn, horizon=horizon, tz=deps.settings.tz, today=as_of, policy=REMINDER_POLICY
        )
    for target in targets:
        plan = plan_reminder(target.debits, as_of, REMINDER_POLICY)
        if plan is None:
            continue
        items = [_short_note(i.to_json()) for i in plan.items]
        # The payment link (a gateway call) is made here, before the transaction that queues.
        pay = await pay_for(deps, target.retailer_id, plan.total_due)
        reply = Reply(
            "payment_reminder",
            {
                "name": target.name,
                "stage": plan.stage.value,
                "items": items,
                "total_due": plan.total_due,
                "breakdown": breakdown(items),
                "pay": pay,
            },
        )
        async with deps.pool.acquire() as conn, conn.transaction():
            row = await enqueue(
                conn,
                kind=MessageKind.PAYMENT_REMINDER,
                reply=reply,
                to_phone=target.phone,
                language=target.language,
                dedupe_key=f"payment_reminder:{target.retailer_id}:{as_of.isoformat()}",
                now=now,
                retailer_id=target.retailer_id,
                renderer=deps.renderer,
                send_at=send_at,
            )
            if row is None:
                skipped += 1
                continue
            await sweeps.mark_reminded(conn, [i.transaction_id for i in plan.items], now)
            queued += 1
    return {"queued": queued, "already_sent": skipped, "candidates": len(targets)}


def _send_at(deps: Deps, kind: MessageKind, now: datetime) -> datetime:
    """When a message of `kind` queued `now` may go (the end of quiet hours, if inside)."""
    return release_at(kind, now, deps.settings.quiet, deps.settings.tz)


# An adjustment's note, as a reminder line names it.
NOTE_CHARS = 40


def _short_note(item: dict[str, Any]) -> dict[str, Any]:
    note = item.get("note")
    if isinstance(note, str) and len(note) > NOTE_CHARS:
        item["note"] = note[: NOTE_CHARS - 1].rstrip() + "…"
    return item


async def expire_pending_orders(deps: Deps, as_of: date) -> dict[str, int]:
    """Pending orders expire 24 h after creation; this sweep marks them (by the real clock)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        expired = await sweeps.expire_pending_orders(conn, deps.clock.now())
    return {"expired": len(expired)}


async def pending_order_follow_up(deps: Deps, as_of: date) -> dict[str, int]:
    """One follow-up per abandoned checkout, `FOLLOW_UP_AFTER` after the retailer's last
    message (the sweep runs every 15 minutes, so 2 to 2¼ hours; later only when held for quiet
    hours), while there is time to answer it."""
    now = deps.clock.now()
    send_at = _send_at(deps, MessageKind.PENDING_ORDER_FOLLOW_UP, now)
    queued = 0
    async with deps.pool.acquire() as conn, conn.transaction():
        targets = await sweeps.lock_follow_up_targets(
            conn, now=now, idle=FOLLOW_UP_AFTER, time_left=FOLLOW_UP_TIME_LEFT
        )
        for t in targets:
            reply = Reply(
                "pending_order_follow_up",
                {
                    "name": t.name,
                    "pending_order_id": t.pending_order_id,
                    "total": t.total,
                    "item_count": t.item_count,
                    "expires_at": t.expires_at.astimezone(deps.settings.tz).isoformat(),
                },
            )
            row = await enqueue(
                conn,
                kind=MessageKind.PENDING_ORDER_FOLLOW_UP,
                reply=reply,
                to_phone=t.phone,
                language=t.language,
                dedupe_key=f"pending_order_follow_up:{t.pending_order_id}",
                now=now,
                retailer_id=t.retailer_id,
                renderer=deps.renderer,
                send_at=send_at,
            )
            await sweeps.mark_followed_up(conn, t.pending_order_id, now)
            queued += row is not None
    return {"queued": queued}


async def send_insights(deps: Deps, as_of: date) -> dict[str, int]:
    """The weekly insights message, to retailers who ordered in the last
    `INSIGHTS_ACTIVE_DAYS` days and did not turn it off (`insights off`, or STOP): what they
    bought and the one nudge worth making (`bot.insights`). Once per retailer per insights
    week (from INSIGHTS_WEEKDAY), so a rerun or a catch-up later in the week sends nothing
    twice."""
    now = _effective_now(deps, as_of, time(9, 0))
    send_at = _send_at(deps, MessageKind.INSIGHTS, now)
    week = insights_week(as_of, deps.settings.insights_weekday_number)
    tz = deps.settings.tz
    active_since = datetime.combine(as_of - timedelta(days=INSIGHTS_ACTIVE_DAYS), time(0), tz)
    history_since = datetime.combine(as_of - timedelta(days=WINDOW_DAYS + 1), time(0), tz)
    queued = skipped = 0
    async with deps.pool.acquire() as conn:
        targets = await sweeps.get_insights_targets(conn, since=active_since)
        orders = await sweeps.get_recent_orders_by_retailer(conn, since=history_since, tz=tz)
        for target in targets:
            data = compute_insights(orders.get(target.retailer_id, []), as_of)
            if not data["orders"]:
                continue
            async with conn.transaction():
                row = await enqueue(
                    conn,
                    kind=MessageKind.INSIGHTS,
                    reply=Reply("insights", insights_vars(target.name, data, weekly=True)),
                    to_phone=target.phone,
                    language=target.language,
                    dedupe_key=f"insights:{target.retailer_id}:{week.isoformat()}",
                    now=now,
                    retailer_id=target.retailer_id,
                    renderer=deps.renderer,
                    send_at=send_at,
                )
            if row is None:
                skipped += 1
            else:
                queued += 1
    return {"queued": queued, "already_sent": skipped, "candidates": len(targets)}


async def regenerate_insights(deps: Deps, as_of: date) -> dict[str, int]:
    """Recompute every retailer's buying pattern as of the day (stored, not sent).

    Retailers are taken `INSIGHTS_BATCH` at a time, in id order (a keyset page), with the orders
    of that id range alone, and each page is written in one statement: memory stays that of two
    pages however many retailers there are, and a run stopped midway keeps the pages it wrote
    (the rerun writes them again, the same). The next page is read while this one is computed,
    in a thread, so the database and Python work at once and the worker's event loop (its
    in-progress renewals, the outbox sender) is never held up by the computing."""
    now = deps.clock.now()
    tz = deps.settings.tz
    # compute_insights looks at the WINDOW_DAYS before the day: no older order is read, nor a
    # later one (a run as of a past day).
    since = datetime.combine(as_of - timedelta(days=WINDOW_DAYS + 1), time(0), tzinfo=tz)
    until = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=tz)

    async def read_page(after: int) -> tuple[list[int], dict[int, list[OrderSummary]]]:
        async with deps.pool.acquire() as conn:
            ids = await sweeps.get_retailer_id_batch(conn, after=after, limit=INSIGHTS_BATCH)
            if not ids:
                return ids, {}
            orders = await sweeps.get_recent_orders_by_retailer(
                conn, since=since, until=until, tz=tz, retailers=(ids[0], ids[-1])
            )
        return ids, orders

    def compute(
        ids: list[int], orders: dict[int, list[OrderSummary]]
    ) -> list[tuple[int, dict[str, object]]]:
        return [(rid, compute_insights(orders.get(rid, []), as_of)) for rid in ids]

    retailers = updated = 0
    page = asyncio.create_task(read_page(0))
    try:
        while True:
            ids, orders = await page
            if not ids:
                break
            page = asyncio.create_task(read_page(ids[-1]))
            rows = await asyncio.to_thread(compute, ids, orders)
            async with deps.pool.acquire() as conn:
                updated += await sweeps.upsert_insights_batch(conn, rows, as_of, now)
            retailers += len(ids)
    finally:
        page.cancel()  # a run cancelled mid-way (the worker stopping) reads no further
    # a past day never replaces newer insights: those are kept, and counted
    return {"retailers": retailers, "updated": updated, "kept_newer": retailers - updated}


async def auto_pause(deps: Deps, as_of: date) -> dict[str, int]:
    """Apply the guardrails: SYSTEM-pause accounts overdue beyond their days (each with its
    notice queued in the same transaction) and resume SYSTEM-paused ones whose overdue is
    cleared. A second run the same day finds nothing to do."""
    now = _effective_now(deps, as_of, time(11, 0))
    async with deps.pool.acquire() as conn:
        run = await apply_guardrails(
            conn, today=as_of, now=now, tolerance=deps.settings.overdue_tolerance_paise
        )
    return {"checked": run.checked, "paused": len(run.paused), "resumed": len(run.resumed)}


async def evaluate_guardrails_job(deps: Deps, as_of: date) -> dict[str, int]:
    """The early-morning risk refresh: every account's aging recomputed for the day (so the
    dashboard reads stored figures, not the ledger), then the buckets and the at-risk list
    recorded in the run's counts. No credit state changes: pausing is the 11:00 `auto_pause`,
    after the 10:00 reminders have given retailers their chance."""
    async with deps.pool.acquire() as conn:
        refreshed = await refresh_stale_aging(conn, as_of)
        dashboard = await get_risk_dashboard(conn, as_of)
        at_risk = await get_at_risk(
            conn, as_of, tolerance=deps.settings.overdue_tolerance_paise, limit=1
        )
    counts = {f"bucket_{b.value}_paise": dashboard.buckets[b].amount for b in Bucket}
    counts.update(
        aging_refreshed=refreshed,
        retailers=dashboard.retailers,
        outstanding_paise=dashboard.total_outstanding,
        at_risk=at_risk.total,
    )
    return counts
