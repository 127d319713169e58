"""Small reads for the admin chat's replies and the admin API. The caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.pool import Conn


@dataclass(frozen=True)
class RetailerLabel:
    """How an admin reply names a retailer, with the credit figures it quotes."""

    id: int
    name: str
    shop_name: str
    phone: str
    credit_limit: int
    outstanding: int

    @property
    def available(self) -> int:
        return max(0, self.credit_limit - self.outstanding)

    def vars(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "shop_name": self.shop_name}


async def get_retailer_label(conn: Conn, retailer_id: int) -> RetailerLabel:
    record = await conn.fetchrow(
        """SELECT r.id, r.name, r.shop_name, r.phone,
                  coalesce(ca.credit_limit, 0) AS credit_limit,
                  coalesce(ca.outstanding, 0) AS outstanding
           FROM retailers r LEFT JOIN credit_accounts ca ON ca.retailer_id = r.id
           WHERE r.id = $1""",
        retailer_id,
    )
    if record is None:
        raise LookupError(f"no retailer {retailer_id}")
    return RetailerLabel(**dict(record))


@dataclass(frozen=True)
class Recipient:
    """Whom a message to a retailer addresses, and in which language."""

    id: int
    name: str
    language: str


async def get_recipient(conn: Conn, retailer_id: int) -> Recipient | None:
    """The retailer's name and language, or None when there is no such retailer."""
    record = await conn.fetchrow(
        "SELECT id, name, language FROM retailers WHERE id = $1", retailer_id
    )
    return Recipient(**dict(record)) if record else None


async def find_recipient(conn: Conn, phone: str) -> Recipient | None:
    """The retailer registered with this E.164 number, or None (the number may be anyone's)."""
    record = await conn.fetchrow("SELECT id, name, language FROM retailers WHERE phone = $1", phone)
    return Recipient(**dict(record)) if record else None
