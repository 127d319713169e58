"""The dispatch desk's reads: orders newest first (keyset pages), one order in full, checkouts
still open.

Lists are walked by keyset on (created_at, id) descending, so page 2,000 costs what page 1 does;
each filter combination has an index that serves its order (migration 0017): all orders
`orders_created_idx`, by status `orders_status_created_idx`, by retailer
`orders_retailer_created_idx`. The WHERE clause is built from the filters present (never
`$n IS NULL OR ...`, which a generic plan cannot use an index for).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.orders import OrderStatus, PricedLine
from bot.statements import days_overdue
from db.pool import Conn
from db.statements import snapshot


@dataclass(frozen=True)
class OrderRow:
    order_id: int
    retailer_id: int
    retailer_name: str
    shop_name: str
    phone: str
    total: int
    payment_mode: str
    status: str
    due_date: date | None
    item_count: int
    created_at: datetime
    dispatched_at: datetime | None
    delivered_at: datetime | None
    closed_at: datetime | None  # cancelled or failed
    close_reason: str | None


@dataclass(frozen=True)
class OrderPage:
    orders: tuple[OrderRow, ...]
    next_key: tuple[datetime, int] | None  # the last row's (created_at, id) when more follow


_ORDER_COLUMNS = """
    o.id, o.retailer_id, r.name AS retailer_name, r.shop_name, r.phone, o.total, o.payment_mode,
    o.status, o.due_date, o.created_at, o.dispatched_at, o.delivered_at,
    coalesce(o.cancelled_at, o.failed_at) AS closed_at,
    coalesce(o.cancel_reason, o.failure_reason) AS close_reason,
    (SELECT count(*) FROM order_items i WHERE i.order_id = o.id)::int AS item_count
"""


def _order_row(r: Any) -> OrderRow:
    return OrderRow(
        order_id=r["id"],
        retailer_id=r["retailer_id"],
        retailer_name=r["retailer_name"],
        shop_name=r["shop_name"],
        phone=r["phone"],
        total=r["total"],
        payment_mode=r["payment_mode"],
        status=r["status"],
        due_date=r["due_date"],
        item_count=r["item_count"],
        created_at=r["created_at"],
        dispatched_at=r["dispatched_at"],
        delivered_at=r["delivered_at"],
        closed_at=r["closed_at"],
        close_reason=r["close_reason"],
    )


def orders_query(
    *,
    status: OrderStatus | None,
    retailer_id: int | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """The list's SQL and arguments for the filters present (exposed for the EXPLAIN test)."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if status is not None:
        where.append(f"o.status = {arg(status.value)}")
    if retailer_id is not None:
        where.append(f"o.retailer_id = {arg(retailer_id)}")
    if since is not None:
        where.append(f"o.created_at >= {arg(since)}")
    if until is not None:
        where.append(f"o.created_at < {arg(until)}")
    if after is not None:
        where.append(f"(o.created_at, o.id) < ({arg(after[0])}, {arg(after[1])})")
    sql = f"""
        SELECT {_ORDER_COLUMNS}
        FROM orders o JOIN retailers r ON r.id = o.retailer_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY o.created_at DESC, o.id DESC
        LIMIT {arg(limit + 1)}
    """
    return sql, args


