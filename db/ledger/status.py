"""Credit status changes (DESIGN sections 3 and 10): pause and unpause (with an override of the
overdue rule), block and unblock, resuming a SYSTEM pause once its overdue is paid, and the tail
every change shares (the audit entry, the retailer's notice and the StatusChange).

The states mean one thing each. PAUSED by SYSTEM is the overdue rule: the system sets it (the
11:00 run) and lifts it (a credit that pays the overdue, in its own transaction, or the 11:00
run). PAUSED by a person is lifted only by `unpause`. BLOCKED is set only by `block` and lifted
only by `unblock`. `unpause` refuses while the overdue rule would still stop credit, unless it
carries an override: the rule is then held off for that retailer through a day at most
MAX_OVERRIDE_DAYS ahead, and applies again by itself the day after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from bot.clock import business_date
from bot.credit import (
    DEFAULT_OVERDUE_TOLERANCE,
    SYSTEM,
    CreditFacts,
    CreditStatus,
    GuardrailAction,
    auto_pause_reason,
    guardrail_action,
    overdue_blocks_credit,
    override_problem,
)
from bot.messages import MessageKind, Reply
from bot.money import format_inr
from db.audit import insert_audit
from db.errors import Conflict, Unprocessable
from db.fragments import beyond_allowed_days, open_debit
from db.ledger.accounts import Contact, get_contact, get_credit_facts, lock_account, require_text
from db.outbox import enqueue
from db.pool import Conn


@dataclass(frozen=True)
class StatusChange:
    retailer_id: int
    previous_status: CreditStatus
    status: CreditStatus
    reason: str | None
    performed_by: str
    audit_id: int
    changed_at: datetime
    paused_by: str | None = None  # who holds the new state when it is PAUSED or BLOCKED
    override_until: date | None = None  # the override this change set, if any
    available: int = 0  # paise a credit order may use after it (0 unless credit can be used)


# --- pause and unpause ----------------------------------------------------------------------


async def pause_credit(
    conn: Conn, retailer_id: int, *, reason: str, performed_by: str, now: datetime
) -> StatusChange:
    """Pause credit (COD stays open) and queue the `credit_paused` message; an override of the
    overdue rule ends with it.

    Conflict when credit is already paused or blocked; a reason is required.
    """
    reason = require_text(reason, "reason")
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        contact = await get_contact(conn, retailer_id)
        if contact.status == CreditStatus.PAUSED:
            raise Conflict("ALREADY_PAUSED", "credit is already paused for this retailer")
        if contact.status == CreditStatus.BLOCKED:
            raise Conflict("CREDIT_BLOCKED", "credit is blocked for this retailer")
        return await set_paused(conn, contact, reason=reason, performed_by=performed_by, now=now)


async def set_paused(
    conn: Conn,
    contact: Contact,
    *,
    reason: str,
    performed_by: str,
    now: datetime,
    overdue: tuple[int, int] | None = None,
    action: str = "PAUSE",
    notice_extra: dict[str, Any] | None = None,
    audit_reason: str | None = None,
) -> StatusChange:
    """Pause the locked account's credit. `overdue` (unpaid paise, allowed days) of a SYSTEM
    pause lets the notice state the reason in the retailer's language and what paying does; a
    person's reason is sent as they wrote it. `audit_reason`, when the act that led here had its
    own (an unblock's), is the audit entry's reason instead of the pause's."""
    notice: dict[str, Any] = {"name": contact.name, "reason": reason, **(notice_extra or {})}
    if overdue is not None:
        notice.update(overdue_unpaid=overdue[0], max_outstanding_days=overdue[1])
    paused_by = SYSTEM if overdue is not None else performed_by
    await _write_status(
        conn, contact.retailer_id, CreditStatus.PAUSED, reason=reason, by=paused_by, now=now
    )
    return await _record_status_change(
        conn,
        contact,
        status=CreditStatus.PAUSED,
        action=action,
        old_value={"status": contact.status.value},
        new_value={"status": CreditStatus.PAUSED.value, "pausedBy": paused_by},
        notice=Reply("credit_paused", notice),
        reason=audit_reason or reason,
        performed_by=performed_by,
        now=now,
        paused_by=paused_by,
    )


@dataclass(frozen=True)
class Overdue:
    """What the overdue rule holds against an account: unpaid paise on debits older than its
    allowed days, and the date of the oldest of them."""

    unpaid: int
    since: date | None
    max_outstanding_days: int


_OLDEST_BEYOND = f"""
    SELECT min(t.txn_date) FROM credit_transactions t
    JOIN credit_accounts ca ON ca.retailer_id = t.retailer_id
    WHERE t.retailer_id = $1 AND {open_debit("t")} AND {beyond_allowed_days("$2")}
"""


async def _overdue(conn: Conn, retailer_id: int, facts: CreditFacts, today: date) -> Overdue:
    since: date | None = await conn.fetchval(_OLDEST_BEYOND, retailer_id, today)
    return Overdue(facts.overdue_unpaid, since, facts.max_outstanding_days)


def _still_overdue(o: Overdue) -> Conflict:
    since = f" (the oldest from {o.since.isoformat()})" if o.since else ""
    return Conflict(
        "STILL_OVERDUE",
        f"{format_inr(o.unpaid)} has been unpaid for more than {o.max_outstanding_days} days"
        f"{since}, so credit would stop again at once: record the payment, or unpause with an "
        "override date (overrideUntil) to let it order until then",
        amountOverdue=o.unpaid,
        oldestDebitDate=o.since.isoformat() if o.since else None,
        maxOutstandingDays=o.max_outstanding_days,
    )


async def unpause_credit(
    conn: Conn,
    retailer_id: int,
    *,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    reason: str | None = None,
    override_until: date | None = None,
) -> StatusChange:
    """Make a paused account's credit ACTIVE again and queue `credit_resumed`.

    While the overdue rule would stop its credit (debits unpaid beyond the allowed days, at or
    above `tolerance`), Conflict `STILL_OVERDUE` (with the amount and the oldest debit's date)
    and nothing changes, unless `override_until` is given: then the rule is held off for this
    retailer through that day (Unprocessable when it is in the past or more than
    MAX_OVERRIDE_DAYS ahead), and the notice says until when. On an ACTIVE account an override
    is set (or moved) alone; without one, Conflict `NOT_PAUSED`. A blocked account is a Conflict:
    only `unblock_credit` lifts a block.
    """
    today = business_date(now, tz)
    if override_until is not None and (problem := override_problem(override_until, today)):
        raise Unprocessable("INVALID_FIELD", problem)
    reason = (reason or "").strip() or None
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        contact = await get_contact(conn, retailer_id)
        if contact.status == CreditStatus.BLOCKED:
            raise Conflict(
                "CREDIT_BLOCKED",
                "credit is blocked for this retailer; only unblock lifts a block",
            )
        facts = await get_credit_facts(conn, retailer_id, today)
        assert facts is not None
        overdue = overdue_blocks_credit(facts.overdue_unpaid, tolerance)
        if contact.status == CreditStatus.ACTIVE and override_until is None:
            held = ""
            if overdue and facts.override_until is None:
                # Active, yet the overdue rule stops its orders: say so, and what would help.
                o = await _overdue(conn, retailer_id, facts, today)
                held = (
                    f", but {format_inr(o.unpaid)} unpaid for more than "
                    f"{o.max_outstanding_days} days holds its credit orders: record the payment, "
                    "or unpause with an override date to let it order until then"
                )
            raise Conflict("NOT_PAUSED", f"credit is already active for this retailer{held}")
        if overdue and override_until is None:
            raise _still_overdue(await _overdue(conn, retailer_id, facts, today))
        return await set_active(
            conn,
            contact,
            reason=reason,
            performed_by=performed_by,
            now=now,
            override_until=override_until,
            overdue=(facts.overdue_unpaid, facts.max_outstanding_days) if overdue else None,
            action="UNPAUSE" if contact.status != CreditStatus.ACTIVE else "OVERRIDE",
            # An override on an account that could order anyway changes nothing they see.
            notify=contact.status != CreditStatus.ACTIVE or overdue,
        )


async def set_active(
    conn: Conn,
    contact: Contact,
    *,
    reason: str | None,
    performed_by: str,
    now: datetime,
    override_until: date | None = None,
    overdue: tuple[int, int] | None = None,
    action: str = "UNPAUSE",
    notify: bool = True,
    notice_extra: dict[str, Any] | None = None,
) -> StatusChange:
    """Make the locked account's credit ACTIVE with `override_until` as its override (None ends
    any); the notice says what is available and, under an override while `overdue` (unpaid
    paise, allowed days), until when and what to pay by then."""
    available = await _write_status(
        conn,
        contact.retailer_id,
        CreditStatus.ACTIVE,
        reason=None,
        by=None,
        now=now,
        override_until=override_until,
    )
    notice: dict[str, Any] = {
        "name": contact.name,
        "available": available,
        "override_until": override_until if overdue else None,
        "overdue_unpaid": overdue[0] if overdue else 0,
        "max_outstanding_days": overdue[1] if overdue else 0,
        **(notice_extra or {}),
    }
    new_value: dict[str, Any] = {"status": CreditStatus.ACTIVE.value}
    if override_until is not None:
        new_value["overrideUntil"] = override_until.isoformat()
    return await _record_status_change(
        conn,
        contact,
        status=CreditStatus.ACTIVE,
        action=action,
        old_value={"status": contact.status.value, "pausedBy": contact.paused_by},
        new_value=new_value,
        notice=Reply("credit_resumed", notice) if notify else None,
        reason=reason,
        performed_by=performed_by,
        now=now,
        override_until=override_until,
        available=available,
    )


# --- block and unblock ----------------------------------------------------------------------


async def block_credit(
    conn: Conn,
    retailer_id: int,
    *,
    reason: str,
    performed_by: str,
    now: datetime,
    support_phone: str | None,
) -> StatusChange:
    """Stop the retailer's credit by a person's decision (fraud, a bounced cheque, closing the
    account), from ACTIVE or PAUSED; COD stays open. Only `unblock_credit` lifts it. The retailer
    is told once that credit is stopped and whom to call (`support_phone`; the reason stays
    with the staff). Conflict `ALREADY_BLOCKED`; a reason is required."""
    reason = require_text(reason, "reason")
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        contact = await get_contact(conn, retailer_id)
        if contact.status == CreditStatus.BLOCKED:
            raise Conflict("ALREADY_BLOCKED", "credit is already blocked for this retailer")
        await _write_status(
            conn, retailer_id, CreditStatus.BLOCKED, reason=reason, by=performed_by, now=now
        )
        return await _record_status_change(
            conn,
            contact,
            status=CreditStatus.BLOCKED,
            action="BLOCK",
            old_value={"status": contact.status.value, "pausedBy": contact.paused_by},
            new_value={"status": CreditStatus.BLOCKED.value},
            notice=Reply("credit_blocked", {"name": contact.name, "support_phone": support_phone}),
            reason=reason,
            performed_by=performed_by,
            now=now,
            paused_by=performed_by,
        )


async def unblock_credit(
    conn: Conn,
    retailer_id: int,
    *,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    reason: str | None = None,
) -> StatusChange:
    """Lift a block. The account goes to the state the rules give it now: ACTIVE, or PAUSED by
    SYSTEM when debits unpaid too long would stop its credit anyway (so paying them resumes it,
    as for any overdue pause). The retailer's one notice says which. Conflict `NOT_BLOCKED`."""
    today = business_date(now, tz)
    reason = (reason or "").strip() or None
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        contact = await get_contact(conn, retailer_id)
        if contact.status != CreditStatus.BLOCKED:
            raise Conflict("NOT_BLOCKED", "credit is not blocked for this retailer")
        facts = await get_credit_facts(conn, retailer_id, today)
        assert facts is not None
        if overdue_blocks_credit(facts.overdue_unpaid, tolerance):
            pause_reason = auto_pause_reason(facts.overdue_unpaid, facts.max_outstanding_days)
            return await set_paused(
                conn,
                contact,
                reason=pause_reason,
                # The operator's reason for lifting the block stays on record, with why credit
                # is still paused.
                audit_reason=f"{reason} (credit stays paused: {pause_reason})" if reason else None,
                performed_by=performed_by,
                now=now,
                overdue=(facts.overdue_unpaid, facts.max_outstanding_days),
                action="UNBLOCK",
                notice_extra={"unblocked": True},
            )
        return await set_active(
            conn,
            contact,
            reason=reason,
            performed_by=performed_by,
            now=now,
            action="UNBLOCK",
            notice_extra={"unblocked": True},
        )


# --- the overdue rule lifting its own pause -------------------------------------------------


async def resume_if_cleared(
    conn: Conn,
    retailer_id: int,
    *,
    today: date,
    now: datetime,
    cause: str,
    tolerance: int = DEFAULT_OVERDUE_TOLERANCE,
    notify: bool = True,
) -> StatusChange | None:
    """After a credit to the locked account (payment, credit adjustment, return, a reversal's
    paid part), in its transaction: a SYSTEM pause whose overdue is now paid (below the
    tolerance) is lifted, audited as SYSTEM with `cause` (e.g. `payment txn:42`) and the
    `credit_resumed` message queued (unless not `notify`: the caller's own message says so). A
    person's pause and a block stay. None when nothing changed."""
    facts = await get_credit_facts(conn, retailer_id, today)
    if facts is None or facts.status != CreditStatus.PAUSED or facts.paused_by != SYSTEM:
        return None
    action = guardrail_action(
        facts.status,
        facts.paused_by,
        facts.overdue_unpaid,
        tolerance,
        override_live=facts.override_until is not None,
    )
    if action != GuardrailAction.RESUME:
        return None
    contact = await get_contact(conn, retailer_id)
    return await set_active(
        conn,
        contact,
        reason=f"overdue paid ({cause})",
        performed_by=SYSTEM,
        now=now,
        notify=notify,
        notice_extra={"after_payment": True},
    )


# --- the shared tail --------------------------------------------------------------------------


async def _write_status(
    conn: Conn,
    retailer_id: int,
    status: CreditStatus,
    *,
    reason: str | None,
    by: str | None,
    now: datetime,
    override_until: date | None = None,
) -> int:
    """Set the retailer's status (who and why when it is not ACTIVE) and the account's override
    in one statement; return what a credit order may use after it."""
    available: int = await conn.fetchval(
        """WITH account AS (
               UPDATE credit_accounts SET overdue_override_until = $6
               WHERE retailer_id = $1
               RETURNING greatest(0, credit_limit - outstanding + advance) AS available
           )
           UPDATE retailers SET credit_status = $2, credit_paused_at = $3,
               credit_pause_reason = $4, paused_by = $5
           WHERE id = $1
           RETURNING (SELECT available FROM account)""",
        retailer_id,
        status.value,
        None if status == CreditStatus.ACTIVE else now,
        reason,
        by,
        override_until,
    )
    return available if status == CreditStatus.ACTIVE else 0


async def _record_status_change(
    conn: Conn,
    contact: Contact,
    *,
    status: CreditStatus,
    action: str,
    old_value: dict[str, Any],
    new_value: dict[str, Any],
    notice: Reply | None,
    reason: str | None,
    performed_by: str,
    now: datetime,
    paused_by: str | None = None,
    override_until: date | None = None,
    available: int = 0,
) -> StatusChange:
    """The tail of every credit status change, after the retailers row is updated: the audit
    entry, the retailer's notice (its template is the outbox kind; deduplicated per audit
    entry) and the StatusChange."""
    audit_id = await insert_audit(
        conn,
        retailer_id=contact.retailer_id,
        action=action,
        reference=f"retailer:{contact.retailer_id}",
        old_value=old_value,
        new_value=new_value,
        performed_by=performed_by,
        reason=reason,
        at=now,
    )
    if notice is not None:
        await enqueue(
            conn,
            kind=MessageKind(notice.template),
            reply=notice,
            to_phone=contact.phone,
            language=contact.language,
            dedupe_key=f"{notice.template}:{contact.retailer_id}:{audit_id}",
            now=now,
            retailer_id=contact.retailer_id,
        )
    return StatusChange(
        retailer_id=contact.retailer_id,
        previous_status=contact.status,
        status=status,
        reason=reason,
        performed_by=performed_by,
        audit_id=audit_id,
        changed_at=now,
        paused_by=paused_by,
        override_until=override_until,
        available=available,
    )
