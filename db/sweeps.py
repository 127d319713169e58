"""Queries behind the scheduled sweeps: reminders, pending-order expiry and follow-up, insights."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.insights import OrderLineSummary, OrderSummary
from bot.reminders import ReminderDebit
from db.fragments import open_debit
from db.pool import Conn


@dataclass(frozen=True)
class ReminderTarget:
    retailer_id: int
    phone: str
    name: str
    language: str
    debits: tuple[ReminderDebit, ...]


async def get_reminder_targets(conn: Conn, *, horizon: date, tz: tzinfo) -> list[ReminderTarget]:
    """Retailers (not opted out) with open debits due on or before `horizon`."""
    rows = await conn.fetch(
        f"""SELECT r.id AS retailer_id, r.phone, r.name, r.language,
                  t.id AS transaction_id, t.order_id, t.amount - t.cleared_amount AS unpaid,
                  t.due_date, (t.reminder_queued_at AT TIME ZONE $2)::date AS last_reminded_on,
                  t.reason, t.notes
           FROM credit_transactions t JOIN retailers r ON r.id = t.retailer_id
           WHERE {open_debit("t")}
             AND t.due_date IS NOT NULL AND t.due_date <= $1 AND NOT r.opted_out
           ORDER BY r.id, t.due_date, t.id""",
        horizon,
        str(tz),
    )
    targets: list[ReminderTarget] = []
    for row in rows:
        debit = ReminderDebit(
            transaction_id=row["transaction_id"],
            order_id=row["order_id"],
            unpaid=row["unpaid"],
            due_date=row["due_date"],
            last_reminded_on=row["last_reminded_on"],
            reason=row["reason"] if row["order_id"] is None else None,
            note=row["notes"] if row["order_id"] is None else None,
        )
        if targets and targets[-1].retailer_id == row["retailer_id"]:
            last = targets[-1]
            targets[-1] = ReminderTarget(
                last.retailer_id, last.phone, last.name, last.language, (*last.debits, debit)
            )
        else:
            targets.append(
                ReminderTarget(
                    row["retailer_id"], row["phone"], row["name"], row["language"], (debit,)
                )
            )
    return targets


async def mark_reminded(conn: Conn, transaction_ids: list[int], at: datetime) -> None:
    """A reminder listing these debits was queued `at`: no other is queued for the same reminder
    point. `reminder_sent_at` and `reminder_count` count what the sender hands to Twilio
    (`db.outbox_queries.mark_reminder_sent`), not what is queued (and perhaps held or dropped)."""
    await conn.execute(
        """UPDATE credit_transactions SET reminder_queued_at = $2
           WHERE id = any($1::bigint[])""",
        transaction_ids,
        at,
    )


async def expire_pending_orders(conn: Conn, now: datetime) -> list[int]:
    """Mark every PENDING order past its expiry EXPIRED; return their ids."""
    rows = await conn.fetch(
        """UPDATE pending_orders SET status = 'EXPIRED', updated_at = $1
           WHERE status = 'PENDING' AND expires_at <= $1 RETURNING id""",
        now,
    )
    return [r["id"] for r in rows]


@dataclass(frozen=True)
class FollowUpTarget:
    pending_order_id: int
    retailer_id: int
    phone: str
    name: str
    language: str
    total: int
    item_count: int
    expires_at: datetime


async def lock_follow_up_targets(
    conn: Conn,
    *,
    now: datetime,
    idle: timedelta,
    time_left: timedelta,
    limit: int = 500,
) -> list[FollowUpTarget]:
    """Abandoned checkouts: PENDING, never followed up, and nothing from the retailer (nor a
    change to the checkout) for `idle`; with at least `time_left` before it expires, so the
    answer has time to come. A retailer who sent STOP gets none.

    Locked (SKIP LOCKED) so two workers split the work instead of both taking it.
    """
    rows = await conn.fetch(
        """SELECT p.id, p.retailer_id, r.phone, r.name, r.language, p.total, p.cart, p.expires_at
           FROM pending_orders p JOIN retailers r ON r.id = p.retailer_id
           WHERE p.status = 'PENDING' AND p.follow_up_count = 0 AND p.total > 0
             AND p.expires_at > $1::timestamptz + $4::interval
             AND greatest(p.updated_at, coalesce(r.last_inbound_at, p.created_at)) <= $2
             AND NOT r.opted_out
           ORDER BY p.id LIMIT $3
           FOR UPDATE OF p SKIP LOCKED""",
        now,
        now - idle,
        limit,
        time_left,
    )
    return [
        FollowUpTarget(
            pending_order_id=r["id"],
            retailer_id=r["retailer_id"],
            phone=r["phone"],
            name=r["name"],
            language=r["language"],
            total=r["total"],
            item_count=len(r["cart"]) if isinstance(r["cart"], list) else 0,
            expires_at=r["expires_at"],
        )
        for r in rows
    ]


async def mark_followed_up(conn: Conn, pending_order_id: int, at: datetime) -> None:
    await conn.execute(
        """UPDATE pending_orders SET follow_up_sent_at = $2, follow_up_count = follow_up_count + 1
           WHERE id = $1""",
        pending_order_id,
        at,
    )


async def get_recent_orders_by_retailer(
    conn: Conn, *, since: datetime, tz: tzinfo
) -> dict[int, list[OrderSummary]]:
    """Every retailer's non-failed orders since `since`, with their lines."""
    rows = await conn.fetch(
        """SELECT o.id, o.retailer_id, (o.created_at AT TIME ZONE $2)::date AS placed_on, o.total,
                  o.payment_mode, i.product_id, i.name, i.quantity, i.line_total
           FROM orders o JOIN order_items i ON i.order_id = o.id
           WHERE o.created_at >= $1 AND o.status NOT IN ('FAILED', 'CANCELLED')
           ORDER BY o.retailer_id, o.id, i.id""",
        since,
        str(tz),
    )
    out: dict[int, list[OrderSummary]] = {}
    for r in rows:
        orders = out.setdefault(r["retailer_id"], [])
        line = OrderLineSummary(r["product_id"], r["name"], r["quantity"], r["line_total"])
        if orders and orders[-1].order_id == r["id"]:
            last = orders[-1]
            orders[-1] = OrderSummary(
                last.order_id, last.placed_on, last.total, last.payment_mode, (*last.lines, line)
            )
        else:
            orders.append(
                OrderSummary(r["id"], r["placed_on"], r["total"], r["payment_mode"], (line,))
            )
    return out