async def list_orders(
    conn: Conn,
    *,
    status: OrderStatus | None = None,
    retailer_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> OrderPage:
    """Orders newest first, filtered by status, retailer and creation time [since, until), from
    just after keyset `after`; `next_key` when another page follows."""
    sql, args = orders_query(
        status=status, retailer_id=retailer_id, since=since, until=until, after=after, limit=limit
    )
    rows = await conn.fetch(sql, *args)
    page = [_order_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    return OrderPage(
        orders=tuple(page),
        next_key=(page[-1].created_at, page[-1].order_id) if more and page else None,
    )


# --- one order in full -------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerLine:
    """A credit_transactions row linked to the order (its debit, reversal, returns)."""

    transaction_id: int
    type: str
    direction: str
    status: str
    amount: int
    cleared_amount: int
    reason: str | None
    notes: str | None
    due_date: date | None
    performed_by: str
    created_at: datetime


@dataclass(frozen=True)
class ReturnedItem:
    transaction_id: int
    product_id: int
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int


@dataclass(frozen=True)
class OrderEvent:
    action: str  # place, dispatch, deliver, cancel, fail, return
    from_status: str | None
    to_status: str
    reason: str | None
    transaction_id: int | None
    performed_by: str
    at: datetime


@dataclass(frozen=True)
class OrderDetail:
    order: OrderRow
    pending_order_id: int | None
    items: tuple[PricedLine, ...]
    debit: LedgerLine | None
    days_overdue: int  # of the debit's unpaid part, as of the day asked
    credits: tuple[LedgerLine, ...]  # reversal and returns, in order
    returned_items: tuple[ReturnedItem, ...]
    returned_total: int
    history: tuple[OrderEvent, ...]
    stamps: dict[str, Any]  # each status's time and person


async def get_order_detail(conn: Conn, order_id: int, today: date) -> OrderDetail | None:
    """One order: items, payment, its debit (and what is unpaid, days overdue), reversal and
    returns, the history of its moves; None for an unknown order. Read in one snapshot."""
    async with snapshot(conn):
        head = await conn.fetchrow(
            f"""SELECT {_ORDER_COLUMNS}, o.pending_order_id, o.dispatched_by, o.delivered_by,
                       o.cancelled_at, o.cancelled_by, o.cancel_reason, o.failed_at,
                       o.failed_by, o.failure_reason,
                       (SELECT t.performed_by FROM credit_transactions t
                        WHERE t.order_id = o.id AND t.type = 'DEBIT' ORDER BY t.id LIMIT 1)
                           AS placed_by
                FROM orders o JOIN retailers r ON r.id = o.retailer_id
                WHERE o.id = $1""",
            order_id,
        )
        if head is None:
            return None
        items = await conn.fetch(
            """SELECT product_id, sku, name, unit_price, quantity, line_total
               FROM order_items WHERE order_id = $1 ORDER BY id""",
            order_id,
        )
        ledger = await conn.fetch(
            """SELECT id, type, direction, status, amount, cleared_amount, reason, notes,
                      due_date, performed_by, created_at
               FROM credit_transactions WHERE order_id = $1 ORDER BY id""",
            order_id,
        )
        returned = await conn.fetch(
            """SELECT transaction_id, product_id, sku, name, unit_price, quantity, line_total
               FROM return_items WHERE order_id = $1 ORDER BY id""",
            order_id,
        )
        events = await conn.fetch(
            """SELECT action, from_status, to_status, reason, transaction_id, performed_by,
                      created_at
               FROM order_events WHERE order_id = $1 ORDER BY id""",
            order_id,
        )
    lines = [
        LedgerLine(
            transaction_id=r["id"],
            type=r["type"],
            direction=r["direction"],
            status=r["status"],
            amount=r["amount"],
            cleared_amount=r["cleared_amount"],
            reason=r["reason"],
            notes=r["notes"],
            due_date=r["due_date"],
            performed_by=r["performed_by"],
            created_at=r["created_at"],
        )
        for r in ledger
    ]
    debit = next((line for line in lines if line.type == "DEBIT"), None)
    credits = tuple(line for line in lines if line.direction == "CREDIT")
    unpaid_overdue = (
        debit is not None and debit.status in ("OPEN", "PARTIAL") and debit.due_date is not None
    )
    placed = OrderEvent(
        action="place",
        from_status=None,
        to_status=OrderStatus.PLACED.value,
        reason=None,
        transaction_id=debit.transaction_id if debit else None,
        performed_by=head["placed_by"] or head["phone"],
        at=head["created_at"],
    )
    return OrderDetail(
        order=_order_row(head),
        pending_order_id=head["pending_order_id"],
        items=tuple(PricedLine(**dict(i)) for i in items),
        debit=debit,
        days_overdue=(
            days_overdue(debit.due_date, today)
            if unpaid_overdue and debit is not None and debit.due_date is not None
            else 0
        ),
        credits=credits,
        returned_items=tuple(ReturnedItem(**dict(r)) for r in returned),
        returned_total=sum(c.amount for c in credits if c.reason == "return"),
        history=(
            placed,
            *(
                OrderEvent(
                    action=e["action"],
                    from_status=e["from_status"],
                    to_status=e["to_status"],
                    reason=e["reason"],
                    transaction_id=e["transaction_id"],
                    performed_by=e["performed_by"],
                    at=e["created_at"],
                )
                for e in events
            ),
        ),
        stamps={
            "dispatchedAt": head["dispatched_at"],
            "dispatchedBy": head["dispatched_by"],
            "deliveredAt": head["delivered_at"],
            "deliveredBy": head["delivered_by"],
            "cancelledAt": head["cancelled_at"],
            "cancelledBy": head["cancelled_by"],
            "cancelReason": head["cancel_reason"],
            "failedAt": head["failed_at"],
            "failedBy": head["failed_by"],
            "failureReason": head["failure_reason"],
        },
    )


# --- checkouts waiting for payment choice or confirmation ------------------------------------


@dataclass(frozen=True)
class PendingRow:
    pending_id: int
    retailer_id: int
    retailer_name: str
    phone: str
    status: str
    lines: tuple[dict[str, Any], ...]  # the cart as stored (priced lines)
    total: int
    payment_mode: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    follow_up_count: int
    follow_up_sent_at: datetime | None
    order_id: int | None  # the order it became (COMPLETED)


@dataclass(frozen=True)
class PendingPage:
    pending: tuple[PendingRow, ...]
    next_key: tuple[datetime, int] | None


async def list_pending_orders(
    conn: Conn,
    *,
    status: str | None,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> PendingPage:
    """Checkouts newest first, of one status (PENDING, COMPLETED, CANCELLED, EXPIRED) or all."""
    where: list[str] = []
    args: list[Any] = []
    if status is not None:
        args.append(status)
        where.append(f"p.status = ${len(args)}")
    if after is not None:
        args.extend(after)
        where.append(f"(p.created_at, p.id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit + 1)
    rows = await conn.fetch(
        f"""SELECT p.id, p.retailer_id, r.name, r.phone, p.status, p.cart, p.total,
                   p.payment_mode, p.created_at, p.updated_at, p.expires_at, p.follow_up_count,
                   p.follow_up_sent_at,
                   (SELECT o.id FROM orders o WHERE o.pending_order_id = p.id) AS order_id
            FROM pending_orders p JOIN retailers r ON r.id = p.retailer_id
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT ${len(args)}""",
        *args,
    )
    page = [
        PendingRow(
            pending_id=r["id"],
            retailer_id=r["retailer_id"],
            retailer_name=r["name"],
            phone=r["phone"],
            status=r["status"],
            lines=tuple(r["cart"]) if isinstance(r["cart"], list) else (),
            total=r["total"],
            payment_mode=r["payment_mode"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            expires_at=r["expires_at"],
            follow_up_count=r["follow_up_count"],
            follow_up_sent_at=r["follow_up_sent_at"],
            order_id=r["order_id"],
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return PendingPage(
        pending=tuple(page),
        next_key=(page[-1].created_at, page[-1].pending_id) if more and page else None,
    )
