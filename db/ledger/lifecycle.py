"""An order's lifecycle (dispatch, deliver, cancel, fail: `move_order`, as the pure table
`bot.orders.TRANSITIONS` allows) and returns after delivery (`return_goods`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from typing import Any

import asyncpg

from bot.clock import business_date
from bot.credit import (
    DEFAULT_OVERDUE_TOLERANCE,
    Direction,
    PaymentMode,
)
from bot.messages import MessageKind, Reply
from bot.orders import (
    TRANSITIONS,
    UNDOES_DEBIT,
    OrderAction,
    OrderStatus,
    Refused,
    ReturnLine,
    ReturnRefused,
    decide_move,
    price_return,
    return_amount,
)
from db.aging import refresh_aging
from db.audit import insert_audit
from db.errors import Conflict, NotFound, Unprocessable
from db.fragments import open_debit
from db.ledger.accounts import (
    get_contact,
    get_outstanding,
    insert_transaction,
    lock_account,
    move_outstanding,
    require_text,
)
from db.ledger.clearing import Allocation, apply_credit
from db.ledger.placing import read_placed_order
from db.ledger.status import resume_if_cleared
from db.outbox import enqueue
from db.pool import Conn

# reversal's reason (cancel and fail undo the debit) and the message the retailer gets.
_STAMPS = {
    OrderAction.DISPATCH: ("dispatched_at", "dispatched_by"),
    OrderAction.DELIVER: ("delivered_at", "delivered_by"),
    OrderAction.CANCEL: ("cancelled_at", "cancelled_by"),
    OrderAction.FAIL: ("failed_at", "failed_by"),
}
_REASON_COLUMN = {OrderAction.CANCEL: "cancel_reason", OrderAction.FAIL: "failure_reason"}
_AUDIT_ACTION = {
    OrderAction.DISPATCH: "ORDER_DISPATCHED",
    OrderAction.DELIVER: "ORDER_DELIVERED",
    OrderAction.CANCEL: "ORDER_CANCELLED",
    OrderAction.FAIL: "ORDER_FAILED",
}
_REVERSAL_REASON = {OrderAction.CANCEL: "order_cancelled", OrderAction.FAIL: "order_failed"}
_MESSAGE = {
    OrderAction.DISPATCH: MessageKind.ORDER_DISPATCHED,
    OrderAction.CANCEL: MessageKind.ORDER_CANCELLED,
    OrderAction.FAIL: MessageKind.ORDER_FAILED,
}


@dataclass(frozen=True)
class OrderMoved:
    """An order moved from `previous_status` to `status` by `action`. For a cancelled or failed
    CREDIT order: its debit's REVERSAL (of the debit's whole amount), the unpaid part taken off
    the outstanding (`reversed_amount`), and the part already paid (`credited`) applied to the
    account's other open debits (`allocations`), the rest kept as advance (`to_advance`)."""

    order_id: int
    retailer_id: int
    action: OrderAction
    previous_status: OrderStatus
    status: OrderStatus
    reason: str | None
    at: datetime
    performed_by: str
    total: int
    payment_mode: PaymentMode
    reversal_id: int | None = None
    reversed_amount: int = 0
    credited: int = 0
    allocations: tuple[Allocation, ...] = ()
    to_advance: int = 0

    @property
    def failed_at(self) -> datetime:
        return self.at


# The name the admin API and chat knew before the lifecycle: a failed order is one move.
FailedOrder = OrderMoved


async def _order_retailer(conn: Conn, order_id: int) -> int:
    retailer_id: int | None = await conn.fetchval(
        "SELECT retailer_id FROM orders WHERE id = $1", order_id
    )
    if retailer_id is None:
        raise NotFound("ORDER_NOT_FOUND", f"no order {order_id}")
    return retailer_id


async def _lock_order(conn: Conn, order_id: int, action: OrderAction) -> asyncpg.Record:
    """The order row, locked; Conflict (409, naming the status) when `action` is not allowed."""
    row = await conn.fetchrow(
        "SELECT status, total, payment_mode, due_date FROM orders WHERE id = $1 FOR UPDATE",
        order_id,
    )
    assert row is not None
    decision = decide_move(order_id, OrderStatus(row["status"]), action)
    if isinstance(decision, Refused):
        raise Conflict(decision.code, decision.message, orderStatus=row["status"])
    return row


