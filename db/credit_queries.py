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
    Bucket,
    BucketTotal,
    CreditStatus,
    RiskFacts,
    RiskReason,
    days_past_due,
    risk_rank_key,
    risk_reasons,
    utilisation_percent,
)
from db.audit import AuditEntry, get_audit
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


async def get_risk_dashboard(conn: Conn, today: date) -> RiskDashboard:
    """Aging of every open debit's unpaid part by days past due, with totals and status counts.

    The buckets sum to the total outstanding to the paisa (the running totals are kept equal to
    the open debits by every ledger operation).
    """
    bucket_rows = await conn.fetch(
        """SELECT bucket, sum(unpaid)::bigint AS amount, count(*) AS retailers
           FROM (SELECT t.retailer_id,
                        CASE WHEN t.due_date >= $1 THEN 'current'
                             WHEN t.due_date >= $1::date - 30 THEN '1_30'
                             WHEN t.due_date >= $1::date - 60 THEN '31_60'
                             WHEN t.due_date >= $1::date - 90 THEN '61_90'
                             ELSE '90_plus' END AS bucket,
                        sum(t.amount - t.cleared_amount) AS unpaid
                 FROM credit_transactions t
                 WHERE t.status IN ('OPEN', 'PARTIAL') AND t.direction = 'DEBIT'
                 GROUP BY 1, 2) per_retailer
           GROUP BY bucket""",
        today,
    )
    buckets = {b: BucketTotal(0, 0) for b in BUCKETS}
    for r in bucket_rows:
        buckets[Bucket(r["bucket"])] = BucketTotal(r["amount"], r["retailers"])
    totals = await conn.fetchrow(
        """SELECT count(*) AS retailers,
                  coalesce(sum(credit_limit), 0)::bigint AS total_limit,
                  coalesce(sum(outstanding), 0)::bigint AS total_outstanding,
                  coalesce(sum(greatest(0, credit_limit - outstanding)), 0)::bigint AS available
           FROM credit_accounts"""
    )
    assert totals is not None
    status_rows = await conn.fetch(
        "SELECT credit_status, count(*) AS n FROM retailers GROUP BY credit_status"
    )
    status_counts = dict.fromkeys(CreditStatus, 0)
    for r in status_rows:
        status_counts[CreditStatus(r["credit_status"])] = r["n"]
    return RiskDashboard(
        as_of=today,
        buckets=buckets,
        total_outstanding=totals["total_outstanding"],
        total_limit=totals["total_limit"],
        available=totals["available"],
        utilisation=utilisation_percent(totals["total_outstanding"], totals["total_limit"]),
        status_counts=status_counts,
        retailers=totals["retailers"],
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


async def get_at_risk(conn: Conn, today: date, *, tolerance: int, limit: int = 100) -> AtRiskList:
    """ACTIVE retailers that are overdue, at >= 80% of their limit or reminded repeatedly, most
    at risk first (about to be paused, then most days past due), each with its reasons."""
    rows = await conn.fetch(
        """WITH d AS (
               SELECT t.retailer_id,
                      coalesce(sum(t.amount - t.cleared_amount)
                               FILTER (WHERE t.due_date < $1), 0)::bigint AS overdue_amount,
                      greatest(0, $1::date - min(t.due_date)) AS max_dpd,
                      coalesce(sum(t.amount - t.cleared_amount)
                               FILTER (WHERE t.txn_date < $1::date - ca.max_outstanding_days),
                               0)::bigint AS beyond,
                      max(t.reminder_count) AS max_reminders
               FROM credit_transactions t
               JOIN credit_accounts ca ON ca.retailer_id = t.retailer_id
               WHERE t.status IN ('OPEN', 'PARTIAL') AND t.direction = 'DEBIT'
               GROUP BY t.retailer_id
           )
           SELECT r.id, r.phone, r.name, r.shop_name, r.credit_status, ca.credit_limit,
                  ca.outstanding, d.overdue_amount, d.max_dpd, d.beyond, d.max_reminders
           FROM d
           JOIN retailers r ON r.id = d.retailer_id
           JOIN credit_accounts ca ON ca.retailer_id = d.retailer_id
           WHERE r.credit_status = 'ACTIVE' AND ca.outstanding > 0
             AND (d.overdue_amount > 0 OR ca.outstanding * 100 >= ca.credit_limit * 80
                  OR d.max_reminders >= 2)""",
        today,
    )
    ranked: list[tuple[tuple[int, int, int, int], AtRiskRetailer]] = []
    for r in rows:
        facts = RiskFacts(
            retailer_id=r["id"],
            status=CreditStatus(r["credit_status"]),
            credit_limit=r["credit_limit"],
            outstanding=r["outstanding"],
            overdue_amount=r["overdue_amount"],
            max_days_past_due=r["max_dpd"],
            beyond_limit_unpaid=r["beyond"],
            max_reminders=r["max_reminders"],
        )
        reasons = risk_reasons(facts, tolerance)
        if not reasons:
            continue
        item = AtRiskRetailer(
            retailer_id=r["id"],
            phone=r["phone"],
            name=r["name"],
            shop_name=r["shop_name"],
            credit_limit=r["credit_limit"],
            outstanding=r["outstanding"],
            utilisation=utilisation_percent(r["outstanding"], r["credit_limit"]),
            overdue_amount=r["overdue_amount"],
            max_days_past_due=r["max_dpd"],
            max_reminders=r["max_reminders"],
            reasons=reasons,
        )
        ranked.append((risk_rank_key(facts, reasons), item))
    ranked.sort(key=lambda pair: (pair[0], pair[1].retailer_id))
    return AtRiskList(total=len(ranked), retailers=tuple(item for _, item in ranked[:limit]))


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
        """SELECT id, order_id, type, amount, amount - cleared_amount AS unpaid, txn_date,
                  due_date, reminder_count, reminder_sent_at
           FROM credit_transactions
           WHERE retailer_id = $1 AND status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT'
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
