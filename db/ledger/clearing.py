"""Clearing: payments and credit adjustments applied to open debits (a named one, or the oldest
first) with what is left over kept as the retailer's advance, and debit adjustments that add to
what is owed (paid from the advance first).

The two money primitives every writer uses (docs/decisions.md, "Advances"): `apply_credit` for
anything that takes off what is owed (payments, credit adjustments, returns, the paid part of a
reversed order) and `apply_debit` for anything that adds to it (orders, debit adjustments).
Together they keep, per retailer, sum(DEBIT rows) - sum(CREDIT rows) = outstanding - advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, NamedTuple

import asyncpg

from bot.clock import business_date
from bot.credit import ADJUSTMENT_REASONS, DEFAULT_OVERDUE_TOLERANCE, Direction
from bot.limits import max_length
from bot.money import format_inr
from db.aging import refresh_aging
from db.audit import insert_audit
from db.errors import Conflict, NotFound, Unprocessable
from db.fragments import balance_update, open_debit
from db.ledger.accounts import (
    debit_status,
    get_balance,
    insert_transaction,
    lock_account,
    move_balance,
    require_positive,
)
from db.ledger.status import StatusChange, resume_if_cleared
from db.pool import Conn


@dataclass(frozen=True)
class Allocation:
    """Part of a payment or credit applied to one debit."""

    transaction_id: int
    amount: int


class Credited(NamedTuple):
    """What `apply_credit` did with an amount: the debits it cleared, and the rest, which became
    advance."""

    allocations: tuple[Allocation, ...]
    to_advance: int


_OPEN_DEBITS = f"""
    SELECT id, amount - cleared_amount AS unpaid FROM credit_transactions
    WHERE retailer_id = $1 AND {open_debit()}
    ORDER BY txn_date, id
"""


async def _open_debits(conn: Conn, retailer_id: int) -> list[tuple[int, int]]:
    """(id, unpaid) of the retailer's open debits, oldest first."""
    rows = await conn.fetch(_OPEN_DEBITS, retailer_id)
    return [(r["id"], r["unpaid"]) for r in rows]


def allocate(debits: Sequence[tuple[int, int]], amount: int, first: int | None = None) -> Credited:
    """Spread `amount` over `debits` ((id, unpaid), oldest first), debit `first` before the
    others when given; what is left over is advance. Pure."""
    ordered = sorted(debits, key=lambda d: d[0] != first) if first is not None else debits
    allocations: list[Allocation] = []
    left = amount
    for txn_id, unpaid in ordered:
        if left == 0:
            break
        take = min(left, unpaid)
        if take > 0:
            allocations.append(Allocation(txn_id, take))
            left -= take
    return Credited(tuple(allocations), left)


_CLEAR = """
    UPDATE credit_transactions
    SET cleared_amount = cleared_amount + $2, cleared_at = $3,
        status = CASE WHEN cleared_amount + $2 = amount THEN 'CLEARED' ELSE 'PARTIAL' END
    WHERE id = $1
"""


async def apply_credit(
    conn: Conn, retailer_id: int, amount: int, now: datetime, *, first: int | None = None
) -> Credited:
    """Apply `amount` paise received or credited to the retailer's account: clear its open debits
    oldest first (debit `first` before them when given), put the rest into its advance, and move
    the outstanding and the advance to match. The caller writes the PAYMENT, ADJUSTMENT or
    REVERSAL row and the audit entry in the same transaction, then calls `resume_if_cleared`.

    Locks the account row (again, if the caller already holds it: harmless)."""
    require_positive(amount)
    await lock_account(conn, retailer_id)
    credited = allocate(await _open_debits(conn, retailer_id), amount, first)
    await conn.executemany(
        _CLEAR, [(a.transaction_id, a.amount, now) for a in credited.allocations]
    )
    cleared = amount - credited.to_advance
    await move_balance(conn, retailer_id, -cleared, credited.to_advance, now)
    return credited


