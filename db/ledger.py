"""Ledger operations: transaction scripts over the credit tables (DESIGN section 3).

Each operation takes `conn` first, the target retailer id, amounts in paise, `performed_by` and
`now`; it runs inside the caller's transaction (`conn.transaction()` nests as a savepoint), writes
its audit entry in that same transaction and keeps `credit_accounts.outstanding` equal to the sum
of open debits' unpaid parts. Every operation locks the retailer's `credit_accounts` row first,
so operations on one retailer run one at a time and always take their locks in the same order.

Refusals the caller must show are raised as `LedgerError` subclasses (NotFound 404, Conflict 409,
Unprocessable 422) carrying a code and a sentence; order placement returns its refusal as a
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
    PRODUCT_UNAVAILABLE,
    CreditFacts,
    CreditStatus,
    PaymentMode,
    Verdict,
    validate_order_placement,
)
from bot.money import format_inr

# --- errors ---------------------------------------------------------------------------------


class LedgerError(Exception):
    """A refusal with a code, a sentence for the person, and the HTTP status it maps to."""

    status = 400

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class NotFound(LedgerError):
    status = 404


class Conflict(LedgerError):
    status = 409


class Unprocessable(LedgerError):
    status = 422


def retailer_not_found(retailer_id: int | str) -> NotFound:
    return NotFound("RETAILER_NOT_FOUND", f"no retailer {retailer_id}")


# --- facts and locking ----------------------------------------------------------------------

# Unpaid paise on open debits dated more than max_outstanding_days before $2 (the business day).
_OVERDUE_UNPAID_SQL = """
    COALESCE((SELECT sum(t.amount - t.cleared_amount)
              FROM credit_transactions t
              WHERE t.retailer_id = ca.retailer_id
                AND t.status IN ('OPEN', 'PARTIAL') AND t.direction = 'DEBIT'
                AND t.txn_date < $2::date - ca.max_outstanding_days), 0)::bigint
"""


async def lock_account(conn: asyncpg.Connection, retailer_id: int) -> None:
    """Lock the retailer's credit account row (the per-retailer mutex); NotFound when none."""
    found = await conn.fetchval(
        "SELECT retailer_id FROM credit_accounts WHERE retailer_id = $1 FOR UPDATE", retailer_id
    )
    if found is None:
        raise retailer_not_found(retailer_id)


async def get_credit_facts(
    conn: asyncpg.Connection, retailer_id: int, today: date
) -> CreditFacts | None:
    """What the order verdict needs, as of business day `today`; None for an unknown retailer."""
    row = await conn.fetchrow(
        f"""SELECT r.credit_status, ca.credit_limit, ca.outstanding, ca.max_order_value,
                   ca.max_outstanding_days, ca.payment_terms_days,
                   {_OVERDUE_UNPAID_SQL} AS overdue_unpaid
            FROM credit_accounts ca JOIN retailers r ON r.id = ca.retailer_id
            WHERE ca.retailer_id = $1""",
        retailer_id,
        today,
    )
    if row is None:
        return None
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
class OrderLine:
    product_id: int
    quantity: int


@dataclass(frozen=True)
class PlacedItem:
    product_id: int
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    retailer_id: int
    total: int
    payment_mode: PaymentMode
    due_date: date | None
    transaction_id: int | None
    items: tuple[PlacedItem, ...]
    created_at: datetime


@dataclass(frozen=True)
class PlaceOrderResult:
    verdict: Verdict
    order: PlacedOrder | None  # None when refused


async def _get_placed_order(conn: asyncpg.Connection, order_id: int) -> PlacedOrder:
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
        items=tuple(PlacedItem(**dict(i)) for i in items),
        created_at=row["created_at"],
    )


def _merge_lines(lines: Sequence[OrderLine]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.product_id] = merged.get(line.product_id, 0) + line.quantity
    return merged


