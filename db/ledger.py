"""Ledger operations: transaction scripts over the credit tables (DESIGN section 3).

Each operation takes `conn` first, the target retailer id, amounts in paise, `performed_by` and
`now`; it runs inside the caller's transaction (`conn.transaction()` nests as a savepoint;
`place_order` adds none, see there), writes its audit entry in that same transaction and keeps
`credit_accounts.outstanding` equal to the sum of open debits' unpaid parts. Every operation
locks the retailer's `credit_accounts` row first, so operations on one retailer run one at a
time and always take their locks in the same order.

Refusals the caller must show are raised as `db.errors.AppError` subclasses (NotFound 404,
Conflict 409, Unprocessable 422) carrying a code and a sentence; order placement returns its refusal as a
Verdict instead, because the checkout offers COD when credit is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import asyncpg

from bot.clock import business_date
from bot.credit import (
    ADJUSTMENT_REASONS,
    MAX_DAYS,
    SYSTEM,
    CreditFacts,
    CreditStatus,
    Direction,
    GuardrailAction,
    PaymentMode,
    RefusalCode,
    Verdict,
    auto_pause_reason,
    guardrail_action,
    terms_problem,
    validate_order_placement,
)
from bot.messages import MessageKind, Reply
from bot.money import format_inr
from bot.orders import OrderLine, PricedLine
from bot.phone import InvalidPhone, looks_like_phone, normalize_phone
from bot.text import is_digits
from db.aging import refresh_aging, refresh_stale_aging
from db.audit import insert_audit
from db.errors import Conflict, NotFound, Unprocessable, retailer_not_found
from db.outbox import enqueue
from db.pool import Conn, atomic

# --- facts and locking ----------------------------------------------------------------------

# Unpaid paise on open debits dated more than max_outstanding_days before $2 (the business day);
# needs `ca` = credit_accounts. Other queries use it to read overdue exactly as the verdict does.
OVERDUE_UNPAID_SQL = """
    COALESCE((SELECT sum(t.amount - t.cleared_amount)
              FROM credit_transactions t
              WHERE t.retailer_id = ca.retailer_id
                AND t.status IN ('OPEN', 'PARTIAL') AND t.direction = 'DEBIT'
                AND t.txn_date < $2::date - ca.max_outstanding_days), 0)::bigint
"""

# What `credit_facts_from_row` reads, with `r` = retailers and `ca` = credit_accounts ($2: the
# business day): every reader of the order verdict's inputs selects exactly these.
CREDIT_FACTS_COLUMNS = f"""
    r.credit_status, ca.credit_limit, ca.outstanding, ca.max_order_value,
    ca.max_outstanding_days, ca.payment_terms_days, {OVERDUE_UNPAID_SQL} AS overdue_unpaid
"""


async def lock_account(conn: Conn, retailer_id: int) -> None:
    """Lock the retailer's credit account row (the per-retailer mutex); NotFound when none."""
    found = await conn.fetchval(
        "SELECT retailer_id FROM credit_accounts WHERE retailer_id = $1 FOR UPDATE", retailer_id
    )
    if found is None:
        raise retailer_not_found(retailer_id)


async def get_credit_facts(conn: Conn, retailer_id: int, today: date) -> CreditFacts | None:
    """What the order verdict needs, as of business day `today`; None for an unknown retailer."""
    row = await conn.fetchrow(
        f"""SELECT {CREDIT_FACTS_COLUMNS}
            FROM credit_accounts ca JOIN retailers r ON r.id = ca.retailer_id
            WHERE ca.retailer_id = $1""",
        retailer_id,
        today,
    )
    return None if row is None else credit_facts_from_row(row)


def credit_facts_from_row(row: asyncpg.Record) -> CreditFacts:
    """CreditFacts from a row that selected CREDIT_FACTS_COLUMNS."""
    return CreditFacts(
        status=CreditStatus(row["credit_status"]),
        credit_limit=row["credit_limit"],
        outstanding=row["outstanding"],
        max_order_value=row["max_order_value"],
        max_outstanding_days=row["max_outstanding_days"],
        payment_terms_days=row["payment_terms_days"],
        overdue_unpaid=row["overdue_unpaid"],
    )


