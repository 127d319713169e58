"""`received_payments` rows: one per gateway payment or bank line, unique per source and
external id, claimed and locked before anything is recorded; and the reads of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from db.errors import NotFound
from db.pool import Conn

GATEWAY = "gateway"
BANK = "bank"


@dataclass(frozen=True)
class Received:
    """A `received_payments` row."""

    id: int
    source: str
    external_id: str
    received_on: date
    amount: int
    reference: str | None
    narration: str
    payer: str | None
    retailer_id: int | None
    matched_by: str | None
    status: str
    payment_transaction_id: int | None
    duplicate_of: int | None
    recorded_amount: int
    excess: int
    refunded: int
    note: str | None
    import_id: int | None
    line_no: int | None
    created_at: datetime
    resolved_by: str | None = None


_RECEIVED_COLUMNS = """id, source, external_id, received_on, amount, reference, narration, payer,
    retailer_id, matched_by, status, payment_transaction_id, duplicate_of, recorded_amount,
    excess, refunded, note, import_id, line_no, created_at, resolved_by"""


def _received(row: Any) -> Received:
    return Received(**dict(row))


async def claim_received(
    conn: Conn,
    *,
    source: str,
    external_id: str,
    received_on: date,
    amount: int,
    reference: str | None,
    narration: str,
    payer: str | None,
    now: datetime,
    import_id: int | None = None,
    line_no: int | None = None,
) -> tuple[Received, bool]:
    """The row of this received payment, locked, and whether this call created it (UNMATCHED).

    A concurrent claim of the same row waits here until the first commits, then finds it."""
    created = await conn.fetchval(
        """INSERT INTO received_payments (source, external_id, import_id, line_no, received_on,
               amount, reference, narration, payer, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'UNMATCHED', $10, $10)
           ON CONFLICT (source, external_id) DO NOTHING RETURNING id""",
        source,
        external_id,
        import_id,
        line_no,
        received_on,
        amount,
        reference,
        narration,
        payer,
        now,
    )
    row = await conn.fetchrow(
        f"""SELECT {_RECEIVED_COLUMNS} FROM received_payments
            WHERE source = $1 AND external_id = $2 FOR UPDATE""",
        source,
        external_id,
    )
    assert row is not None
    return _received(row), created is not None


async def lock_received(conn: Conn, received_id: int) -> Received:
    row = await conn.fetchrow(
        f"SELECT {_RECEIVED_COLUMNS} FROM received_payments WHERE id = $1 FOR UPDATE",
        received_id,
    )
    if row is None:
        raise NotFound("NOT_FOUND", f"no received payment {received_id}")
    return _received(row)


async def get_received_id(conn: Conn, source: str, external_id: str) -> int | None:
    """The id of the row of this received payment, None when it never arrived (no lock)."""
    received_id: int | None = await conn.fetchval(
        "SELECT id FROM received_payments WHERE source = $1 AND external_id = $2",
        source,
        external_id,
    )
    return received_id


async def get_unmatched(
    conn: Conn, *, source: str | None = None, status: str = "UNMATCHED", limit: int = 100
) -> list[Received]:
    """Received money waiting for an operator, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_RECEIVED_COLUMNS} FROM received_payments
            WHERE status = $1 AND ($2::text IS NULL OR source = $2)
            ORDER BY id DESC LIMIT $3""",
        status,
        source,
        limit,
    )
    return [_received(r) for r in rows]
