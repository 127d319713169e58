"""The audit log: every change of credit state writes one entry in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Conn


@dataclass(frozen=True)
class AuditEntry:
    id: int
    retailer_id: int | None
    action: str
    reference: str | None
    old_value: Any
    new_value: Any
    performed_by: str
    reason: str | None
    created_at: datetime


async def insert_audit(
    conn: Conn,
    *,
    retailer_id: int | None,
    action: str,
    performed_by: str,
    at: datetime,
    reference: str | None = None,
    old_value: Any = None,
    new_value: Any = None,
    reason: str | None = None,
) -> int:
    """Write one audit entry; call it inside the transaction that makes the change."""
    entry_id: int = await conn.fetchval(
        """INSERT INTO audit_log (retailer_id, action, reference, old_value, new_value,
               performed_by, reason, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        retailer_id,
        action,
        reference,
        old_value,
        new_value,
        performed_by,
        reason,
        at,
    )
    return entry_id


async def get_audit(
    conn: Conn, *, retailer_id: int | None = None, limit: int = 100
) -> list[AuditEntry]:
    """Newest first, optionally for one retailer. "Newest" is the order the entries were
    written in (their ids), not `created_at`: that is the time each request began, and a request
    that waited for a retailer's lock can write after one that began later."""
    rows = await conn.fetch(
        """SELECT id, retailer_id, action, reference, old_value, new_value, performed_by, reason,
                  created_at
           FROM audit_log
           WHERE ($1::bigint IS NULL OR retailer_id = $1)
           ORDER BY id DESC LIMIT $2""",
        retailer_id,
        limit,
    )
    return [AuditEntry(**dict(r)) for r in rows]
