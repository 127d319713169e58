"""Read-only credit views: the risk dashboard, the at-risk list, a retailer's credit profile.

They read the running totals in `credit_accounts` and the open-debit index (migration 0002), never
the whole ledger, so they stay fast with a million transactions.

Each view is one SQL statement, so it reads one snapshot of the database whatever transaction the
caller has (none, the webhook's READ COMMITTED one, a REPEATABLE READ one): a payment that commits
while a view is read is either wholly in it or wholly out of it, and its figures agree with each
other (open debits sum to outstanding, buckets to the total). A view split into several statements
would see a new moment at each statement under READ COMMITTED. Parts that are lists (a profile's
debits, payments, orders) come back as arrays of rows in that one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.credit import (
    BUCKETS,
    HIGH_UTILISATION_PERCENT,
    REPEATED_REMINDERS,
    SYSTEM,
    Bucket,
    BucketTotal,
    CreditStatus,
    RiskFacts,
    RiskReason,
    days_past_due,
    risk_reasons,
    utilisation_percent,
)
from db.aging import AGING_SELECT, FRESH, STALE
from db.audit import AuditEntry
from db.fragments import live_override, open_debit
from db.pool import Conn

# --- risk dashboard -------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskDashboard:
    as_of: date
    buckets: dict[Bucket, BucketTotal]
    total_outstanding: int
    total_limit: int
    available: int  # sum of each account's max(0, limit - outstanding + advance)
    utilisation: float  # percent of the total limit
    status_counts: dict[CreditStatus, int]
    retailers: int
    # Advances are money held for retailers, not owed by them: apart from the buckets.
    advances: BucketTotal
    paused_by_system: int  # of the PAUSED count: the overdue rule's pauses
    overrides: int  # accounts whose overdue rule an operator holds off today


_BUCKET_COLUMNS = {
    Bucket.CURRENT: "aged_current",
    Bucket.D1_30: "aged_1_30",
    Bucket.D31_60: "aged_31_60",
    Bucket.D61_90: "aged_61_90",
    Bucket.D90_PLUS: "aged_90_plus",
}

_DASHBOARD = f"""
    WITH accounts AS (
        SELECT ca.*, coalesce({FRESH}, false) AS fresh
        FROM credit_accounts ca
    ),
    stored AS (
        SELECT count(*) AS retailers,
               coalesce(sum(credit_limit), 0)::bigint AS total_limit,
               coalesce(sum(outstanding), 0)::bigint AS total_outstanding,
               coalesce(sum(greatest(0, credit_limit - outstanding + advance)), 0)::bigint
                   AS available,
               coalesce(sum(advance), 0)::bigint AS advances,
               count(*) FILTER (WHERE advance > 0) AS n_advances,
               count(*) FILTER (WHERE overdue_override_until >= $1::date) AS overrides,
               {
    ", ".join(
        f"coalesce(sum({c}) FILTER (WHERE fresh), 0)::bigint AS {c}, "
        f"count(*) FILTER (WHERE fresh AND {c} > 0) AS n_{c}"
        for c in _BUCKET_COLUMNS.values()
    )
}
        FROM accounts
    ),
    -- accounts whose stored aging does not hold for $1 (few, found by their indexes), aged here
    live AS (
        SELECT {
    ", ".join(
        f"coalesce(sum({c}), 0)::bigint AS {c}, count(*) FILTER (WHERE {c} > 0) AS n_{c}"
        for c in _BUCKET_COLUMNS.values()
    )
}
        FROM ({AGING_SELECT.format(where=STALE)}) live
    )
    SELECT stored.retailers, stored.total_limit, stored.total_outstanding, stored.available,
           stored.advances, stored.n_advances, stored.overrides,
           {
    ", ".join(
        f"stored.{c} + live.{c} AS {c}, stored.n_{c} + live.n_{c} AS n_{c}"
        for c in _BUCKET_COLUMNS.values()
    )
},
           ARRAY(SELECT ROW(credit_status, count(*)) FROM retailers GROUP BY credit_status)
               AS status_counts,
           (SELECT count(*) FROM retailers
            WHERE credit_status = 'PAUSED' AND paused_by = '{SYSTEM}') AS paused_by_system
    FROM stored, live
