"""Clearing: payments and credit adjustments applied to open debits (a named one, or the oldest
first), and debit adjustments that add to what is owed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.clock import business_date
from bot.credit import ADJUSTMENT_REASONS, Direction
from bot.limits import max_length
from bot.money import format_inr
from db.aging import refresh_aging
from db.audit import insert_audit
from db.errors import Conflict, NotFound, Unprocessable
from db.fragments import open_debit
from db.ledger.accounts import (
    get_outstanding,
    insert_transaction,
    lock_account,
    move_outstanding,
    require_positive,
)
from db.pool import Conn


@dataclass(frozen=True)
class Allocation:
    """Part of a payment or credit applied to one debit."""

    transaction_id: int
    amount: int


_OPEN_DEBITS = f"""
    SELECT id, amount - cleared_amount AS unpaid FROM credit_transactions
    WHERE retailer_id = $1 AND {open_debit()}
    ORDER BY txn_date, id
"""


async def _open_debits(conn: Conn, retailer_id: int) -> list[tuple[int, int]]:
    """(id, unpaid) of the retailer's open debits, oldest first."""
    rows = await conn.fetch(_OPEN_DEBITS, retailer_id)
    return [(r["id"], r["unpaid"]) for r in rows]


async def _clear(
    conn: Conn, retailer_id: int, debits: list[tuple[int, int]], amount: int, now: datetime
) -> tuple[Allocation, ...]:
    """Apply `amount` to `debits` in order; the caller has checked it is not above their sum."""
    allocations: list[Allocation] = []
    left = amount
    for txn_id, unpaid in debits:
        if left == 0:
            break
        take = min(left, unpaid)
        allocations.append(Allocation(txn_id, take))
        left -= take
    assert left == 0, "clearing more than is owed"
    await conn.executemany(
        """UPDATE credit_transactions
           SET cleared_amount = cleared_amount + $2, cleared_at = $3,
               status = CASE WHEN cleared_amount + $2 = amount THEN 'CLEARED' ELSE 'PARTIAL' END
           WHERE id = $1""",
        [(a.transaction_id, a.amount, now) for a in allocations],
    )
    await move_outstanding(conn, retailer_id, -amount, now)
    return tuple(allocations)


def _require_owed(amount: int, debits: list[tuple[int, int]], what: str) -> None:
    """Unprocessable `AMOUNT_ABOVE_OWED` (with `amountOwed`) when `amount` is above the unpaid
    sum of `debits`, which are what is owed on `what`."""
    owed = sum(u for _, u in debits)
    if amount > owed:
        raise Unprocessable(
            "AMOUNT_ABOVE_OWED",
            f"{format_inr(amount)} is more than the {format_inr(owed)} owed on {what}",
            amountOwed=owed,
        )


def _allocations_json(allocations: tuple[Allocation, ...]) -> list[dict[str, Any]]:
    return [{"transactionId": a.transaction_id, "amount": a.amount} for a in allocations]


@dataclass(frozen=True)
class PaymentResult:
    payment_id: int
    retailer_id: int
    amount: int
    reference: str | None
    allocations: tuple[Allocation, ...]
    outstanding_before: int
    outstanding_after: int


