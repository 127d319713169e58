"""Guardrails: an account's settings (limit, largest order, allowed days, payment terms) and
applying the overdue rule to every account (SYSTEM pause and resume)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.credit import (
    MAX_DAYS,
    SYSTEM,
    GuardrailAction,
    auto_pause_reason,
    guardrail_action,
    terms_problem,
)
from db.aging import refresh_stale_aging
from db.audit import insert_audit
from db.errors import Unprocessable
from db.fragments import beyond_allowed_days, live_override, open_debit
from db.ledger.accounts import get_contact, get_credit_facts, lock_account
from db.ledger.status import set_active, set_paused
from db.pool import Conn

# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guardrails:
    retailer_id: int
    credit_limit: int
    max_order_value: int
    max_outstanding_days: int
    payment_terms_days: int


_GUARDRAIL_FIELDS = {
    "credit_limit": "creditLimit",
    "max_order_value": "maxOrderValue",
    "max_outstanding_days": "maxOutstandingDays",
    "payment_terms_days": "paymentTermsDays",
}


async def set_guardrails(
    conn: Conn,
    retailer_id: int,
    *,
    performed_by: str,
    now: datetime,
    credit_limit: int | None = None,
    max_order_value: int | None = None,
    max_outstanding_days: int | None = None,
    payment_terms_days: int | None = None,
) -> Guardrails:
    """Change any of a retailer's limit (paise, may be 0), largest order (paise), allowed days
    outstanding and payment terms (days, 1..3650). Existing debits keep their due dates. One
    audit entry with the old and new values of what changed; nothing changed, no entry."""
    wanted: dict[str, int] = {
        k: v
        for k, v in {
            "credit_limit": credit_limit,
            "max_order_value": max_order_value,
            "max_outstanding_days": max_outstanding_days,
            "payment_terms_days": payment_terms_days,
        }.items()
        if v is not None
    }
    if not wanted:
        raise Unprocessable("NOTHING_TO_CHANGE", "give at least one guardrail to change")
    if wanted.get("credit_limit", 0) < 0:
        raise Unprocessable("INVALID_AMOUNT", "creditLimit must not be negative")
    if "max_order_value" in wanted and wanted["max_order_value"] <= 0:
        raise Unprocessable("INVALID_AMOUNT", "maxOrderValue must be positive")
    for key in ("max_outstanding_days", "payment_terms_days"):
        if key in wanted and not 1 <= wanted[key] <= MAX_DAYS:
            raise Unprocessable(
                "INVALID_FIELD",
                f"{_GUARDRAIL_FIELDS[key]} must be a whole number from 1 to {MAX_DAYS}",
            )
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        row = await conn.fetchrow(
            """SELECT credit_limit, max_order_value, max_outstanding_days, payment_terms_days
               FROM credit_accounts WHERE retailer_id = $1""",
            retailer_id,
        )
        assert row is not None
        old = dict(row)
        changed = {k: v for k, v in wanted.items() if old[k] != v}
        new = {**old, **changed}
        problem = terms_problem(new["max_outstanding_days"], new["payment_terms_days"])
        if problem:
            raise Unprocessable("INVALID_FIELD", problem)
        if changed:
            # New allowed days change what counts as beyond them: readers recompute the row
            # until the next refresh (this operation has no business day to recompute for).
            await conn.execute(
                """UPDATE credit_accounts SET credit_limit = $2, max_order_value = $3,
                       max_outstanding_days = $4, payment_terms_days = $5, updated_at = $6,
                       aging_as_of = CASE WHEN max_outstanding_days = $4 THEN aging_as_of END
                   WHERE retailer_id = $1""",
                retailer_id,
                new["credit_limit"],
                new["max_order_value"],
                new["max_outstanding_days"],
                new["payment_terms_days"],
                now,
            )
            await insert_audit(
                conn,
                retailer_id=retailer_id,
                action="LIMIT_CHANGE" if "credit_limit" in changed else "GUARDRAILS_CHANGE",
                reference=f"retailer:{retailer_id}",
                old_value={_GUARDRAIL_FIELDS[k]: old[k] for k in changed},
                new_value={_GUARDRAIL_FIELDS[k]: v for k, v in changed.items()},
                performed_by=performed_by,
                at=now,
            )
    return Guardrails(retailer_id=retailer_id, **new)


# --- applying the overdue rule --------------------------------------------------------------


@dataclass(frozen=True)
class GuardrailRun:
    """What one evaluation did: who was paused (with the reason) and who was resumed."""

    checked: int
    paused: tuple[tuple[int, str], ...]
    resumed: tuple[int, ...]


# ACTIVE accounts with a debit beyond their allowed days as of $1 and no live override, and
# SYSTEM-paused ones ($2).
_CANDIDATES = f"""
    SELECT r.id FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
    WHERE (r.credit_status = 'ACTIVE' AND {live_override("$1")} IS NULL AND EXISTS (
               SELECT 1 FROM credit_transactions t
               WHERE t.retailer_id = r.id AND {open_debit("t")}
                 AND {beyond_allowed_days("$1")}))
       OR (r.credit_status = 'PAUSED' AND r.paused_by = $2)
    ORDER BY r.id
"""


async def apply_guardrails(
    conn: Conn,
    *,
    today: date,
    now: datetime,
    tolerance: int,
    performed_by: str = SYSTEM,
) -> GuardrailRun:
    """Pause by SYSTEM every ACTIVE account with debits unpaid beyond its allowed days (above the
    tolerance) and no live override, resume SYSTEM-paused accounts whose overdue is cleared
    (payments resume them at once; this catches what else cleared it, such as longer allowed
    days); never set or lift a person's pause or a block. Each account changes in its own savepoint under its lock; a second run the same day
    finds nothing to do. First it brings every account's stored aging to `today` (the daily
    risk refresh), which keeps the dashboard and the at-risk list fast."""
    await refresh_stale_aging(conn, today)
    candidates = await conn.fetch(_CANDIDATES, today, SYSTEM)
    paused: list[tuple[int, str]] = []
    resumed: list[int] = []
    for row in candidates:
        rid = row["id"]
        async with conn.transaction():
            await lock_account(conn, rid)
            contact = await get_contact(conn, rid)
            facts = await get_credit_facts(conn, rid, today)
            assert facts is not None
            action = guardrail_action(
                contact.status,
                contact.paused_by,
                facts.overdue_unpaid,
                tolerance,
                override_live=facts.override_until is not None,
            )
            if action == GuardrailAction.PAUSE:
                reason = auto_pause_reason(facts.overdue_unpaid, facts.max_outstanding_days)
                await set_paused(
                    conn,
                    contact,
                    reason=reason,
                    performed_by=SYSTEM,
                    now=now,
                    overdue=(facts.overdue_unpaid, facts.max_outstanding_days),
                )
                paused.append((rid, reason))
            elif action == GuardrailAction.RESUME:
                await set_active(
                    conn, contact, reason="overdue cleared", performed_by=SYSTEM, now=now
                )
                resumed.append(rid)
    return GuardrailRun(checked=len(candidates), paused=tuple(paused), resumed=tuple(resumed))