# --- order placement ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    retailer_id: int
    total: int
    payment_mode: PaymentMode
    due_date: date | None
    transaction_id: int | None
    items: tuple[PricedLine, ...]
    created_at: datetime


@dataclass(frozen=True)
class PlaceOrderResult:
    verdict: Verdict
    order: PlacedOrder | None  # None when refused


async def _get_placed_order(conn: Conn, order_id: int) -> PlacedOrder:
    row = await conn.fetchrow(
        """SELECT o.id, o.retailer_id, o.total, o.payment_mode, o.due_date, o.created_at,
                  (SELECT t.id FROM credit_transactions t
                   WHERE t.order_id = o.id AND t.type = 'DEBIT' ORDER BY t.id LIMIT 1) AS txn_id
           FROM orders o WHERE o.id = $1""",
        order_id,
    )
    assert row is not None
    items = await conn.fetch(
        """SELECT product_id, sku, name, unit_price, quantity, line_total
           FROM order_items WHERE order_id = $1 ORDER BY id""",
        order_id,
    )
    return PlacedOrder(
        order_id=row["id"],
        retailer_id=row["retailer_id"],
        total=row["total"],
        payment_mode=PaymentMode(row["payment_mode"]),
        due_date=row["due_date"],
        transaction_id=row["txn_id"],
        items=tuple(PricedLine(**dict(i)) for i in items),
        created_at=row["created_at"],
    )


def _merge_lines(lines: Sequence[OrderLine]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.product_id] = merged.get(line.product_id, 0) + line.quantity
    return merged


# The reads after the account lock, in one statement: the credit facts (as `get_credit_facts`),
# an order already placed for pending order $3, and one row per wanted active product ($4).
_PLACEMENT_FACTS = f"""
    SELECT f.*, p.id AS product_id, p.sku, p.name, p.price
    FROM (SELECT {CREDIT_FACTS_COLUMNS},
                 (SELECT o.id FROM orders o WHERE o.pending_order_id = $3) AS existing_order
          FROM credit_accounts ca JOIN retailers r ON r.id = ca.retailer_id
          WHERE ca.retailer_id = $1) f
    LEFT JOIN products p ON p.id = any($4::bigint[]) AND p.active
"""

# Every write of a placement, in one statement. A CREDIT order raises outstanding (the condition
# is the backstop for the limit: with it false nothing at all is written), writes its DEBIT and
# the audit entry, which gets the new ids here; a COD order is the order and its items alone.
_PLACE = """
    WITH account AS (
        UPDATE credit_accounts SET outstanding = outstanding + $3, updated_at = $6
        WHERE retailer_id = $1 AND $4 = 'CREDIT' AND outstanding + $3 <= credit_limit
        RETURNING outstanding
    ), placed AS (
        INSERT INTO orders (retailer_id, pending_order_id, total, payment_mode, status,
                            due_date, created_at)
        SELECT $1, $2, $3, $4, 'PLACED', $5, $6
        WHERE $4 <> 'CREDIT' OR EXISTS (SELECT FROM account)
        RETURNING id
    ), items AS (
        INSERT INTO order_items (order_id, product_id, sku, name, unit_price, quantity,
                                 line_total)
        SELECT placed.id, i.* FROM placed,
               unnest($7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::int[],
                      $12::bigint[]) AS i
    ), debit AS (
        INSERT INTO credit_transactions (retailer_id, type, direction, amount, status, due_date,
                                         txn_date, order_id, performed_by, created_at)
        SELECT $1, 'DEBIT', 'DEBIT', $3, 'OPEN', $5, $13, placed.id, $14, $6
        FROM placed, account
        RETURNING id
    ), audit AS (
        INSERT INTO audit_log (retailer_id, action, reference, old_value, new_value,
                               performed_by, reason, created_at)
        SELECT $1, 'DEBIT', 'txn:' || debit.id, $15::jsonb,
               $16::jsonb || jsonb_build_object('orderId', placed.id), $14,
               format($17, placed.id), $6
        FROM placed, debit
    )
    SELECT placed.id AS order_id, (SELECT id FROM debit) AS txn_id FROM placed
"""


