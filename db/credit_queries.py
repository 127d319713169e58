"""Read-only credit views: the risk dashboard, the at-risk list, a retailer's credit profile.

They read the running totals in `credit_accounts` and the open-debit index (migration 0002), never
the whole ledger, so they stay fast with a million transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.credit import (
    BUCKETS,
    HIGH_UTILISATION_PERCENT,
    REPEATED_REMINDERS,
    Bucket,
    BucketTotal,
    CreditStatus,
    RiskFacts,
    RiskReason,
    days_past_due,
    risk_reasons,
    utilisation_percent,
)
from db.aging import AGING_SELECT, STALE, has_stale_aging
from db.audit import AuditEntry, get_audit
from db.fragments import open_debit
from db.pool import Conn

# --- risk dashboard -------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskDashboard:
    as_of: date
    buckets: dict[Bucket, BucketTotal]
    total_outstanding: int
    total_limit: int
    available: int  # sum of each account's max(0, limit - outstanding)
    utilisation: float  # percent of the total limit
    status_counts: dict[CreditStatus, int]
    retailers: int


_BUCKET_COLUMNS = {
    Bucket.CURRENT: "aged_current",
    Bucket.D1_30: "aged_1_30",
    Bucket.D31_60: "aged_31_60",
    Bucket.D61_90: "aged_61_90",
    Bucket.D90_PLUS: "aged_90_plus",
}

_DASHBOARD_FRESH = f"""
    SELECT count(*) AS retailers,
           coalesce(sum(credit_limit), 0)::bigint AS total_limit,
           coalesce(sum(outstanding), 0)::bigint AS total_outstanding,
           coalesce(sum(greatest(0, credit_limit - outstanding)), 0)::bigint AS available,
           count(*) FILTER (WHERE {STALE}) AS stale,
           {
    ", ".join(
        f"coalesce(sum({c}) FILTER (WHERE fresh), 0)::bigint AS {c}, "
        f"count(*) FILTER (WHERE fresh AND {c} > 0) AS n_{c}"
        for c in _BUCKET_COLUMNS.values()
    )
}
    FROM (SELECT ca.*, ca.outstanding > 0 AND ca.aging_as_of = $1::date AS fresh
          FROM credit_accounts ca) ca
"""

_DASHBOARD_STALE = f"""
    SELECT {
    ", ".join(
        f"coalesce(sum({c}), 0)::bigint AS {c}, count(*) FILTER (WHERE {c} > 0) AS n_{c}"
        for c in _BUCKET_COLUMNS.values()
    )
}
    FROM ({AGING_SELECT.format(where=STALE)}) live
"""


async def get_risk_dashboard(conn: Conn, today: date) -> RiskDashboard:
    """Aging of every open debit's unpaid part by days past due, with totals and status counts.

    Reads the per-account aging kept on `credit_accounts`; accounts not yet aged for `today` are
    aged from their open debits here, so the answer is exact either way and the buckets sum to
    the total outstanding to the paisa.
    """
    row = await conn.fetchrow(_DASHBOARD_FRESH, today)
    assert row is not None
    amounts = {b: row[c] for b, c in _BUCKET_COLUMNS.items()}
    counts = {b: row[f"n_{c}"] for b, c in _BUCKET_COLUMNS.items()}
    if row["stale"]:
        live = await conn.fetchrow(_DASHBOARD_STALE, today)
        assert live is not None
        for b, c in _BUCKET_COLUMNS.items():
            amounts[b] += live[c]
            counts[b] += live[f"n_{c}"]
    status_rows = await conn.fetch(
        "SELECT credit_status, count(*) AS n FROM retailers GROUP BY credit_status"
    )
    status_counts = dict.fromkeys(CreditStatus, 0)
    for r in status_rows:
        status_counts[CreditStatus(r["credit_status"])] = r["n"]
    return RiskDashboard(
        as_of=today,
        buckets={b: BucketTotal(amounts[b], counts[b]) for b in BUCKETS},
        total_outstanding=row["total_outstanding"],
        total_limit=row["total_limit"],
        available=row["available"],
        utilisation=utilisation_percent(row["total_outstanding"], row["total_limit"]),
        status_counts=status_counts,
        retailers=row["retailers"],
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


@dataclass(frozen=True)
class AtRiskList:
    total: int  # how many retailers are at risk (the list may be cut at `limit`)
    retailers: tuple[AtRiskRetailer, ...]


_FRESH_AGING = """
    SELECT retailer_id, credit_limit, outstanding,
           aged_1_30 + aged_31_60 + aged_61_90 + aged_90_plus AS overdue,
           oldest_due_date, beyond_unpaid
    FROM credit_accounts ca
    WHERE ca.outstanding > 0 AND ca.aging_as_of = $1::date