async def _insert_event(
    conn: Conn,
    order_id: int,
    action: OrderAction,
    before: OrderStatus,
    after: OrderStatus,
    *,
    reason: str | None,
    transaction_id: int | None,
    performed_by: str,
    now: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO order_events (order_id, action, from_status, to_status, reason,
                                     transaction_id, performed_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        order_id,
        action.value,
        before.value,
        after.value,
        reason,
        transaction_id,
        performed_by,
        now,
    )


async def move_order(
    conn: Conn,
    order_id: int,
    action: OrderAction,
    *,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    reason: str | None = None,
    tolerance: int = DEFAULT_OVERDUE_TOLERANCE,
) -> OrderMoved:
    """Dispatch, deliver, cancel or fail an order, as `bot.orders.TRANSITIONS` allows.

    NotFound for an unknown order; Conflict (409, `orderStatus` in its extra) for a move its status
    does not allow; Unprocessable when cancel or fail has no reason. Stamps the status's time and
    person, writes the order's history (`order_events`) and an audit entry, and queues the
    retailer's message (dispatch, cancel, fail; once per order and event). Cancel and fail of a
    CREDIT order undo its debit in the same transaction (DESIGN section 10): the debit becomes
    REVERSED, a REVERSAL of its whole amount is written, the unpaid part leaves the outstanding
    and the part already paid is credited to the account (other open debits first, oldest first,
    then advance). The account is locked before the order, as every ledger operation locks it.
    """
    if action not in _STAMPS:
        raise ValueError(f"move_order does not do {action}")  # returns have `return_goods`
    undoes = action in UNDOES_DEBIT
    reason = require_text(reason, "reason") if undoes else None
    retailer_id = await _order_retailer(conn, order_id)
    today = business_date(now, tz)
    async with conn.transaction():
        if undoes:
            await lock_account(conn, retailer_id)
        order = await _lock_order(conn, order_id, action)
        before = OrderStatus(order["status"])
        after = TRANSITIONS[(before, action)]
        at_col, by_col = _STAMPS[action]
        reason_set = f", {_REASON_COLUMN[action]} = $5" if action in _REASON_COLUMN else ""
        await conn.execute(
            f"""UPDATE orders SET status = $2, {at_col} = $3, {by_col} = $4{reason_set}
                WHERE id = $1""",
            order_id,
            after.value,
            now,
            performed_by,
            *([reason] if reason_set else []),
        )
        moved = OrderMoved(
            order_id=order_id,
            retailer_id=retailer_id,
            action=action,
            previous_status=before,
            status=after,
            reason=reason,
            at=now,
            performed_by=performed_by,
            total=order["total"],
            payment_mode=PaymentMode(order["payment_mode"]),
        )
        outstanding_before = await get_outstanding(conn, retailer_id) if undoes else 0
        if undoes:
            moved = await _undo_debit(conn, moved, today=today, now=now)
        await _insert_event(
            conn, order_id, action, before, after, reason=reason,
            transaction_id=moved.reversal_id, performed_by=performed_by, now=now,
        )  # fmt: skip
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action=_AUDIT_ACTION[action],
            reference=f"txn:{moved.reversal_id}" if moved.reversal_id else f"order:{order_id}",
            old_value={"orderStatus": before.value}
            | ({"outstanding": outstanding_before} if undoes else {}),
            new_value={"orderStatus": after.value, "orderId": order_id}
            | (
                {
                    "outstanding": outstanding_before
                    - moved.reversed_amount
                    - sum(a.amount for a in moved.allocations),
                    "reversed": moved.reversed_amount,
                    "credited": moved.credited,
                    "allocations": [
                        {"transactionId": a.transaction_id, "amount": a.amount}
                        for a in moved.allocations
                    ],
                    "toAdvance": moved.to_advance,
                }
                if undoes
                else {}
            ),
            performed_by=performed_by,
            reason=reason,
            at=now,
        )
        if undoes and moved.reversal_id is not None:
            await refresh_aging(conn, today, [retailer_id])
            # Less is owed now: a SYSTEM pause whose overdue this paid is lifted (issue 11).
            await resume_if_cleared(
                conn, retailer_id, today=today, now=now, tolerance=tolerance,
                cause=f"{action.value} of order #{order_id} txn:{moved.reversal_id}",
            )  # fmt: skip
        if action in _MESSAGE:
            await _tell_retailer(conn, moved, order["due_date"], now)
    return moved