async def place_order(
    conn: Conn,
    *,
    retailer_id: int,
    lines: Sequence[OrderLine],
    mode: PaymentMode,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    performed_by: str,
    pending_order_id: int | None = None,
) -> PlaceOrderResult:
    """Price the lines, decide the verdict on the locked account and, if allowed, place the order.

    A CREDIT order writes its DEBIT (due on the business day of `now` + payment terms), raises the
    account's outstanding and writes an audit entry, all in one transaction; the account row is
    locked first, so concurrent orders cannot take outstanding above the limit. A second call for
    the same `pending_order_id` returns the order placed the first time. NotFound for a retailer
    without a credit account.

    Four round trips for a credit order (lock, read, write, aging), because the checkout calls it
    while the retailer waits. Inside the caller's transaction it adds no savepoint: it raises
    only before its first write, so there is nothing of its own to roll back.
    """
    today = business_date(now, tz)
    async with atomic(conn):
        await lock_account(conn, retailer_id)
        wanted = _merge_lines(lines)
        # After the lock, so the reads see every change committed before it.
        rows = await conn.fetch(
            _PLACEMENT_FACTS, retailer_id, today, pending_order_id, list(wanted)
        )
        facts = credit_facts_from_row(rows[0])
        if rows[0]["existing_order"] is not None:
            order = await _get_placed_order(conn, rows[0]["existing_order"])
            if order.retailer_id != retailer_id:
                raise Conflict(
                    "PENDING_ORDER_MISMATCH",
                    f"pending order {pending_order_id} belongs to another retailer",
                )
            verdict = Verdict(True, None, "This order was already placed.", facts.available)
            return PlaceOrderResult(verdict, order)

        if not wanted or any(q <= 0 for q in wanted.values()):
            verdict = validate_order_placement(facts, 0, mode, tolerance=tolerance)
            return PlaceOrderResult(verdict, None)

        products = {r["product_id"]: r for r in rows if r["product_id"] is not None}
        if any(pid not in products for pid in wanted):
            message = (
                "Some products in this order are no longer available; please update the order."
            )
            verdict = Verdict(False, RefusalCode.PRODUCT_UNAVAILABLE, message, facts.available)
            return PlaceOrderResult(verdict, None)

        items = tuple(
            PricedLine(
                product_id=pid,
                sku=products[pid]["sku"],
                name=products[pid]["name"],
                unit_price=products[pid]["price"],
                quantity=qty,
                line_total=products[pid]["price"] * qty,
            )
            for pid, qty in wanted.items()
        )
        total = sum(i.line_total for i in items)
        verdict = validate_order_placement(facts, total, mode, tolerance=tolerance)
        if not verdict.allowed:
            return PlaceOrderResult(verdict, None)

        credit = mode == PaymentMode.CREDIT
        due_date = today + timedelta(days=facts.payment_terms_days) if credit else None
        new_outstanding = facts.outstanding + total if credit else facts.outstanding
        row = await conn.fetchrow(
            _PLACE,
            retailer_id,
            pending_order_id,
            total,
            mode.value,
            due_date,
            now,
            [i.product_id for i in items],
            [i.sku for i in items],
            [i.name for i in items],
            [i.unit_price for i in items],
            [i.quantity for i in items],
            [i.line_total for i in items],
            today,
            performed_by,
            {"outstanding": facts.outstanding},
            {
                "outstanding": new_outstanding,
                "amount": total,
                "dueDate": due_date.isoformat() if due_date else None,
            },
            f"credit order #%s of {format_inr(total)}",
        )
        if row is None:  # pragma: no cover - unreachable under the lock
            raise Conflict("CREDIT_LIMIT_EXCEEDED", "the credit limit would be exceeded")
        if credit:
            await refresh_aging(conn, today, [retailer_id])
        order = PlacedOrder(
            order_id=row["order_id"],
            retailer_id=retailer_id,
            total=total,
            payment_mode=mode,
            due_date=due_date,
            transaction_id=row["txn_id"],
            items=items,
            created_at=now,
        )
        available = max(0, facts.credit_limit - new_outstanding)
        placed = Verdict(True, None, "The order is placed.", available)
        return PlaceOrderResult(placed, order)