"""

_LIVE_AGING = f"""
    SELECT retailer_id, credit_limit, outstanding,
           aged_1_30 + aged_31_60 + aged_61_90 + aged_90_plus AS overdue,
           oldest_due_date, beyond_unpaid
    FROM ({AGING_SELECT.format(where=STALE)}) live
"""

_RANK = "about_to_pause DESC, max_dpd DESC, overdue_amount DESC, permille DESC, retailer_id"

_AT_RISK = """
    WITH aging AS ({aging}),
    reminded AS (
        SELECT retailer_id, max(reminder_count) AS max_reminders
        FROM credit_transactions
        WHERE {open_debit} AND reminder_count >= 2
        GROUP BY retailer_id
    ),
    facts AS MATERIALIZED (
        SELECT * FROM (
            SELECT a.retailer_id, a.credit_limit, a.outstanding, a.overdue AS overdue_amount,
                   greatest(0, $1::date - a.oldest_due_date) AS max_dpd,
                   a.beyond_unpaid AS beyond,
                   coalesce(m.max_reminders, 0) AS max_reminders,
                   (a.beyond_unpaid > 0 AND a.beyond_unpaid >= $2) AS about_to_pause,
                   CASE WHEN a.credit_limit > 0 THEN a.outstanding * 1000 / a.credit_limit
                        ELSE {no_limit} END AS permille
            FROM aging a
            LEFT JOIN reminded m ON m.retailer_id = a.retailer_id
            -- paused and blocked retailers are few: a hashed NOT IN leaves them out
            WHERE a.retailer_id NOT IN (SELECT id FROM retailers WHERE credit_status <> 'ACTIVE')
        ) f
        WHERE overdue_amount > 0 OR about_to_pause OR max_reminders >= {reminders}
           OR outstanding * 100 >= credit_limit * {high}
    ),
    top AS (SELECT * FROM facts ORDER BY {rank} LIMIT $3)
    SELECT top.*, r.phone, r.name, r.shop_name, r.credit_status,
           (SELECT count(*) FROM facts) AS total
    FROM top JOIN retailers r ON r.id = top.retailer_id
    ORDER BY {rank}