"""


async def get_risk_dashboard(conn: Conn, today: date) -> RiskDashboard:
    """Aging of every open debit's unpaid part by days past due, with totals and status counts.

    Reads the per-account aging kept on `credit_accounts`; accounts not yet aged for `today` are
    aged from their open debits in the same statement, so the answer is exact either way and the
    buckets sum to the total outstanding to the paisa. One statement: one snapshot.
    """
    row = await conn.fetchrow(_DASHBOARD, today)
    assert row is not None
    status_counts = dict.fromkeys(CreditStatus, 0)
    for status, n in row["status_counts"]:
        status_counts[CreditStatus(status)] = n
    return RiskDashboard(
        as_of=today,
        buckets={
            b: BucketTotal(row[_BUCKET_COLUMNS[b]], row[f"n_{_BUCKET_COLUMNS[b]}"]) for b in BUCKETS
        },
        total_outstanding=row["total_outstanding"],
        total_limit=row["total_limit"],
        available=row["available"],
        utilisation=utilisation_percent(row["total_outstanding"], row["total_limit"]),
        status_counts=status_counts,
        retailers=row["retailers"],
        advances=BucketTotal(row["advances"], row["n_advances"]),
        paused_by_system=row["paused_by_system"],
        overrides=row["overrides"],
    )


# --- at-risk --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AtRiskRetailer:
    retailer_id: int
    phone: str
    name: str
    shop_name: str
    credit_limit: int
    outstanding: int
    utilisation: float
    overdue_amount: int
    max_days_past_due: int
    max_reminders: int
    reasons: tuple[RiskReason, ...]
    override_until: date | None = None  # an operator holds the overdue rule off until then


@dataclass(frozen=True)
class AtRiskList:
    total: int  # how many retailers are at risk (the list may be cut at `limit`)
    retailers: tuple[AtRiskRetailer, ...]


_FRESH_AGING = f"""
    SELECT retailer_id, credit_limit, outstanding,
           aged_1_30 + aged_31_60 + aged_61_90 + aged_90_plus AS overdue,
           oldest_due_date, beyond_unpaid
    FROM credit_accounts ca
    WHERE {FRESH}
"""

_LIVE_AGING = f"""
    SELECT retailer_id, credit_limit, outstanding,
           aged_1_30 + aged_31_60 + aged_61_90 + aged_90_plus AS overdue,
           oldest_due_date, beyond_unpaid
    FROM ({AGING_SELECT.format(where=STALE)}) live
"""

# The one reminder figure shown for a retailer, `maxReminders` in the at-risk list and the
# profile alike: the most reminders counted on any of its open debits. `{retailer}` is the column
# holding the retailer's id.
MAX_REMINDERS_SQL = f"""
    (SELECT coalesce(max(t.reminder_count), 0) FROM credit_transactions t
     WHERE t.retailer_id = {{retailer}} AND {open_debit("t")})
