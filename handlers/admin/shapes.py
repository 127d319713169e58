"""The admin API's JSON shapes (docs/admin-api.md): camelCase keys, amounts as rupee strings.

One function per answer, from the frozen dataclass the `db` query or ledger operation returned.
Key order is the order written here, and clients see it (a replayed answer keeps it too).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.credit import Verdict
from bot.money import rupees_json
from db import credit_queries as q
from db import ledger
from db.audit import AuditEntry


def ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def job_counts_json(counts: dict[str, int]) -> dict[str, Any]:
    """A job's counts as the API speaks: a counter named `<what>_paise` is an amount, shown as
    `<what>` in rupees like every other amount; the rest are plain counts."""
    return {
        k.removesuffix("_paise"): rupees_json(v) if k.endswith("_paise") else v
        for k, v in counts.items()
    }


def verdict_json(v: Verdict) -> dict[str, Any]:
    return {
        "allowed": v.allowed,
        "code": v.code,
        "message": v.message,
        "availableCredit": rupees_json(v.available),
    }


def audit_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "retailerId": e.retailer_id,
        "action": e.action,
        "reference": e.reference,
        "oldValue": e.old_value,
        "newValue": e.new_value,
        "performedBy": e.performed_by,
        "reason": e.reason,
        "createdAt": ts(e.created_at),
    }


def order_json(o: q.OrderView) -> dict[str, Any]:
    return {
        "id": o.order_id,
        "total": rupees_json(o.total),
        "paymentMode": o.payment_mode,
        "status": o.status,
        "dueDate": day(o.due_date),
        "createdAt": ts(o.created_at),
        "failedAt": ts(o.failed_at),
        "failureReason": o.failure_reason,
    }


def allocations_json(allocations: tuple[ledger.Allocation, ...]) -> list[dict[str, Any]]:
    return [
        {"transactionId": a.transaction_id, "amount": rupees_json(a.amount)} for a in allocations
    ]


def status_json(change: ledger.StatusChange) -> dict[str, Any]:
    return {
        "retailerId": change.retailer_id,
        "creditStatus": change.status.value,
        "previousStatus": change.previous_status.value,
        "reason": change.reason,
        "pausedBy": change.paused_by,
        "overrideUntil": day(change.override_until),
        "performedBy": change.performed_by,
        "auditId": change.audit_id,
        "changedAt": ts(change.changed_at),
    }


def dashboard_json(d: q.RiskDashboard) -> dict[str, Any]:
    return {
        "asOf": d.as_of.isoformat(),
        "buckets": {
            b.value: {"amount": rupees_json(t.amount), "retailers": t.retailers}
            for b, t in d.buckets.items()
        },
        "totalOutstanding": rupees_json(d.total_outstanding),
        "totalLimit": rupees_json(d.total_limit),
        "available": rupees_json(d.available),
        "utilisation": d.utilisation,
        "statusCounts": {s.value: n for s, n in d.status_counts.items()},
        "pausedBySystem": d.paused_by_system,
        "overrides": d.overrides,
        "advances": {"amount": rupees_json(d.advances.amount), "retailers": d.advances.retailers},
        "retailers": d.retailers,
    }


def at_risk_json(result: q.AtRiskList) -> dict[str, Any]:
    return {
        "total": result.total,
        "retailers": [
            {
                "retailerId": r.retailer_id,
                "phone": r.phone,
                "name": r.name,
                "shopName": r.shop_name,
                "creditLimit": rupees_json(r.credit_limit),
                "outstanding": rupees_json(r.outstanding),
                "utilisation": r.utilisation,
                "overdueAmount": rupees_json(r.overdue_amount),
                "maxDaysPastDue": r.max_days_past_due,
                "maxReminders": r.max_reminders,
                "reasons": [reason.value for reason in r.reasons],
                "overrideUntil": day(r.override_until),
            }
            for r in result.retailers
        ],
    }


def profile_json(p: q.CreditProfile) -> dict[str, Any]:
    return {
        "retailerId": p.retailer_id,
        "phone": p.phone,
        "name": p.name,
        "shopName": p.shop_name,
        "language": p.language,
        "optedOut": p.opted_out,
        "creditStatus": p.status.value,
        "statusReason": p.status_reason,
        "pausedBy": p.paused_by,
        "pausedAt": ts(p.paused_at),
        "blockedReason": p.blocked_reason,
        "overrideUntil": day(p.override_until),
        "creditLimit": rupees_json(p.credit_limit),
        "outstanding": rupees_json(p.outstanding),
        "advance": rupees_json(p.advance),
        "available": rupees_json(p.available),
        "utilisation": p.utilisation,
        "maxOrderValue": rupees_json(p.max_order_value),
        "maxOutstandingDays": p.max_outstanding_days,
        "paymentTermsDays": p.payment_terms_days,
        "overdueAmount": rupees_json(p.overdue_amount),
        "overdueBeyondLimit": rupees_json(p.beyond_limit_amount),
        "openDebitCount": p.open_debit_count,
        "maxReminders": p.max_reminders,
        "openDebits": [
            {
                "transactionId": d.transaction_id,
                "orderId": d.order_id,
                "type": d.type,
                "amount": rupees_json(d.amount),
                "outstanding": rupees_json(d.outstanding),
                "date": d.txn_date.isoformat(),
                "dueDate": d.due_date.isoformat(),
                "daysOverdue": d.days_overdue,
                "reminderCount": d.reminder_count,
                "reminderSentAt": ts(d.reminder_sent_at),
            }
            for d in p.open_debits
        ],
        "recentPayments": [
            {
                "transactionId": pay.transaction_id,
                "amount": rupees_json(pay.amount),
                "reference": pay.reference,
                "source": pay.source,
                "performedBy": pay.performed_by,
                "createdAt": ts(pay.created_at),
            }
            for pay in p.recent_payments
        ],
        "recentOrders": [order_json(o) for o in p.recent_orders],
        "reminders": {
            "sentOnOpenDebits": p.reminders_sent,
            "lastSentAt": ts(p.last_reminder_at),
            "recent": [
                {"outboxId": r.outbox_id, "status": r.status, "createdAt": ts(r.created_at)}
                for r in p.recent_reminders
            ],
        },
        "recentAudit": [audit_json(e) for e in p.recent_audit],
    }


def payment_json(result: ledger.PaymentResult) -> dict[str, Any]:
    return {
        "paymentId": result.payment_id,
        "retailerId": result.retailer_id,
        "amountPaid": rupees_json(result.amount),
        "reference": result.reference,
        "allocations": allocations_json(result.allocations),
        "outstandingBefore": rupees_json(result.outstanding_before),
        "outstanding": rupees_json(result.outstanding_after),
        "toAdvance": rupees_json(result.to_advance),
        "advance": rupees_json(result.advance_after),
        "creditResumed": result.resumed is not None,
    }


def adjustment_json(result: ledger.AdjustmentResult) -> dict[str, Any]:
    return {
        "transactionId": result.transaction_id,
        "retailerId": result.retailer_id,
        "direction": result.direction.value,
        "amount": rupees_json(result.amount),
        "reason": result.reason,
        "allocations": allocations_json(result.allocations),
        "outstandingBefore": rupees_json(result.outstanding_before),
        "outstanding": rupees_json(result.outstanding_after),
        "toAdvance": rupees_json(result.to_advance),
        "advanceApplied": rupees_json(result.advance_applied),
        "advance": rupees_json(result.advance_after),
        "creditResumed": result.resumed is not None,
    }


def guardrails_json(g: ledger.Guardrails) -> dict[str, Any]:
    return {
        "retailerId": g.retailer_id,
        "creditLimit": rupees_json(g.credit_limit),
        "maxOrderValue": rupees_json(g.max_order_value),
        "maxOutstandingDays": g.max_outstanding_days,
        "paymentTermsDays": g.payment_terms_days,
    }


def guardrail_run_json(as_of: date, run: ledger.GuardrailRun) -> dict[str, Any]:
    return {
        "asOf": as_of.isoformat(),
        "checked": run.checked,
        "paused": [{"retailerId": rid, "reason": reason} for rid, reason in run.paused],
        "resumed": [{"retailerId": rid} for rid in run.resumed],
    }


def failed_order_json(failed: ledger.FailedOrder) -> dict[str, Any]:
    return {
        "orderId": failed.order_id,
        "retailerId": failed.retailer_id,
        "status": "FAILED",
        "reason": failed.reason,
        "failedAt": ts(failed.failed_at),
        "total": rupees_json(failed.total),
        "reversedAmount": rupees_json(failed.reversed_amount),
        "reversalTransactionId": failed.reversal_id,
    }