# Takes what the advance can pay of a new debit of $2 and adds the rest to what is owed; returns
# the part paid from the advance (the account row is locked, so the sub-select reads it as the
# update will find it).
_APPLY_DEBIT = f"""
    WITH paid AS (
        SELECT least(advance, $2::bigint) AS applied FROM credit_accounts WHERE retailer_id = $1
    ), moved AS (
        {
    balance_update("$1", "($2 - (SELECT applied FROM paid))", "-(SELECT applied FROM paid)", "$3")
}
        RETURNING 1
    )
    SELECT applied FROM paid, moved
"""


async def apply_debit(conn: Conn, retailer_id: int, amount: int, now: datetime) -> int:
    """Before writing a new debit of `amount` paise (an order, a debit adjustment): pay what the
    account's advance can of it, add the rest to the outstanding; return the part paid from
    the advance. Write the debit row with that as `cleared_amount` and `debit_status`'s status
    (cleared at `now`), and say `advanceApplied` in its audit entry.

    Locks the account row (again, if the caller already holds it: harmless)."""
    require_positive(amount)
    await lock_account(conn, retailer_id)
    applied: int = await conn.fetchval(_APPLY_DEBIT, retailer_id, amount, now)
    return applied


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
    to_advance: int = 0  # the part that cleared nothing and became advance
    advance_after: int = 0
    resumed: StatusChange | None = None  # the SYSTEM pause this payment lifted


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
    as_advance: bool = False,
    tolerance: int = DEFAULT_OVERDUE_TOLERANCE,
    admin_id: str | None = None,
    notify_resumed: bool = True,
) -> PaymentResult:
    """Record a payment against one named debit, or the retailer's oldest debits first.

    `admin_id` (the API's `adminId`: who took the money, in the client's terms) is kept in the
    audit entry's new value beside `performed_by`.

    Partial payments leave a debit PARTIAL. Unprocessable (`AMOUNT_ABOVE_OWED`, with `amountOwed`
    in paise) when the payment is more than is owed on the named debit or by the retailer,
    unless `as_advance`: then what clears nothing (after the named debit, the others oldest
    first) becomes the retailer's advance, paid into their next debits. Conflict when the
    retailer already has a payment with this reference. A SYSTEM pause whose overdue this pays
    is lifted in the same transaction (`resume_if_cleared`, with `tolerance`), and the retailer
    told unless not `notify_resumed` (a receipt that says so is on its way).
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
                   WHERE retailer_id = $1 AND type = 'PAYMENT' AND reference IS NOT NULL
                     AND norm_key(reference) = norm_key($2)""",
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
            on_named = [d for d in debits if d[0] == named]
            if sum(u for _, u in on_named) == 0:
                raise Unprocessable(
                    "TRANSACTION_NOT_OPEN",
                    f"transaction {named} has nothing left to pay",
                    amountOwed=0,
                )
            if not as_advance:
                _require_owed(amount, on_named, f"transaction {named}")
        elif not as_advance:
            _require_owed(amount, debits, "this account")
        before, advance_before = await get_balance(conn, retailer_id)
        credited = await apply_credit(conn, retailer_id, amount, now, first=named)
        try:
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
        except asyncpg.UniqueViolationError as exc:
            # The unique index on the normalised reference (migration 0009) is the backstop for
            # a writer that did not take the account lock before the check above.
            if exc.constraint_name != "credit_transactions_payment_reference_key":
                raise
            raise Conflict(
                "DUPLICATE_REFERENCE",
                f"payment reference {reference} was already recorded for this retailer",
            ) from None
        after = before - (amount - credited.to_advance)
        advance_after = advance_before + credited.to_advance
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="PAYMENT",
            reference=f"txn:{payment_id}",
            old_value=_balance_json(before, advance_before),
            new_value={
                **_balance_json(after, advance_after),
                "amount": amount,
                "paymentReference": reference,
                "allocations": _allocations_json(credited.allocations),
                **({"toAdvance": credited.to_advance} if credited.to_advance else {}),
                **({"adminId": admin_id} if admin_id is not None else {}),
            },
            performed_by=performed_by,
            at=now,
        )
        await refresh_aging(conn, today, [retailer_id])
        resumed = await resume_if_cleared(
            conn,
            retailer_id,
            today=today,
            now=now,
            cause=f"payment txn:{payment_id}",
            tolerance=tolerance,
            notify=notify_resumed,
        )
    return PaymentResult(
        payment_id=payment_id,
        retailer_id=retailer_id,
        amount=amount,
        reference=reference,
        allocations=credited.allocations,
        outstanding_before=before,
        outstanding_after=after,
        to_advance=credited.to_advance,
        advance_after=advance_after,
        resumed=resumed,
    )