"""

_RANK = "about_to_pause DESC, max_dpd DESC, overdue_amount DESC, permille DESC, retailer_id"

_AT_RISK = """
    WITH aging AS ({aging}),
    -- who was reminded repeatedly (from credit_transactions_reminded_idx); the figure itself
    -- is read for the retailers listed
    reminded AS (
        SELECT DISTINCT retailer_id
        FROM credit_transactions
        WHERE {open_debit} AND reminder_count >= {reminders}
    ),
    -- live overrides of the overdue rule (few, found by credit_accounts_override_idx)
    overrides AS (
        SELECT retailer_id, overdue_override_until AS until FROM credit_accounts
        WHERE overdue_override_until >= $1::date
    ),
    facts AS MATERIALIZED (
        SELECT * FROM (
            SELECT a.retailer_id, a.credit_limit, a.outstanding, a.overdue AS overdue_amount,
                   greatest(0, $1::date - a.oldest_due_date) AS max_dpd,
                   a.beyond_unpaid AS beyond,
                   m.retailer_id IS NOT NULL AS reminded_repeatedly,
                   ov.until AS override_until,
                   (a.beyond_unpaid > 0 AND a.beyond_unpaid >= $2 AND ov.until IS NULL)
                       AS about_to_pause,
                   CASE WHEN a.credit_limit > 0 THEN a.outstanding * 1000 / a.credit_limit
                        ELSE {no_limit} END AS permille
            FROM aging a
            LEFT JOIN reminded m ON m.retailer_id = a.retailer_id
            LEFT JOIN overrides ov ON ov.retailer_id = a.retailer_id
            -- paused and blocked retailers are few: a hashed NOT IN leaves them out
            WHERE a.retailer_id NOT IN (SELECT id FROM retailers WHERE credit_status <> 'ACTIVE')
        ) f
        WHERE overdue_amount > 0 OR about_to_pause OR reminded_repeatedly
           OR outstanding * 100 >= credit_limit * {high}
    ),
    top AS (SELECT * FROM facts ORDER BY {rank} LIMIT $3)
    SELECT top.*, r.phone, r.name, r.shop_name, r.credit_status,
           {max_reminders} AS max_reminders,
           (SELECT count(*) FROM facts) AS total
    FROM top JOIN retailers r ON r.id = top.retailer_id
    ORDER BY {rank}
