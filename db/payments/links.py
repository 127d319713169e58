"""Payment link rows: claimed while the gateway makes the link, then ACTIVE, then closed
(PAID, FAILED, CANCELLED, EXPIRED). The calls to the gateway are in `jobs/payment_links.py`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.payments.links import LiveLink
from db.pool import Conn


def _live(row: Any) -> LiveLink:
    return LiveLink(
        id=row["id"],
        amount=row["amount"],
        status=row["status"],
        business_day=row["business_day"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        short_url=row["short_url"],
        provider_link_id=row["provider_link_id"],
    )


_LINK_COLUMNS = """id, amount, status, business_day, expires_at, created_at, short_url,
                   provider_link_id"""


async def get_live_links(conn: Conn, retailer_id: int, provider: str) -> list[LiveLink]:
    """The retailer's links in CREATING or ACTIVE, oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_LINK_COLUMNS} FROM payment_links
            WHERE retailer_id = $1 AND provider = $2 AND status IN ('CREATING', 'ACTIVE')
            ORDER BY id""",
        retailer_id,
        provider,
    )
    return [_live(r) for r in rows]


async def get_active_link(
    conn: Conn, retailer_id: int, amount: int, now: datetime
) -> LiveLink | None:
    """An ACTIVE link for exactly `amount` that has not expired (read only: chat replies)."""
    row = await conn.fetchrow(
        f"""SELECT {_LINK_COLUMNS} FROM payment_links
            WHERE retailer_id = $1 AND amount = $2 AND status = 'ACTIVE' AND expires_at > $3
            ORDER BY id DESC LIMIT 1""",
        retailer_id,
        amount,
        now,
    )
    return _live(row) if row else None


async def insert_creating_link(
    conn: Conn,
    *,
    retailer_id: int,
    provider: str,
    amount: int,
    business_day: date,
    expires_at: datetime,
    now: datetime,
) -> int | None:
    """Claim the making of a link (status CREATING); None when one for this retailer and amount
    is already live (another process is making or has made it)."""
    link_id: int | None = await conn.fetchval(
        """INSERT INTO payment_links (retailer_id, provider, amount, business_day, expires_at,
               created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6)
           ON CONFLICT (retailer_id, amount) WHERE status IN ('CREATING', 'ACTIVE') DO NOTHING
           RETURNING id""",
        retailer_id,
        provider,
        amount,
        business_day,
        expires_at,
        now,
    )
    return link_id


async def mark_link_active(
    conn: Conn,
    link_id: int,
    *,
    provider_link_id: str,
    short_url: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        """UPDATE payment_links
           SET status = 'ACTIVE', provider_link_id = $2, short_url = $3, expires_at = $4,
               error = NULL, updated_at = $5
           WHERE id = $1 AND status = 'CREATING'""",
        link_id,
        provider_link_id,
        short_url,
        expires_at,
        now,
    )


async def mark_link(
    conn: Conn, link_ids: list[int], status: str, *, now: datetime, error: str | None = None
) -> None:
    """Close live links (FAILED, CANCELLED, EXPIRED); a link already closed keeps its status."""
    await conn.execute(
        """UPDATE payment_links SET status = $2, error = coalesce($3, error), updated_at = $4
           WHERE id = any($1::bigint[]) AND status IN ('CREATING', 'ACTIVE')""",
        link_ids,
        status,
        error,
        now,
    )


async def close_provider_link(
    conn: Conn, provider: str, provider_link_id: str, status: str, now: datetime
) -> None:
    """The gateway says a link was paid, cancelled or expired. PAID wins over anything else."""
    await conn.execute(
        """UPDATE payment_links SET status = $3, updated_at = $4
           WHERE provider = $1 AND provider_link_id = $2 AND status <> 'PAID'
             AND ($3 = 'PAID' OR status IN ('CREATING', 'ACTIVE'))""",
        provider,
        provider_link_id,
        status,
        now,
    )