async def get_insights(conn: Conn, retailer_id: int) -> dict[str, object] | None:
    """The stored insight data of one retailer, or None before the first regeneration."""
    data: dict[str, object] | None = await conn.fetchval(
        "SELECT data FROM retailer_insights WHERE retailer_id = $1", retailer_id
    )
    return data


async def upsert_insights(
    conn: Conn, retailer_id: int, as_of: date, data: dict[str, object], now: datetime
) -> bool:
    """Store a retailer's insights as of `as_of` unless newer ones are stored (a past-dated run
    never replaces today's); the same day again is recomputed. True when written.

    The guard is in the statement itself, so two runs racing for one retailer keep the newer."""
    written: int | None = await conn.fetchval(
        """INSERT INTO retailer_insights (retailer_id, as_of, data, generated_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (retailer_id) DO UPDATE
           SET as_of = EXCLUDED.as_of, data = EXCLUDED.data, generated_at = EXCLUDED.generated_at
           WHERE retailer_insights.as_of <= EXCLUDED.as_of
           RETURNING retailer_id""",
        retailer_id,
        as_of,
        data,
        now,
    )
    return written is not None


@dataclass(frozen=True)
class InsightsTarget:
    retailer_id: int
    phone: str
    name: str
    language: str


async def get_insights_targets(conn: Conn, *, since: datetime) -> list[InsightsTarget]:
    """Retailers who placed an order (not failed or cancelled) since `since` and have not
    turned insights off (`insights off`) nor reminders (STOP)."""
    rows = await conn.fetch(
        """SELECT r.id, r.phone, r.name, r.language FROM retailers r
           WHERE NOT r.opted_out AND r.insights_off_at IS NULL
             AND EXISTS (SELECT 1 FROM orders o
                         WHERE o.retailer_id = r.id AND o.created_at >= $1
                           AND o.status NOT IN ('FAILED', 'CANCELLED'))
           ORDER BY r.id""",
        since,
    )
    return [InsightsTarget(r["id"], r["phone"], r["name"], r["language"]) for r in rows]


async def get_retailer_ids(conn: Conn) -> list[int]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM retailers ORDER BY id")]


async def record_job_start(
    conn: Conn, *, job: str, scheduled_for: datetime, as_of: date, now: datetime
) -> int:
    """Record (or re-record, on a retry) the start of a run; return its id."""
    run_id: int = await conn.fetchval(
        """INSERT INTO job_runs (job, scheduled_for, as_of, started_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (job, scheduled_for) DO UPDATE
           SET started_at = EXCLUDED.started_at, attempts = job_runs.attempts + 1,
               finished_at = NULL, error = NULL
           RETURNING id""",
        job,
        scheduled_for,
        as_of,
        now,
    )
    return run_id


async def record_job_end(
    conn: Conn,
    run_id: int,
    *,
    now: datetime,
    counts: dict[str, int],
    error: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE job_runs SET finished_at = $2, counts = $3, error = $4 WHERE id = $1",
        run_id,
        now,
        counts,
        error,
    )