# --- addressing -----------------------------------------------------------------------------


async def resolve_retailer(conn: Conn, ref: str) -> int | None:
    """A retailer's id from an id (`42`) or a phone number in any spelling normalize_phone takes."""
    text = ref.strip()
    if not text:
        return None
    if is_digits(text) and not looks_like_phone(text):
        if len(text) > 18:
            return None
        found: int | None = await conn.fetchval("SELECT id FROM retailers WHERE id = $1", int(text))
        return found
    try:
        phone = normalize_phone(text)
    except InvalidPhone:
        return None
    by_phone: int | None = await conn.fetchval("SELECT id FROM retailers WHERE phone = $1", phone)
    return by_phone


@dataclass(frozen=True)
class Contact:
    retailer_id: int
    phone: str
    name: str
    language: str
    status: CreditStatus
    paused_by: str | None


async def _get_contact(conn: Conn, retailer_id: int) -> Contact:
    row = await conn.fetchrow(
        """SELECT id, phone, name, language, credit_status, paused_by
           FROM retailers WHERE id = $1""",
        retailer_id,
    )
    if row is None:
        raise retailer_not_found(retailer_id)
    return Contact(
        retailer_id=row["id"],
        phone=row["phone"],
        name=row["name"],
        language=row["language"],
        status=CreditStatus(row["credit_status"]),
        paused_by=row["paused_by"],
    )


def _require_positive(amount: int) -> None:
    if amount <= 0:
        raise Unprocessable("INVALID_AMOUNT", "the amount must be positive")


def _require_text(value: str | None, field: str, *, max_len: int = 500) -> str:
    text = (value or "").strip()
    if not text:
        raise Unprocessable("REASON_REQUIRED", f"a {field} is required")
    if len(text) > max_len:
        raise Unprocessable("INVALID_FIELD", f"the {field} is longer than {max_len} characters")
    return text


# --- pause and unpause ----------------------------------------------------------------------


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
    reason = _require_text(reason, "reason")
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        contact = await _get_contact(conn, retailer_id)
        if contact.status == CreditStatus.PAUSED:
            raise Conflict("ALREADY_PAUSED", "credit is already paused for this retailer")
        if contact.status == CreditStatus.BLOCKED:
            raise Conflict("CREDIT_BLOCKED", "credit is blocked for this retailer")
        return await _set_paused(conn, contact, reason=reason, performed_by=performed_by, now=now)


async def _set_paused(
    conn: Conn,
    contact: Contact,
    *,
    reason: str,
    performed_by: str,
    now: datetime,
    overdue: tuple[int, int] | None = None,
) -> StatusChange:
    """`overdue` (unpaid paise, allowed days) of a SYSTEM pause lets the notice state the reason
    in the retailer's language; a person's reason is sent as they wrote it."""
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
        contact = await _get_contact(conn, retailer_id)
        if contact.status == CreditStatus.ACTIVE:
            raise Conflict("NOT_PAUSED", "credit is already active for this retailer")
        return await _set_active(
            conn, contact, reason=(reason or "").strip() or None, performed_by=performed_by, now=now
        )


async def _set_active(
    conn: Conn, contact: Contact, *, reason: str | None, performed_by: str, now: datetime
) -> StatusChange:
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


# --- clearing: payments and credit adjustments ----------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """Part of a payment or credit applied to one debit."""

    transaction_id: int
    amount: int


