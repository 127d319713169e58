"""The replies of the admin commands that read (risk, atrisk, profile): the variables each
template is rendered with, from what `db.credit_queries` read. Pure; `handlers.admin_chat` calls them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from bot.clock import business_date
from bot.messages import Reply
from db.credit_queries import (
    AtRiskList,
    CreditProfile,
    RiskDashboard,
)

PROFILE_DEBITS_SHOWN = 5  # a profile in chat lists the oldest few open debits


def risk_reply(d: RiskDashboard) -> Reply:
    counts: Mapping[Any, int] = d.status_counts
    return Reply(
        "admin_risk",
        {
            "as_of": d.as_of,
            "buckets": [
                {"name": str(b.value), "amount": t.amount, "retailers": t.retailers}
                for b, t in d.buckets.items()
            ],
            "total_outstanding": d.total_outstanding,
            "total_limit": d.total_limit,
            "available": d.available,
            "utilisation": d.utilisation,
            "retailers": d.retailers,
            "active": _count(counts, "ACTIVE"),
            "paused": _count(counts, "PAUSED"),
            "blocked": _count(counts, "BLOCKED"),
            "paused_by_system": d.paused_by_system,
            "overrides": d.overrides,
            "advances": d.advances.amount,
            "advance_retailers": d.advances.retailers,
        },
    )


def _count(counts: Mapping[Any, int], status: str) -> int:
    return sum(v for k, v in counts.items() if str(getattr(k, "value", k)) == status)


def at_risk_reply(at_risk: AtRiskList) -> Reply:
    return Reply(
        "admin_atrisk",
        {
            "total": at_risk.total,
            "retailers": [
                {
                    "id": r.retailer_id,
                    "name": r.name,
                    "shop_name": r.shop_name,
                    "phone": r.phone,
                    "outstanding": r.outstanding,
                    "credit_limit": r.credit_limit,
                    "utilisation": r.utilisation,
                    "overdue_amount": r.overdue_amount,
                    "max_days_past_due": r.max_days_past_due,
                    "reasons": [str(reason.value) for reason in r.reasons],
                }
                for r in at_risk.retailers
            ],
        },
    )


def profile_reply(p: CreditProfile, tz: tzinfo) -> Reply:
    last = p.recent_payments[0] if p.recent_payments else None
    return Reply(
        "admin_profile",
        {
            "id": p.retailer_id,
            "name": p.name,
            "shop_name": p.shop_name,
            "phone": p.phone,
            "status": str(p.status.value),
            "reason": p.status_reason,
            "paused_by": p.paused_by,
            "credit_limit": p.credit_limit,
            "outstanding": p.outstanding,
            "available": p.available,
            "advance": p.advance,
            "override_until": p.override_until,
            "beyond_limit_amount": p.beyond_limit_amount,
            "utilisation": p.utilisation,
            "overdue_amount": p.overdue_amount,
            "max_order_value": p.max_order_value,
            "max_outstanding_days": p.max_outstanding_days,
            "payment_terms_days": p.payment_terms_days,
            "open_debit_count": p.open_debit_count,
            "open_debits": [
                {
                    "transaction_id": d.transaction_id,
                    "order_id": d.order_id,
                    "details": d.details,
                    "outstanding": d.outstanding,
                    "due_date": d.due_date,
                    "days_overdue": d.days_overdue,
                }
                for d in p.open_debits[:PROFILE_DEBITS_SHOWN]
            ],
            "last_payment": (
                {
                    "amount": last.amount,
                    "at": business_date(last.created_at, tz),
                    "reference": last.reference,
                    "source": last.source,
                }
                if last
                else None
            ),
            "opted_out": p.opted_out,
        },
    )