"""


def _at_risk_sql(with_stale: bool) -> str:
    aging = _FRESH_AGING + (" UNION ALL " + _LIVE_AGING if with_stale else "")
    return _AT_RISK.format(
        aging=aging,
        open_debit=open_debit(),
        no_limit=2**62,
        reminders=REPEATED_REMINDERS,
        high=HIGH_UTILISATION_PERCENT,
        rank=_RANK,
    )


_AT_RISK_FRESH = _at_risk_sql(False)
_AT_RISK_ANY = _at_risk_sql(True)


async def get_at_risk(conn: Conn, today: date, *, tolerance: int, limit: int = 100) -> AtRiskList:
    """ACTIVE retailers that are overdue, at >= 80% of their limit or reminded repeatedly, most
    at risk first (`bot.credit.risk_rank_key`: about to be paused, then days past due, overdue
    amount, utilisation), each with its reasons (`bot.credit.risk_reasons`)."""
    sql = _AT_RISK_ANY if await has_stale_aging(conn, today) else _AT_RISK_FRESH
    rows = await conn.fetch(sql, today, tolerance, limit)
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


@dataclass(frozen=True)
class PaymentView:
    transaction_id: int
    amount: int
    reference: str | None
    performed_by: str
    created_at: datetime


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
    available: int
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
    last_reminder_at: datetime | None
    recent_reminders: tuple[ReminderView, ...]
    recent_audit: tuple[AuditEntry, ...]


async def get_credit_profile(conn: Conn, retailer_id: int, today: date) -> CreditProfile | None:
    """Everything staff want to see about one retailer's credit; None for an unknown retailer."""
    head = await conn.fetchrow(
        """SELECT r.id, r.phone, r.name, r.shop_name, r.language, r.opted_out, r.credit_status,
                  r.credit_pause_reason, r.paused_by, r.credit_paused_at,
                  ca.credit_limit, ca.outstanding, ca.max_order_value, ca.max_outstanding_days,
                  ca.payment_terms_days
           FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
           WHERE r.id = $1""",
        retailer_id,
    )
    if head is None:
        return None
    debit_rows = await conn.fetch(
        f"""SELECT id, order_id, type, amount, amount - cleared_amount AS unpaid, txn_date,
                  due_date, reminder_count, reminder_sent_at
           FROM credit_transactions
           WHERE retailer_id = $1 AND {open_debit()}
           ORDER BY due_date, id""",
        retailer_id,
    )
    cutoff = date.fromordinal(today.toordinal() - head["max_outstanding_days"])
    debits = [
        OpenDebitView(
            transaction_id=r["id"],
            order_id=r["order_id"],
            type=r["type"],
            amount=r["amount"],
            outstanding=r["unpaid"],
            txn_date=r["txn_date"],
            due_date=r["due_date"],
            days_overdue=days_past_due(r["due_date"], today),
            reminder_count=r["reminder_count"],
            reminder_sent_at=r["reminder_sent_at"],
        )
        for r in debit_rows
    ]
    payments = await conn.fetch(
        """SELECT id, amount, reference, performed_by, created_at FROM credit_transactions
           WHERE retailer_id = $1 AND type = 'PAYMENT'
           ORDER BY created_at DESC, id DESC LIMIT $2""",
        retailer_id,
        PROFILE_LIST_LIMIT,
    )
    orders = await conn.fetch(
        """SELECT id, total, payment_mode, status, due_date, created_at, failed_at,
                  failure_reason
           FROM orders WHERE retailer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2""",
        retailer_id,
        PROFILE_LIST_LIMIT,
    )
    reminders = await conn.fetch(
        """SELECT id, status, created_at FROM outbox_messages
           WHERE retailer_id = $1 AND kind = 'payment_reminder'
           ORDER BY created_at DESC, id DESC LIMIT $2""",
        retailer_id,
        PROFILE_LIST_LIMIT,
    )
    audit = await get_audit(conn, retailer_id=retailer_id, limit=PROFILE_LIST_LIMIT)
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
        available=max(0, head["credit_limit"] - outstanding),
        utilisation=utilisation_percent(outstanding, head["credit_limit"]),
        max_order_value=head["max_order_value"],
        max_outstanding_days=head["max_outstanding_days"],
        payment_terms_days=head["payment_terms_days"],
        overdue_amount=sum(d.outstanding for d in debits if d.days_overdue > 0),
        beyond_limit_amount=sum(d.outstanding for d in debits if d.txn_date < cutoff),
        open_debit_count=len(debits),
        open_debits=tuple(debits[:PROFILE_DEBITS_LIMIT]),
        recent_payments=tuple(
            PaymentView(
                transaction_id=r["id"],
                amount=r["amount"],
                reference=r["reference"],
                performed_by=r["performed_by"],
                created_at=r["created_at"],
            )
            for r in payments
        ),
        recent_orders=tuple(_order_view(r) for r in orders),
        reminders_sent=sum(d.reminder_count for d in debits),
        last_reminder_at=max(sent_times) if sent_times else None,
        recent_reminders=tuple(
            ReminderView(outbox_id=r["id"], status=r["status"], created_at=r["created_at"])
            for r in reminders
        ),
        recent_audit=tuple(audit),
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