async def record_payment(
    conn: Conn,
    *,
    amount: int,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    retailer_id: int | None = None,
    transaction_id: int | None = None,
    reference: str | None = None,
    admin_id: str | None = None,
) -> PaymentResult:
    """Record a payment against one named debit, or the retailer's oldest debits first.

    `admin_id` (the API's `adminId`: who took the money, in the client's terms) is kept in the
    audit entry's new value beside `performed_by`.

    Partial payments leave a debit PARTIAL. Unprocessable (`AMOUNT_ABOVE_OWED`, with `amountOwed`
    in paise) when the payment is more than is owed on the named debit or by the retailer;
    Conflict when the retailer already has a payment with this reference.
    """
    require_positive(amount)
    reference = (reference or "").strip() or None
    limit = max_length("reference")
    if reference is not None and len(reference) > limit:
        raise Unprocessable("INVALID_FIELD", f"the reference is longer than {limit} characters")
    named: int | None = None
    if transaction_id is not None:
        row = await conn.fetchrow(
            "SELECT retailer_id, direction FROM credit_transactions WHERE id = $1",
            transaction_id,
        )
        if row is None or row["direction"] != "DEBIT":
            raise NotFound("TRANSACTION_NOT_FOUND", f"no debit transaction {transaction_id}")
        if retailer_id is not None and retailer_id != row["retailer_id"]:
            raise Unprocessable(
                "RETAILER_MISMATCH", f"transaction {transaction_id} belongs to another retailer"
            )
        retailer_id = row["retailer_id"]
        named = transaction_id
    if retailer_id is None:
        raise Unprocessable("INVALID_FIELD", "a retailer or a transaction is required")
    today = business_date(now, tz)
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        if reference is not None:
            used = await conn.fetchval(
                """SELECT id FROM credit_transactions
                   WHERE retailer_id = $1 AND type = 'PAYMENT' AND reference = $2""",
                retailer_id,
                reference,
            )
            if used is not None:
                raise Conflict(
                    "DUPLICATE_REFERENCE",
                    f"payment reference {reference} was already recorded for this retailer",
                    paymentId=used,
                )
        debits = await _open_debits(conn, retailer_id)
        if named is not None:
            debits = [d for d in debits if d[0] == named]
            if sum(u for _, u in debits) == 0:
                raise Unprocessable(
                    "TRANSACTION_NOT_OPEN",
                    f"transaction {named} has nothing left to pay",
                    amountOwed=0,
                )
            _require_owed(amount, debits, f"transaction {named}")
        else:
            _require_owed(amount, debits, "this account")
        before = await get_outstanding(conn, retailer_id)
        allocations = await _clear(conn, retailer_id, debits, amount, now)
        payment_id = await insert_transaction(
            conn,
            retailer_id,
            txn_type="PAYMENT",
            direction=Direction.CREDIT,
            amount=amount,
            status="APPLIED",
            txn_date=today,
            related_transaction_id=named,
            reference=reference,
            performed_by=performed_by,
            now=now,
        )
        after = before - amount
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="PAYMENT",
            reference=f"txn:{payment_id}",
            old_value={"outstanding": before},
            new_value={
                "outstanding": after,
                "amount": amount,
                "paymentReference": reference,
                "allocations": _allocations_json(allocations),
                **({"adminId": admin_id} if admin_id is not None else {}),
            },
            performed_by=performed_by,
            at=now,
        )
        await refresh_aging(conn, today, [retailer_id])
    return PaymentResult(
        payment_id=payment_id,
        retailer_id=retailer_id,
        amount=amount,
        reference=reference,
        allocations=allocations,
        outstanding_before=before,
        outstanding_after=after,
    )


@dataclass(frozen=True)
class AdjustmentResult:
    transaction_id: int
    retailer_id: int
    direction: Direction
    amount: int
    reason: str
    allocations: tuple[Allocation, ...]
    outstanding_before: int
    outstanding_after: int


async def adjust(
    conn: Conn,
    retailer_id: int,
    *,
    direction: Direction,
    amount: int,
    reason: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    notes: str | None = None,
) -> AdjustmentResult:
    """A DEBIT adjustment adds a debit (due after the payment terms, cleared like an order); a
    CREDIT adjustment clears the oldest debits first, like a payment, and may not exceed what is
    owed. `reason` is one of return, dispute, discount, correction."""
    require_positive(amount)
    if reason not in ADJUSTMENT_REASONS:
        raise Unprocessable(
            "INVALID_REASON", f"the reason must be one of {', '.join(ADJUSTMENT_REASONS)}"
        )
    direction = Direction(direction)
    today = business_date(now, tz)
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        before = await get_outstanding(conn, retailer_id)
        allocations: tuple[Allocation, ...] = ()
        if direction == Direction.DEBIT:
            terms: int = await conn.fetchval(
                "SELECT payment_terms_days FROM credit_accounts WHERE retailer_id = $1",
                retailer_id,
            )
            txn_id = await insert_transaction(
                conn,
                retailer_id,
                txn_type="ADJUSTMENT",
                direction=Direction.DEBIT,
                amount=amount,
                status="OPEN",
                due_date=today + timedelta(days=terms),
                txn_date=today,
                reason=reason,
                notes=notes,
                performed_by=performed_by,
                now=now,
            )
            await move_outstanding(conn, retailer_id, amount, now)
            after = before + amount
        else:
            debits = await _open_debits(conn, retailer_id)
            _require_owed(amount, debits, "this account")
            allocations = await _clear(conn, retailer_id, debits, amount, now)
            txn_id = await insert_transaction(
                conn,
                retailer_id,
                txn_type="ADJUSTMENT",
                direction=Direction.CREDIT,
                amount=amount,
                status="APPLIED",
                txn_date=today,
                reason=reason,
                notes=notes,
                performed_by=performed_by,
                now=now,
            )
            after = before - amount
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="ADJUSTMENT",
            reference=f"txn:{txn_id}",
            old_value={"outstanding": before},
            new_value={
                "outstanding": after,
                "direction": direction.value,
                "amount": amount,
                "allocations": _allocations_json(allocations),
            },
            performed_by=performed_by,
            reason=reason,
            at=now,
        )
        await refresh_aging(conn, today, [retailer_id])
    return AdjustmentResult(
        transaction_id=txn_id,
        retailer_id=retailer_id,
        direction=direction,
        amount=amount,
        reason=reason,
        allocations=allocations,
        outstanding_before=before,
        outstanding_after=after,
    )
