"""Pending orders (a checkout waiting for payment choice and confirmation) and order history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from bot.checkout import History, PastOrder, PendingOrder
from bot.credit import PaymentMode
from bot.orders import OrderLine, PricedLine
from db.pool import Conn


async def get_pending_order(conn: Conn, pending_id: int, retailer_id: int) -> PendingOrder | None:
    row = await conn.fetchrow(
        """SELECT id, status, expires_at, payment_mode FROM pending_orders
           WHERE id = $1 AND retailer_id = $2""",
        pending_id,
        retailer_id,
    )
    if row is None:
        return None
    mode = PaymentMode(row["payment_mode"]) if row["payment_mode"] else None
    return PendingOrder(row["id"], row["status"], row["expires_at"], mode)


async def insert_pending_order(
    conn: Conn,
    *,
    retailer_id: int,
    lines: Sequence[PricedLine],
    total: int,
    expires_at: datetime,
    now: datetime,
) -> int:
    pending_id: int = await conn.fetchval(
        """INSERT INTO pending_orders (retailer_id, cart, total, expires_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5) RETURNING id""",
        retailer_id,
        [line.to_json() for line in lines],
        total,
        expires_at,
        now,
    )
    return pending_id


async def update_pending_order(
    conn: Conn,
    pending_id: int,
    *,
    lines: Sequence[PricedLine],
    total: int,
    payment_mode: PaymentMode | None,
    now: datetime,
) -> bool:
    """New cart, total and payment choice of a still-PENDING order; False when it is not."""
    status = await conn.execute(
        """UPDATE pending_orders SET cart = $2, total = $3, payment_mode = $4, updated_at = $5
           WHERE id = $1 AND status = 'PENDING'""",
        pending_id,
        [line.to_json() for line in lines],
        total,
        payment_mode.value if payment_mode else None,
        now,
    )
    return status.endswith(" 1")


async def get_history(conn: Conn, retailer_id: int, tz: tzinfo, *, recent: int = 5) -> History:
    """The last order's items (for reorder), recent orders and the insight row (for insights)."""
    orders = await conn.fetch(
        """SELECT id, created_at, total, payment_mode, status FROM orders
           WHERE retailer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2""",
        retailer_id,
        recent,
    )
    last: tuple[OrderLine, ...] = ()
    if orders:
        items = await conn.fetch(
            """SELECT product_id, sum(quantity)::int AS quantity FROM order_items
               WHERE order_id = $1 GROUP BY product_id ORDER BY min(id)""",
            orders[0]["id"],
        )
        last = tuple(OrderLine(r["product_id"], r["quantity"]) for r in items)
    insight = await conn.fetchval(
        "SELECT data FROM retailer_insights WHERE retailer_id = $1", retailer_id
    )
    return History(
        last_order=last,
        recent=tuple(
            PastOrder(
                id=o["id"],
                placed_on=o["created_at"].astimezone(tz).date(),
                total=o["total"],
                payment_mode=o["payment_mode"],
                status=o["status"],
            )
            for o in orders
        ),
        insight=insight if isinstance(insight, dict) else None,
    )