async def _undo_debit(conn: Conn, moved: OrderMoved, *, today: date, now: datetime) -> OrderMoved:
    """Reverse the order's debit (if it has one): REVERSAL of the whole amount, the unpaid part
    off the outstanding, the paid part credited to the account."""
    debit = await conn.fetchrow(
        """SELECT id, amount, cleared_amount FROM credit_transactions
           WHERE order_id = $1 AND type = 'DEBIT' AND status <> 'REVERSED'
           FOR UPDATE""",
        moved.order_id,
    )
    if debit is None:  # a COD order: no credit moved
        return moved
    unpaid = debit["amount"] - debit["cleared_amount"]
    paid = debit["cleared_amount"]
    await conn.execute(
        "UPDATE credit_transactions SET status = 'REVERSED' WHERE id = $1", debit["id"]
    )
    await move_outstanding(conn, moved.retailer_id, -unpaid, now)
    reversal_id = await insert_transaction(
        conn,
        moved.retailer_id,
        txn_type="REVERSAL",
        direction=Direction.CREDIT,
        amount=debit["amount"],
        status="APPLIED",
        txn_date=today,
        order_id=moved.order_id,
        related_transaction_id=debit["id"],
        reason=_REVERSAL_REASON[moved.action],
        notes=moved.reason,
        performed_by=moved.performed_by,
        now=now,
    )
    allocations: tuple[Allocation, ...] = ()
    to_advance = 0
    if paid > 0:
        allocations, to_advance = await apply_credit(conn, moved.retailer_id, paid, now)
    return replace(
        moved,
        reversal_id=reversal_id,
        reversed_amount=unpaid,
        credited=paid,
        allocations=allocations,
        to_advance=to_advance,
    )


async def _tell_retailer(
    conn: Conn, moved: OrderMoved, due_date: date | None, now: datetime
) -> None:
    """Queue the retailer's message about this move, once per order and event."""
    kind = _MESSAGE[moved.action]
    contact = await get_contact(conn, moved.retailer_id)
    variables: dict[str, Any] = {
        "name": contact.name,
        "order_id": moved.order_id,
        "total": moved.total,
    }
    if moved.action == OrderAction.DISPATCH:
        variables |= {"mode": moved.payment_mode.value, "due_date": due_date}
    else:
        variables |= {
            "reason": moved.reason or "",
            "reversed": moved.reversed_amount,
            "credited": moved.credited,
            "to_advance": moved.to_advance,
        }
    await enqueue(
        conn,
        kind=kind,
        reply=Reply(kind.value, variables),
        to_phone=contact.phone,
        language=contact.language,
        dedupe_key=f"{kind.value}:{moved.order_id}",
        now=now,
        retailer_id=moved.retailer_id,
    )


async def fail_order(
    conn: Conn,
    order_id: int,
    *,
    reason: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int = DEFAULT_OVERDUE_TOLERANCE,
) -> OrderMoved:
    """Mark an order FAILED (a failed delivery): `move_order` with the fail action. A delivered
    order cannot fail (Conflict: goods that came back are a return)."""
    return await move_order(
        conn,
        order_id,
        OrderAction.FAIL,
        reason=reason,
        performed_by=performed_by,
        now=now,
        tz=tz,
        tolerance=tolerance,
    )


# --- returns after delivery ------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnResult:
    """A return: a credit ADJUSTMENT (reason `return`) linked to the order, applied to the
    account (that order's debit first while open, then the oldest debits, the rest advance)."""

    transaction_id: int
    order_id: int
    retailer_id: int
    amount: int
    items: tuple[ReturnLine, ...]
    reason: str
    returned_total: int  # on this order, this return included
    returnable: int  # what is still returnable on the order after this one
    allocations: tuple[Allocation, ...]
    to_advance: int
    outstanding_before: int
    outstanding_after: int
    performed_by: str
    at: datetime