async def _outstanding(conn: Conn, retailer_id: int) -> int:
    value: int = await conn.fetchval(
        "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", retailer_id
    )
    return value


async def _open_debits(conn: Conn, retailer_id: int) -> list[tuple[int, int]]:
    """(id, unpaid) of the retailer's open debits, oldest first."""
    rows = await conn.fetch(
        """SELECT id, amount - cleared_amount AS unpaid FROM credit_transactions
           WHERE retailer_id = $1 AND status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT'
           ORDER BY txn_date, id""",
        retailer_id,
    )
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
    await conn.execute(
        """UPDATE credit_accounts SET outstanding = outstanding - $2, updated_at = $3
           WHERE retailer_id = $1""",
        retailer_id,
        amount,
        now,
    )
    return tuple(allocations)


def _overpaid(amount: int, owed: int, what: str) -> Unprocessable:
    return Unprocessable(
        "AMOUNT_ABOVE_OWED",
        f"{format_inr(amount)} is more than the {format_inr(owed)} owed on {what}",
        amountOwed=owed,
    )


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
) -> PaymentResult:
    """Record a payment against one named debit, or the retailer's oldest debits first.

    Partial payments leave a debit PARTIAL. Unprocessable (`AMOUNT_ABOVE_OWED`, with `amountOwed`
    in paise) when the payment is more than is owed on the named debit or by the retailer;
    Conflict when the retailer already has a payment with this reference.
    """
    _require_positive(amount)
    reference = (reference or "").strip() or None
    if reference is not None and len(reference) > 100:
        raise Unprocessable("INVALID_FIELD", "the reference is longer than 100 characters")
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
            debits = [d for d in debits if d[0] == named]
            owed = sum(u for _, u in debits)
            if owed == 0:
                raise Unprocessable(
                    "TRANSACTION_NOT_OPEN",
                    f"transaction {named} has nothing left to pay",
                    amountOwed=0,
                )
            if amount > owed:
                raise _overpaid(amount, owed, f"transaction {named}")
        else:
            owed = sum(u for _, u in debits)
            if amount > owed:
                raise _overpaid(amount, owed, "this account")
        before = await _outstanding(conn, retailer_id)
        allocations = await _clear(conn, retailer_id, debits, amount, now)
        payment_id: int | None = await conn.fetchval(
            """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                   txn_date, related_transaction_id, reference, performed_by, created_at)
               VALUES ($1, 'PAYMENT', 'CREDIT', $2, 'APPLIED', $3, $4, $5, $6, $7)
               ON CONFLICT DO NOTHING
               RETURNING id""",
            retailer_id,
            amount,
            today,
            named,
            reference,
            performed_by,
            now,
        )
        if payment_id is None:
            # The unique index on the normalised reference is the backstop for a writer that
            # did not take the account lock before the check above (issue 9, item 5).
            raise Conflict(
                "DUPLICATE_REFERENCE",
                f"payment reference {reference} was already recorded for this retailer",
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
                "allocations": [
                    {"transactionId": a.transaction_id, "amount": a.amount} for a in allocations
                ],
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
    _require_positive(amount)
    if reason not in ADJUSTMENT_REASONS:
        raise Unprocessable(
            "INVALID_REASON", f"the reason must be one of {', '.join(ADJUSTMENT_REASONS)}"
        )
    direction = Direction(direction)
    today = business_date(now, tz)
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        before = await _outstanding(conn, retailer_id)
        allocations: tuple[Allocation, ...] = ()
        if direction == Direction.DEBIT:
            terms: int = await conn.fetchval(
                "SELECT payment_terms_days FROM credit_accounts WHERE retailer_id = $1",
                retailer_id,
            )
            txn_id: int = await conn.fetchval(
                """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                       due_date, txn_date, reason, notes, performed_by, created_at)
                   VALUES ($1, 'ADJUSTMENT', 'DEBIT', $2, 'OPEN', $3, $4, $5, $6, $7, $8)
                   RETURNING id""",
                retailer_id,
                amount,
                today + timedelta(days=terms),
                today,
                reason,
                notes,
                performed_by,
                now,
            )
            await conn.execute(
                """UPDATE credit_accounts SET outstanding = outstanding + $2, updated_at = $3
                   WHERE retailer_id = $1""",
                retailer_id,
                amount,
                now,
            )
            after = before + amount
        else:
            debits = await _open_debits(conn, retailer_id)
            owed = sum(u for _, u in debits)
            if amount > owed:
                raise _overpaid(amount, owed, "this account")
            allocations = await _clear(conn, retailer_id, debits, amount, now)
            txn_id = await conn.fetchval(
                """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                       txn_date, reason, notes, performed_by, created_at)
                   VALUES ($1, 'ADJUSTMENT', 'CREDIT', $2, 'APPLIED', $3, $4, $5, $6, $7)
                   RETURNING id""",
                retailer_id,
                amount,
                today,
                reason,
                notes,
                performed_by,
                now,
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
                "allocations": [
                    {"transactionId": a.transaction_id, "amount": a.amount} for a in allocations
                ],
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


# --- guardrail settings ---------------------------------------------------------------------


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


# --- guardrails evaluation ------------------------------------------------------------------


@dataclass(frozen=True)
class GuardrailRun:
    """What one evaluation did: who was paused (with the reason) and who was resumed."""

    checked: int
    paused: tuple[tuple[int, str], ...]
    resumed: tuple[int, ...]


async def evaluate_guardrails(
    conn: Conn,
    *,
    today: date,
    now: datetime,
    tolerance: int,
    performed_by: str = SYSTEM,
) -> GuardrailRun:
    """Pause by SYSTEM every ACTIVE account with debits unpaid beyond its allowed days (above the
    tolerance), resume SYSTEM-paused accounts whose overdue is cleared; never lift an admin's
    pause. Each account changes in its own savepoint under its lock; a second run the same day
    finds nothing to do. First it brings every account's stored aging to `today` (the daily
    risk refresh), which keeps the dashboard and the at-risk list fast."""
    await refresh_stale_aging(conn, today)
    candidates = await conn.fetch(
        """SELECT r.id FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
           WHERE (r.credit_status = 'ACTIVE' AND EXISTS (
                      SELECT 1 FROM credit_transactions t
                      WHERE t.retailer_id = r.id AND t.status IN ('OPEN', 'PARTIAL')
                        AND t.direction = 'DEBIT'
                        AND t.txn_date < $1::date - ca.max_outstanding_days))
              OR (r.credit_status = 'PAUSED' AND r.paused_by = $2)
           ORDER BY r.id""",
        today,
        SYSTEM,
    )
    paused: list[tuple[int, str]] = []
    resumed: list[int] = []
    for row in candidates:
        rid = row["id"]
        async with conn.transaction():
            await lock_account(conn, rid)
            contact = await _get_contact(conn, rid)
            facts = await get_credit_facts(conn, rid, today)
            assert facts is not None
            action = guardrail_action(
                contact.status, contact.paused_by, facts.overdue_unpaid, tolerance
            )
            if action == GuardrailAction.PAUSE:
                reason = auto_pause_reason(facts.overdue_unpaid, facts.max_outstanding_days)
                await _set_paused(
                    conn,
                    contact,
                    reason=reason,
                    performed_by=SYSTEM,
                    now=now,
                    overdue=(facts.overdue_unpaid, facts.max_outstanding_days),
                )
                paused.append((rid, reason))
            elif action == GuardrailAction.RESUME:
                await _set_active(
                    conn, contact, reason="overdue cleared", performed_by=SYSTEM, now=now
                )
                resumed.append(rid)
    return GuardrailRun(checked=len(candidates), paused=tuple(paused), resumed=tuple(resumed))


# --- failed orders --------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedOrder:
    order_id: int
    retailer_id: int
    reason: str
    failed_at: datetime
    total: int
    reversed_amount: int  # paise taken off the outstanding (the debit's unpaid part)
    reversal_id: int | None


async def fail_order(
    conn: Conn, order_id: int, *, reason: str, performed_by: str, now: datetime, tz: tzinfo
) -> FailedOrder:
    """Mark an order FAILED, reverse the unpaid part of its debit, audit it and queue the
    `order_failed` message (once per order). NotFound for an unknown order; Conflict when it has
    already failed or was cancelled. A part already paid stays recorded as paid."""
    reason = _require_text(reason, "reason")
    retailer_id: int | None = await conn.fetchval(
        "SELECT retailer_id FROM orders WHERE id = $1", order_id
    )
    if retailer_id is None:
        raise NotFound("ORDER_NOT_FOUND", f"no order {order_id}")
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        order = await conn.fetchrow(
            "SELECT status, total FROM orders WHERE id = $1 FOR UPDATE", order_id
        )
        assert order is not None
        if order["status"] in ("FAILED", "CANCELLED"):
            raise Conflict(
                "ORDER_ALREADY_CLOSED", f"order {order_id} is already {order['status'].lower()}"
            )
        await conn.execute(
            """UPDATE orders SET status = 'FAILED', failed_at = $2, failure_reason = $3
               WHERE id = $1""",
            order_id,
            now,
            reason,
        )
        debit = await conn.fetchrow(
            """SELECT id, amount - cleared_amount AS unpaid FROM credit_transactions
               WHERE order_id = $1 AND type = 'DEBIT' AND status IN ('OPEN', 'PARTIAL')
               FOR UPDATE""",
            order_id,
        )
        before = await _outstanding(conn, retailer_id)
        reversed_amount = 0
        reversal_id: int | None = None
        if debit is not None:
            reversed_amount = debit["unpaid"]
            await conn.execute(
                "UPDATE credit_transactions SET status = 'REVERSED' WHERE id = $1", debit["id"]
            )
            await conn.execute(
                """UPDATE credit_accounts SET outstanding = outstanding - $2, updated_at = $3
                   WHERE retailer_id = $1""",
                retailer_id,
                reversed_amount,
                now,
            )
            reversal_id = await conn.fetchval(
                """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                       txn_date, order_id, related_transaction_id, reason, notes, performed_by,
                       created_at)
                   VALUES ($1, 'REVERSAL', 'CREDIT', $2, 'APPLIED', $3, $4, $5, 'order_failed',
                           $6, $7, $8)
                   RETURNING id""",
                retailer_id,
                reversed_amount,
                business_date(now, tz),
                order_id,
                debit["id"],
                reason,
                performed_by,
                now,
            )
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="ORDER_FAILED",
            reference=f"txn:{reversal_id}" if reversal_id else f"order:{order_id}",
            old_value={"orderStatus": order["status"], "outstanding": before},
            new_value={
                "orderStatus": "FAILED",
                "orderId": order_id,
                "outstanding": before - reversed_amount,
                "reversed": reversed_amount,
            },
            performed_by=performed_by,
            reason=reason,
            at=now,
        )
        await refresh_aging(conn, business_date(now, tz), [retailer_id])
        contact = await _get_contact(conn, retailer_id)
        await enqueue(
            conn,
            kind=MessageKind.ORDER_FAILED,
            reply=Reply(
                "order_failed",
                {
                    "name": contact.name,
                    "order_id": order_id,
                    "reason": reason,
                    "total": order["total"],
                    "reversed": reversed_amount,
                },
            ),
            to_phone=contact.phone,
            language=contact.language,
            dedupe_key=f"order_failed:{order_id}",
            now=now,
            retailer_id=retailer_id,
        )
    return FailedOrder(
        order_id=order_id,
        retailer_id=retailer_id,
        reason=reason,
        failed_at=now,
        total=order["total"],
        reversed_amount=reversed_amount,
        reversal_id=reversal_id,
    )