"""


# Accounts aged for the day read their stored figures; the rest (few after the daily refresh,
# found by credit_accounts_aging_idx) are aged here, in the same statement.
_AT_RISK_SQL = _AT_RISK.format(
    aging=_FRESH_AGING + " UNION ALL " + _LIVE_AGING,
    open_debit=open_debit(),
    no_limit=2**62,
    reminders=REPEATED_REMINDERS,
    high=HIGH_UTILISATION_PERCENT,
    rank=_RANK,
    max_reminders=MAX_REMINDERS_SQL.format(retailer="top.retailer_id"),
)


async def get_at_risk(conn: Conn, today: date, *, tolerance: int, limit: int = 100) -> AtRiskList:
    """ACTIVE retailers that are overdue, at >= 80% of their limit or reminded repeatedly, most
    at risk first (`bot.credit.risk_rank_key`: about to be paused, then days past due, overdue
    amount, utilisation), each with its reasons (`bot.credit.risk_reasons`). One statement: one
    snapshot."""
    rows = await conn.fetch(_AT_RISK_SQL, today, tolerance, limit)
    items = []
    for r in rows:
        facts = RiskFacts(
            retailer_id=r["retailer_id"],
            status=CreditStatus(r["credit_status"]),
            credit_limit=r["credit_limit"],
            outstanding=r["outstanding"],
            overdue_amount=r["overdue_amount"],
            max_days_past_due=r["max_dpd"],
            beyond_limit_unpaid=r["beyond"],
            max_reminders=r["max_reminders"],
            override_until=r["override_until"],
        )
        items.append(
            AtRiskRetailer(
                retailer_id=r["retailer_id"],
                phone=r["phone"],
                name=r["name"],
                shop_name=r["shop_name"],
                credit_limit=r["credit_limit"],
                outstanding=r["outstanding"],
                utilisation=utilisation_percent(r["outstanding"], r["credit_limit"]),
                overdue_amount=r["overdue_amount"],
                max_days_past_due=r["max_dpd"],
                max_reminders=r["max_reminders"],
                reasons=risk_reasons(facts, tolerance),
                override_until=r["override_until"],
            )
        )
    total = rows[0]["total"] if rows else 0
    return AtRiskList(total=total, retailers=tuple(items))


# --- profile --------------------------------------------------------------------------------

PROFILE_LIST_LIMIT = 10
PROFILE_DEBITS_LIMIT = 100


@dataclass(frozen=True)
class OpenDebitView:
    transaction_id: int
    order_id: int | None
    type: str  # DEBIT or ADJUSTMENT
    amount: int
    outstanding: int  # unpaid part
    txn_date: date
    due_date: date
    days_overdue: int
    reminder_count: int
    reminder_sent_at: datetime | None
    details: str | None = None  # an adjustment's reason and notes ("damaged: 2 bags torn")


@dataclass(frozen=True)
class PaymentView:
    transaction_id: int
    amount: int
    reference: str | None
    performed_by: str
    created_at: datetime
    source: str = "operator"  # gateway | bank | operator (the SQL function payment_source)


@dataclass(frozen=True)
class OrderView:
    order_id: int
    total: int
    payment_mode: str
    status: str
    due_date: date | None
    created_at: datetime
    failed_at: datetime | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class ReminderView:
    outbox_id: int
    status: str
    created_at: datetime


@dataclass(frozen=True)
class CreditProfile:
    retailer_id: int
    phone: str
    name: str
    shop_name: str
    language: str
    opted_out: bool
    status: CreditStatus
    status_reason: str | None
    paused_by: str | None
    paused_at: datetime | None
    credit_limit: int
    outstanding: int
    available: int  # limit - outstanding + advance, whatever the status
    utilisation: float
    max_order_value: int
    max_outstanding_days: int
    payment_terms_days: int
    overdue_amount: int  # unpaid past due
    beyond_limit_amount: int  # unpaid on debits older than max_outstanding_days
    open_debit_count: int
    open_debits: tuple[OpenDebitView, ...]
    recent_payments: tuple[PaymentView, ...]
    recent_orders: tuple[OrderView, ...]
    reminders_sent: int  # reminders counted on open debits
    max_reminders: int  # the most on one open debit (MAX_REMINDERS_SQL), as the at-risk list
    last_reminder_at: datetime | None
    recent_reminders: tuple[ReminderView, ...]
    recent_audit: tuple[AuditEntry, ...]
    advance: int = 0  # paise held for the retailer, paid into their next debits
    override_until: date | None = None  # the live override of the overdue rule's last day

    @property
    def blocked_reason(self) -> str | None:
        return self.status_reason if self.status == CreditStatus.BLOCKED else None


# One statement (one snapshot): the account, then each list as an array of rows, each ROW in its
# view's field order (PaymentView, OrderView, ReminderView, AuditEntry). Audit values are read as
# `json`: a `jsonb` inside a row comes in binary, with a version byte the pool's text codec does
# not expect.
_PROFILE = """
    SELECT r.id, r.phone, r.name, r.shop_name, r.language, r.opted_out, r.credit_status,
           r.credit_pause_reason, r.paused_by, r.credit_paused_at,
           ca.credit_limit, ca.outstanding, ca.max_order_value, ca.max_outstanding_days,
           ca.payment_terms_days, {max_reminders} AS max_reminders, ca.advance,
           {override} AS override_until,
           ARRAY(SELECT ROW(t.id, t.order_id, t.type, t.amount, t.amount - t.cleared_amount,
                            t.txn_date, t.due_date, t.reminder_count, t.reminder_sent_at,
                            CASE WHEN t.type = 'ADJUSTMENT'
                                 THEN concat_ws(': ', t.reason, nullif(t.notes, '')) END)
                 FROM credit_transactions t
                 WHERE t.retailer_id = r.id AND {open_debit}
                 ORDER BY t.due_date, t.id) AS debits,
           ARRAY(SELECT ROW(t.id, t.amount, t.reference, t.performed_by, t.created_at,
                            payment_source(t.id))
                 FROM credit_transactions t
                 WHERE t.retailer_id = r.id AND t.type = 'PAYMENT'
                 ORDER BY t.created_at DESC, t.id DESC LIMIT $2) AS payments,
           ARRAY(SELECT ROW(o.id, o.total, o.payment_mode, o.status, o.due_date, o.created_at,
                            o.failed_at, o.failure_reason)
                 FROM orders o WHERE o.retailer_id = r.id
                 ORDER BY o.created_at DESC, o.id DESC LIMIT $2) AS orders,
           ARRAY(SELECT ROW(m.id, m.status, m.created_at)
                 FROM outbox_messages m
                 WHERE m.retailer_id = r.id AND m.kind = 'payment_reminder'
                 ORDER BY m.created_at DESC, m.id DESC LIMIT $2) AS reminders,
           -- newest first in write order, as `db.audit.get_audit` lists them
           ARRAY(SELECT ROW(a.id, a.retailer_id, a.action, a.reference, a.old_value::json,
                            a.new_value::json, a.performed_by, a.reason, a.created_at)
                 FROM audit_log a WHERE a.retailer_id = r.id
                 ORDER BY a.id DESC LIMIT $2) AS audit
    FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
    WHERE r.id = $1
