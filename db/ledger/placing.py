"""Placing an order: the checkout's credit decision and its writes, in few round trips, and
reading a placed order back (`read_placed_order`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.clock import business_date
from bot.credit import (
    PaymentMode,
    RefusalCode,
    Verdict,
    validate_order_placement,
)
from bot.money import format_inr
from bot.orders import (
    OrderLine,
    PricedLine,
)
from db.aging import refresh_aging
from db.errors import Conflict
from db.fragments import balance_update
from db.ledger.accounts import (
    CREDIT_FACTS_COLUMNS,
    credit_facts_from_row,
    debit_status,
    lock_account,
)
from db.pool import Conn, atomic

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
    advance_applied: int = 0  # paid at once from the retailer's advance (a credit order)


@dataclass(frozen=True)
class PlaceOrderResult:
    verdict: Verdict
    order: PlacedOrder | None  # None when refused


async def read_placed_order(conn: Conn, order_id: int) -> PlacedOrder:
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

# Every write of a placement, in one statement. A CREDIT order raises outstanding by what the
# advance ($18, read under the lock) does not pay (the condition is the backstop for the limit:
# with it false nothing at all is written), writes its DEBIT (cleared by $18 at once, status $19)
# and the audit entry, which gets the new ids here; a COD order is the order and its items alone.
_PLACE = f"""
    WITH account AS (
        {balance_update("$1", "($3::bigint - $18::bigint)", "-$18::bigint", "$6")}
          AND $4 = 'CREDIT' AND outstanding + ($3::bigint - $18::bigint) <= credit_limit
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
                                         txn_date, order_id, performed_by, created_at,
                                         cleared_amount, cleared_at)
        SELECT $1, 'DEBIT', 'DEBIT', $3, $19, $5, $13, placed.id, $14, $6, $18,
               CASE WHEN $18::bigint > 0 THEN $6::timestamptz END
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

    A CREDIT order writes its DEBIT (due on the business day of `now` + payment terms, paid at
    once from the advance as far as it goes), raises the account's outstanding by the rest and
    writes an audit entry, all in one transaction; the account row is
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
            order = await read_placed_order(conn, rows[0]["existing_order"])
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
        # An advance pays the order first, in this same statement (apply_debit's rule).
        applied = min(facts.advance, total) if credit else 0
        new_outstanding = facts.outstanding + total - applied if credit else facts.outstanding
        old_balance: dict[str, int] = {"outstanding": facts.outstanding}
        new_balance: dict[str, int] = {"outstanding": new_outstanding}
        if applied:
            old_balance["advance"] = facts.advance
            new_balance.update(advance=facts.advance - applied, advanceApplied=applied)
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
            old_balance,
            {
                **new_balance,
                "amount": total,
                "dueDate": due_date.isoformat() if due_date else None,
            },
            f"credit order #%s of {format_inr(total)}",
            applied,
            debit_status(total, applied),
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
            advance_applied=applied,
        )
        available = max(0, facts.credit_limit - new_outstanding + facts.advance - applied)
        placed = Verdict(True, None, "The order is placed.", available)
        return PlaceOrderResult(placed, order)


# --- the lifecycle: dispatch, deliver, cancel, fail ------------------------------------------

# Per action: the column pair stamped with the time and the person, the audit action, the
