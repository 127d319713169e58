"""Queries behind the scheduled sweeps: reminders, pending-order expiry and follow-up, insights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.insights import OrderLineSummary, OrderSummary
from bot.reminders import REMINDER_POLICY, ReminderDebit, ReminderPolicy, latest_point
from db.fragments import open_debit
from db.pool import Conn


@dataclass(frozen=True)
class ReminderTarget:
    retailer_id: int
    phone: str
    name: str
    language: str
    debits: tuple[ReminderDebit, ...]


def _latest_offsets(policy: ReminderPolicy) -> list[int | None]:
    """For each day a debit is from its due date (-days_before_due up to escalate_from - 1), the
    offset of its latest reminder point on or before that day (`bot.reminders.latest_point`);
    from escalate_from on the points are weekly, which `_OWED` computes."""
    due = date(2000, 1, 1)
    out: list[int | None] = []
    for d in range(-policy.days_before_due, policy.escalate_from):
        point = latest_point(due, due + timedelta(days=d), policy)
        out.append(None if point is None else (point - due).days)
    return out


# WHERE condition: open debit `t` is owed a reminder on the business day $3 (a reminder point has
# come that it was not reminded for since): `bot.reminders.reminder_owed`, in SQL. $4 is
# `_latest_offsets`, $5 to $7 the policy's days_before_due, escalate_from and escalate_every, $2
# the business zone.
_OWED = """t.amount > t.cleared_amount
    AND (t.reminder_queued_at IS NULL
         OR (t.reminder_queued_at AT TIME ZONE $2)::date < t.due_date + (
             CASE WHEN $3::date - t.due_date >= $6::int
                  THEN $6::int + ($3::date - t.due_date - $6::int) / $7::int * $7::int
                  ELSE ($4::int[])[$3::date - t.due_date + $5::int + 1] END))
    AND (CASE WHEN $3::date - t.due_date >= $6::int THEN 0
              ELSE ($4::int[])[$3::date - t.due_date + $5::int + 1] END) IS NOT NULL"""


async def get_reminder_targets(
    conn: Conn,
    *,
    horizon: date,
    tz: tzinfo,
    today: date,
    policy: ReminderPolicy = REMINDER_POLICY,
) -> list[ReminderTarget]:
    """Retailers (not opted out) owed a reminder `today` (`bot.reminders.reminder_owed`), with
    all their open debits due on or before `horizon` (what the message lists).

    Only retailers with a debit owed a reminder are read whole: the sweep reads the open debits
    due by the horizon through `credit_transactions_reminder_idx` (their index alone) and costs
    in proportion to what is due, not to every open debit."""
    rows = await conn.fetch(
        f"""SELECT r.id AS retailer_id, r.phone, r.name, r.language,
                  t.id AS transaction_id, t.order_id, t.amount - t.cleared_amount AS unpaid,
                  t.due_date, (t.reminder_queued_at AT TIME ZONE $2)::date AS last_reminded_on,
                  t.reason, t.notes
           FROM credit_transactions t JOIN retailers r ON r.id = t.retailer_id
           WHERE {open_debit("t")}
             AND t.due_date IS NOT NULL AND t.due_date <= $1 AND NOT r.opted_out
             AND t.retailer_id IN (SELECT t.retailer_id FROM credit_transactions t
                                   WHERE {open_debit("t")} AND t.due_date <= $1 AND {_OWED})
           ORDER BY r.id, t.due_date, t.id""",
        horizon,
        str(tz),
        today,
        _latest_offsets(policy),
        policy.days_before_due,
        policy.escalate_from,
        policy.escalate_every,
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
    conn: Conn,
    *,
    since: datetime,
    tz: tzinfo,
    until: datetime | None = None,
    retailers: tuple[int, int] | None = None,
) -> dict[int, list[OrderSummary]]:
    """Retailers' non-failed, non-cancelled orders placed from `since` (before `until`), with
    their lines: every retailer's, or those with ids in the range `retailers` (first, last), which
    the orders' (retailer_id, created_at) index reads alone."""
    conditions = ["o.created_at >= $1", "o.status NOT IN ('FAILED', 'CANCELLED')"]
    args: list[object] = [since, str(tz)]
    if until is not None:
        args.append(until)
        conditions.append(f"o.created_at < ${len(args)}")
    if retailers is not None:
        args.extend(retailers)
        conditions.append(f"o.retailer_id BETWEEN ${len(args) - 1} AND ${len(args)}")
    # One row per order, its lines as arrays: a fifth of the rows to decode and no regrouping.
    rows = await conn.fetch(
        f"""SELECT o.id, o.retailer_id, (o.created_at AT TIME ZONE $2)::date AS placed_on,
                   o.total, o.payment_mode, array_agg(i.product_id ORDER BY i.id) AS products,
                   array_agg(i.name ORDER BY i.id) AS names,
                   array_agg(i.quantity ORDER BY i.id) AS quantities,
                   array_agg(i.line_total ORDER BY i.id) AS line_totals
            FROM orders o JOIN order_items i ON i.order_id = o.id
            WHERE {" AND ".join(conditions)}
            GROUP BY o.id
            ORDER BY o.retailer_id, o.id""",
        *args,
    )
    out: dict[int, list[OrderSummary]] = {}
    for r in rows:
        lines = tuple(
            map(OrderLineSummary, r["products"], r["names"], r["quantities"], r["line_totals"])
        )
        out.setdefault(r["retailer_id"], []).append(
            OrderSummary(r["id"], r["placed_on"], r["total"], r["payment_mode"], lines)
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


async def get_retailer_id_batch(conn: Conn, *, after: int, limit: int) -> list[int]:
    """The next `limit` retailer ids after `after`, in order (a keyset page)."""
    rows = await conn.fetch(
        "SELECT id FROM retailers WHERE id > $1 ORDER BY id LIMIT $2", after, limit
    )
    return [r["id"] for r in rows]


async def upsert_insights_batch(
    conn: Conn, rows: list[tuple[int, dict[str, object]]], as_of: date, now: datetime
) -> int:
    """`upsert_insights` for many retailers in one statement; how many were written (a retailer
    with newer insights stored keeps them)."""
    written: int = await conn.fetchval(
        """WITH written AS (
               INSERT INTO retailer_insights (retailer_id, as_of, data, generated_at)
               SELECT u.retailer_id, $3, u.data::jsonb, $4
               FROM unnest($1::bigint[], $2::text[]) AS u (retailer_id, data)
               ON CONFLICT (retailer_id) DO UPDATE
               SET as_of = EXCLUDED.as_of, data = EXCLUDED.data,
                   generated_at = EXCLUDED.generated_at
               WHERE retailer_insights.as_of <= EXCLUDED.as_of
               RETURNING 1)
           SELECT count(*) FROM written""",
        [rid for rid, _ in rows],
        [json.dumps(data) for _, data in rows],
        as_of,
        now,
    )
    return written


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


async def get_latest_slots(conn: Conn, *, as_of: date) -> dict[str, datetime]:
    """Each job's latest recorded run as of the business day `as_of` (its `scheduled_for`: the
    cron slot, or the moment a person asked), started whether or not it finished: a run that was
    interrupted is still queued in arq and retried there, not caught up a second time."""
    rows = await conn.fetch(
        """SELECT job, max(scheduled_for) AS slot FROM job_runs WHERE as_of = $1 GROUP BY job""",
        as_of,
    )
    return {r["job"]: r["slot"] for r in rows}


@dataclass(frozen=True)
class JobRun:
    job: str
    scheduled_for: datetime
    as_of: date
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    error: str | None
    attempts: int


async def get_last_runs(conn: Conn) -> dict[str, JobRun]:
    """Each job's most recently started run."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (job) job, scheduled_for, as_of, started_at, finished_at, counts,
                  error, attempts
           FROM job_runs ORDER BY job, started_at DESC, id DESC"""
    )
    return {
        r["job"]: JobRun(
            job=r["job"],
            scheduled_for=r["scheduled_for"],
            as_of=r["as_of"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            counts=dict(r["counts"] or {}),
            error=r["error"],
            attempts=r["attempts"],
        )
        for r in rows
    }