def _balance_json(outstanding: int, advance: int) -> dict[str, int]:
    """An audit entry's balance: the outstanding, and the advance when there is one."""
    return {"outstanding": outstanding, **({"advance": advance} if advance else {})}


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
    to_advance: int = 0  # a CREDIT adjustment's part that cleared nothing
    advance_applied: int = 0  # a DEBIT adjustment's part paid from the advance at once
    advance_after: int = 0
    resumed: StatusChange | None = None


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
    tolerance: int = DEFAULT_OVERDUE_TOLERANCE,
) -> AdjustmentResult:
    """A DEBIT adjustment adds a debit (due after the payment terms, cleared like an order; an
    advance pays what it can of it at once); a CREDIT adjustment clears the oldest debits first,
    like a payment, and what it clears nothing of becomes advance (an operator's deliberate
    correction, so no flag is asked for). A CREDIT lifts a SYSTEM pause whose overdue it pays.
    `reason` is one of return, dispute, discount, correction."""
    require_positive(amount)
    if reason not in ADJUSTMENT_REASONS:
        raise Unprocessable(
            "INVALID_REASON", f"the reason must be one of {', '.join(ADJUSTMENT_REASONS)}"
        )
    direction = Direction(direction)
    today = business_date(now, tz)
    resumed: StatusChange | None = None
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        before, advance_before = await get_balance(conn, retailer_id)
        allocations: tuple[Allocation, ...] = ()
        to_advance = applied = 0
        if direction == Direction.DEBIT:
            terms: int = await conn.fetchval(
                "SELECT payment_terms_days FROM credit_accounts WHERE retailer_id = $1",
                retailer_id,
            )
            applied = await apply_debit(conn, retailer_id, amount, now)
            txn_id = await insert_transaction(
                conn,
                retailer_id,
                txn_type="ADJUSTMENT",
                direction=Direction.DEBIT,
                amount=amount,
                status=debit_status(amount, applied),
                cleared_amount=applied,
                due_date=today + timedelta(days=terms),
                txn_date=today,
                reason=reason,
                notes=notes,
                performed_by=performed_by,
                now=now,
            )
            after = before + amount - applied
        else:
            allocations, to_advance = await apply_credit(conn, retailer_id, amount, now)
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
            after = before - (amount - to_advance)
        advance_after = advance_before - applied + to_advance
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="ADJUSTMENT",
            reference=f"txn:{txn_id}",
            old_value=_balance_json(before, advance_before),
            new_value={
                **_balance_json(after, advance_after),
                "direction": direction.value,
                "amount": amount,
                "allocations": _allocations_json(allocations),
                **({"toAdvance": to_advance} if to_advance else {}),
                **({"advanceApplied": applied} if applied else {}),
            },
            performed_by=performed_by,
            reason=reason,
            at=now,
        )
        await refresh_aging(conn, today, [retailer_id])
        if direction == Direction.CREDIT:
            resumed = await resume_if_cleared(
                conn,
                retailer_id,
                today=today,
                now=now,
                cause=f"adjustment txn:{txn_id}",
                tolerance=tolerance,
            )
    return AdjustmentResult(
        transaction_id=txn_id,
        retailer_id=retailer_id,
        direction=direction,
        amount=amount,
        reason=reason,
        allocations=allocations,
        outstanding_before=before,
        outstanding_after=after,
        to_advance=to_advance,
        advance_applied=applied,
        advance_after=advance_after,
        resumed=resumed,
    )