async def place_order(
    conn: asyncpg.Connection,
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
    """
    today = business_date(now, tz)
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        if pending_order_id is not None:
            existing = await conn.fetchval(
                "SELECT id FROM orders WHERE pending_order_id = $1", pending_order_id
            )
            if existing is not None:
                order = await _get_placed_order(conn, existing)
                if order.retailer_id != retailer_id:
                    raise Conflict(
                        "PENDING_ORDER_MISMATCH",
                        f"pending order {pending_order_id} belongs to another retailer",
                    )
                facts = await get_credit_facts(conn, retailer_id, today)
                assert facts is not None
                verdict = Verdict(True, None, "This order was already placed.", facts.available)
                return PlaceOrderResult(verdict, order)

        facts = await get_credit_facts(conn, retailer_id, today)
        assert facts is not None
        wanted = _merge_lines(lines)
        if not wanted or any(q <= 0 for q in wanted.values()):
            verdict = validate_order_placement(facts, 0, mode, tolerance=tolerance)
            return PlaceOrderResult(verdict, None)

        rows = await conn.fetch(
            """SELECT id, sku, name, price FROM products
               WHERE id = any($1::bigint[]) AND active""",
            list(wanted),
        )
        products = {r["id"]: r for r in rows}
        missing = [pid for pid in wanted if pid not in products]
        if missing:
            message = (
                "Some products in this order are no longer available; please update the order."
            )
            verdict = Verdict(False, PRODUCT_UNAVAILABLE, message, facts.available)
            return PlaceOrderResult(verdict, None)

        items = tuple(
            PlacedItem(
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

        due_date: date | None = None
        new_outstanding = facts.outstanding
        if mode == PaymentMode.CREDIT:
            due_date = today + timedelta(days=facts.payment_terms_days)
            # The lock already serialises; the condition is the backstop for the limit.
            new_outstanding = await conn.fetchval(
                """UPDATE credit_accounts SET outstanding = outstanding + $2, updated_at = $3
                   WHERE retailer_id = $1 AND outstanding + $2 <= credit_limit
                   RETURNING outstanding""",
                retailer_id,
                total,
                now,
            )
            if new_outstanding is None:  # pragma: no cover - unreachable under the lock
                raise Conflict("CREDIT_LIMIT_EXCEEDED", "the credit limit would be exceeded")

        order_id: int = await conn.fetchval(
            """INSERT INTO orders (retailer_id, pending_order_id, total, payment_mode, status,
                   due_date, created_at)
               VALUES ($1, $2, $3, $4, 'PLACED', $5, $6) RETURNING id""",
            retailer_id,
            pending_order_id,
            total,
            mode.value,
            due_date,
            now,
        )
        await conn.executemany(
            """INSERT INTO order_items (order_id, product_id, sku, name, unit_price, quantity,
                   line_total) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [
                (order_id, i.product_id, i.sku, i.name, i.unit_price, i.quantity, i.line_total)
                for i in items
            ],
        )
        txn_id: int | None = None
        if mode == PaymentMode.CREDIT:
            txn_id = await conn.fetchval(
                """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                       due_date, txn_date, order_id, performed_by, created_at)
                   VALUES ($1, 'DEBIT', 'DEBIT', $2, 'OPEN', $3, $4, $5, $6, $7) RETURNING id""",
                retailer_id,
                total,
                due_date,
                today,
                order_id,
                performed_by,
                now,
            )
            await _audit(
                conn,
                retailer_id=retailer_id,
                action="DEBIT",
                reference=f"txn:{txn_id}",
                old_value={"outstanding": facts.outstanding},
                new_value={
                    "outstanding": new_outstanding,
                    "amount": total,
                    "orderId": order_id,
                    "dueDate": due_date.isoformat() if due_date else None,
                },
                performed_by=performed_by,
                reason=f"credit order #{order_id} of {format_inr(total)}",
                at=now,
            )
        order = PlacedOrder(
            order_id=order_id,
            retailer_id=retailer_id,
            total=total,
            payment_mode=mode,
            due_date=due_date,
            transaction_id=txn_id,
            items=items,
            created_at=now,
        )
        available = max(0, facts.credit_limit - new_outstanding)
        placed = Verdict(True, None, "The order is placed.", available)
        return PlaceOrderResult(placed, order)


async def _audit(
    conn: asyncpg.Connection,
    *,
    retailer_id: int,
    action: str,
    performed_by: str,
    at: datetime,
    reference: str | None = None,
    old_value: Any = None,
    new_value: Any = None,
    reason: str | None = None,
) -> int:
    from db.audit import insert_audit

    return await insert_audit(
        conn,
        retailer_id=retailer_id,
        action=action,
        performed_by=performed_by,
        at=at,
        reference=reference,
        old_value=old_value,
        new_value=new_value,
        reason=reason,
    )
