"""Small reads for the admin chat's replies and the admin API. The caller owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping
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
    advance: int = 0

    @property
    def available(self) -> int:
        return max(0, self.credit_limit - self.outstanding + self.advance)

    def vars(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "shop_name": self.shop_name}


async def get_retailer_label(conn: Conn, retailer_id: int) -> RetailerLabel:
    record = await conn.fetchrow(
        """SELECT r.id, r.name, r.shop_name, r.phone,
                  coalesce(ca.credit_limit, 0) AS credit_limit,
                  coalesce(ca.outstanding, 0) AS outstanding,
                  coalesce(ca.advance, 0) AS advance
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


@dataclass(frozen=True)
class PaymentOutcome:
    """What a payment did to the debits it was applied to: cleared in full, or paid in part."""

    cleared: int
    cleared_amount: int  # of the payment, on the debits it cleared
    part_paid: int
    part_paid_amount: int  # of the payment, on debits still partly owed

    def vars(self) -> dict[str, Any]:
        return {
            "cleared": self.cleared,
            "cleared_amount": self.cleared_amount,
            "part_paid": self.part_paid,
            "part_paid_amount": self.part_paid_amount,
        }


async def get_payment_outcome(conn: Conn, applied: Mapping[int, int]) -> PaymentOutcome:
    """Split a payment's allocations (debit id -> paise applied) by the debits' state now; call
    it in the payment's transaction, so "now" is just after the payment."""
    cleared = await conn.fetch(
        "SELECT id FROM credit_transactions WHERE id = any($1::bigint[]) AND status = 'CLEARED'",
        list(applied),
    )
    cleared_ids = {r["id"] for r in cleared}
    return PaymentOutcome(
        cleared=len(cleared_ids),
        cleared_amount=sum(v for k, v in applied.items() if k in cleared_ids),
        part_paid=len(applied) - len(cleared_ids),
        part_paid_amount=sum(v for k, v in applied.items() if k not in cleared_ids),
    )
