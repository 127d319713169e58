"""Credit status changes: pause and unpause, and the tail every status change shares (the audit
entry, the retailer's notice and the StatusChange)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.credit import CreditStatus
from bot.messages import MessageKind, Reply
from db.audit import insert_audit
from db.errors import Conflict
from db.ledger.accounts import Contact, get_contact, lock_account, require_text
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


async def pause_credit(
    conn: Conn, retailer_id: int, *, reason: str, performed_by: str, now: datetime
) -> StatusChange:
    """Pause credit (COD stays open) and queue the `credit_paused` message.

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
) -> StatusChange:
    """Pause the locked account's credit. `overdue` (unpaid paise, allowed days) of a SYSTEM
    pause lets the notice state the reason in the retailer's language; a person's reason is sent
    as they wrote it."""
    notice: dict[str, Any] = {"name": contact.name, "reason": reason}
    if overdue is not None:
        notice.update(overdue_unpaid=overdue[0], max_outstanding_days=overdue[1])
    await conn.execute(
        """UPDATE retailers SET credit_status = 'PAUSED', credit_paused_at = $2,
               credit_pause_reason = $3, paused_by = $4
           WHERE id = $1""",
        contact.retailer_id,
        now,
        reason,
        performed_by,
    )
    return await _record_status_change(
        conn,
        contact,
        status=CreditStatus.PAUSED,
        action="PAUSE",
        old_value={"status": contact.status.value},
        notice=Reply("credit_paused", notice),
        reason=reason,
        performed_by=performed_by,
        now=now,
    )


async def unpause_credit(
    conn: Conn,
    retailer_id: int,
    *,
    performed_by: str,
    now: datetime,
    reason: str | None = None,
) -> StatusChange:
    """Make credit ACTIVE again (from paused or blocked) and queue `credit_resumed`.

    Conflict when credit is already active.
    """
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        contact = await get_contact(conn, retailer_id)
        if contact.status == CreditStatus.ACTIVE:
            raise Conflict("NOT_PAUSED", "credit is already active for this retailer")
        return await set_active(
            conn, contact, reason=(reason or "").strip() or None, performed_by=performed_by, now=now
        )


async def set_active(
    conn: Conn, contact: Contact, *, reason: str | None, performed_by: str, now: datetime
) -> StatusChange:
    """Make the locked account's credit ACTIVE; the notice says what is available."""
    available: int = await conn.fetchval(
        """UPDATE retailers SET credit_status = 'ACTIVE', credit_paused_at = NULL,
               credit_pause_reason = NULL, paused_by = NULL
           WHERE id = $1
           RETURNING (SELECT greatest(0, credit_limit - outstanding)
                      FROM credit_accounts WHERE retailer_id = $1)""",
        contact.retailer_id,
    )
    return await _record_status_change(
        conn,
        contact,
        status=CreditStatus.ACTIVE,
        action="UNPAUSE",
        old_value={"status": contact.status.value, "pausedBy": contact.paused_by},
        notice=Reply("credit_resumed", {"name": contact.name, "available": available}),
        reason=reason,
        performed_by=performed_by,
        now=now,
    )


async def _record_status_change(
    conn: Conn,
    contact: Contact,
    *,
    status: CreditStatus,
    action: str,
    old_value: dict[str, Any],
    notice: Reply,
    reason: str | None,
    performed_by: str,
    now: datetime,
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
        new_value={"status": status.value},
        performed_by=performed_by,
        reason=reason,
        at=now,
    )
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
    )