""".format(
    max_reminders=MAX_REMINDERS_SQL.format(retailer="r.id"),
    open_debit=open_debit("t"),
    override=live_override("$3"),
)


async def get_credit_profile(conn: Conn, retailer_id: int, today: date) -> CreditProfile | None:
    """Everything staff want to see about one retailer's credit; None for an unknown retailer.

    One statement: one snapshot, so the open debits always sum to the outstanding shown.
    """
    head = await conn.fetchrow(_PROFILE, retailer_id, PROFILE_LIST_LIMIT, today)
    if head is None:
        return None
    cutoff = date.fromordinal(today.toordinal() - head["max_outstanding_days"])
    debits = [
        OpenDebitView(
            transaction_id=tid,
            order_id=order_id,
            type=kind,
            amount=amount,
            outstanding=unpaid,
            txn_date=txn_date,
            due_date=due_date,
            days_overdue=days_past_due(due_date, today),
            reminder_count=reminders,
            reminder_sent_at=sent_at,
            details=details,
        )
        for (
            tid, order_id, kind, amount, unpaid, txn_date, due_date, reminders, sent_at, details,
        ) in head["debits"]
    ]  # fmt: skip
    sent_times = [d.reminder_sent_at for d in debits if d.reminder_sent_at is not None]
    outstanding = head["outstanding"]
    return CreditProfile(
        retailer_id=head["id"],
        phone=head["phone"],
        name=head["name"],
        shop_name=head["shop_name"],
        language=head["language"],
        opted_out=head["opted_out"],
        status=CreditStatus(head["credit_status"]),
        status_reason=head["credit_pause_reason"],
        paused_by=head["paused_by"],
        paused_at=head["credit_paused_at"],
        credit_limit=head["credit_limit"],
        outstanding=outstanding,
        available=max(0, head["credit_limit"] - outstanding + head["advance"]),
        utilisation=utilisation_percent(outstanding, head["credit_limit"]),
        max_order_value=head["max_order_value"],
        max_outstanding_days=head["max_outstanding_days"],
        payment_terms_days=head["payment_terms_days"],
        overdue_amount=sum(d.outstanding for d in debits if d.days_overdue > 0),
        beyond_limit_amount=sum(d.outstanding for d in debits if d.txn_date < cutoff),
        open_debit_count=len(debits),
        open_debits=tuple(debits[:PROFILE_DEBITS_LIMIT]),
        recent_payments=tuple(PaymentView(*p) for p in head["payments"]),
        recent_orders=tuple(OrderView(*o) for o in head["orders"]),
        reminders_sent=sum(d.reminder_count for d in debits),
        max_reminders=head["max_reminders"],
        last_reminder_at=max(sent_times) if sent_times else None,
        recent_reminders=tuple(ReminderView(*m) for m in head["reminders"]),
        recent_audit=tuple(AuditEntry(*e) for e in head["audit"]),
        advance=head["advance"],
        override_until=head["override_until"],
    )


def _order_view(r: Any) -> OrderView:
    return OrderView(
        order_id=r["id"],
        total=r["total"],
        payment_mode=r["payment_mode"],
        status=r["status"],
        due_date=r["due_date"],
        created_at=r["created_at"],
        failed_at=r["failed_at"],
        failure_reason=r["failure_reason"],
    )


async def get_failed_orders(conn: Conn, retailer_id: int, limit: int = 100) -> list[OrderView]:
    """A retailer's failed orders, latest failure first."""
    rows = await conn.fetch(
        """SELECT id, total, payment_mode, status, due_date, created_at, failed_at,
                  failure_reason
           FROM orders WHERE retailer_id = $1 AND status = 'FAILED'
           ORDER BY failed_at DESC, id DESC LIMIT $2""",
        retailer_id,
        limit,
    )
    return [_order_view(r) for r in rows]