async def return_goods(
    conn: Conn,
    order_id: int,
    *,
    reason: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    amount: int | None = None,
    items: Sequence[tuple[str, int]] | None = None,
    tolerance: int = DEFAULT_OVERDUE_TOLERANCE,
) -> ReturnResult:
    """Goods of a delivered order came back: credit the account for `items` ((product id or SKU,
    quantity), priced at the order's prices) or `amount` (paise), at most the order's total less
    earlier returns. NotFound for an unknown order; Conflict when it is not DELIVERED;
    Unprocessable for an amount or items beyond what was delivered."""
    reason = require_text(reason, "reason")
    retailer_id = await _order_retailer(conn, order_id)
    today = business_date(now, tz)
    async with conn.transaction():
        await lock_account(conn, retailer_id)
        order = await _lock_order(conn, order_id, OrderAction.RETURN)
        delivered = (await read_placed_order(conn, order_id)).items
        returned_before: int = await conn.fetchval(
            """SELECT coalesce(sum(amount), 0)::bigint FROM credit_transactions
               WHERE order_id = $1 AND type = 'ADJUSTMENT' AND reason = 'return'""",
            order_id,
        )
        lines: tuple[ReturnLine, ...] = ()
        if items:
            quantities = await conn.fetch(
                """SELECT product_id, sum(quantity)::int AS quantity FROM return_items
                   WHERE order_id = $1 GROUP BY product_id""",
                order_id,
            )
            priced = price_return(
                order_id, delivered, {r["product_id"]: r["quantity"] for r in quantities}, items
            )
            if isinstance(priced, ReturnRefused):
                raise Unprocessable(priced.code, priced.message)
            lines = priced
        value = return_amount(
            order_id,
            order["total"],
            returned_before,
            amount,
            sum(line.line_total for line in lines) if items else None,
        )
        if isinstance(value, ReturnRefused):
            raise Unprocessable(value.code, value.message, amountReturnable=value.returnable)
        before = await get_outstanding(conn, retailer_id)
        debit_id: int | None = await conn.fetchval(
            f"""SELECT id FROM credit_transactions
                WHERE order_id = $1 AND type = 'DEBIT' AND {open_debit()}""",
            order_id,
        )
        txn_id = await insert_transaction(
            conn,
            retailer_id,
            txn_type="ADJUSTMENT",
            direction=Direction.CREDIT,
            amount=value,
            status="APPLIED",
            txn_date=today,
            order_id=order_id,
            related_transaction_id=debit_id,
            reason="return",
            notes=reason,
            performed_by=performed_by,
            now=now,
        )
        allocations, to_advance = await apply_credit(conn, retailer_id, value, now, first=debit_id)
        if lines:
            await conn.executemany(
                """INSERT INTO return_items (transaction_id, order_id, product_id, sku, name,
                                             unit_price, quantity, line_total)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                [
                    (txn_id, order_id, li.product_id, li.sku, li.name, li.unit_price,
                     li.quantity, li.line_total)
                    for li in lines
                ],
            )  # fmt: skip
        await _insert_event(
            conn, order_id, OrderAction.RETURN, OrderStatus.DELIVERED, OrderStatus.DELIVERED,
            reason=reason, transaction_id=txn_id, performed_by=performed_by, now=now,
        )  # fmt: skip
        after = before - sum(a.amount for a in allocations)
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="RETURN",
            reference=f"txn:{txn_id}",
            old_value={"outstanding": before},
            new_value={
                "outstanding": after,
                "orderId": order_id,
                "amount": value,
                "items": [{"sku": li.sku, "quantity": li.quantity} for li in lines],
                "allocations": [
                    {"transactionId": a.transaction_id, "amount": a.amount} for a in allocations
                ],
                "toAdvance": to_advance,
            },
            performed_by=performed_by,
            reason=reason,
            at=now,
        )
        await refresh_aging(conn, today, [retailer_id])
        await resume_if_cleared(
            conn, retailer_id, today=today, now=now, tolerance=tolerance,
            cause=f"return on order #{order_id} txn:{txn_id}",
        )  # fmt: skip
    return ReturnResult(
        transaction_id=txn_id,
        order_id=order_id,
        retailer_id=retailer_id,
        amount=value,
        items=lines,
        reason=reason,
        returned_total=returned_before + value,
        returnable=order["total"] - returned_before - value,
        allocations=allocations,
        to_advance=to_advance,
        outstanding_before=before,
        outstanding_after=after,
        performed_by=performed_by,
        at=now,
    )
