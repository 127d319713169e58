"""The dispatch desk: orders newest first, one order in full, its moves (dispatch, deliver,
cancel, fail) and returns after delivery. Illegal moves are 409s naming the order's status."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.orders import OrderAction, OrderStatus
from db import ledger
from db import order_queries as oq
from db.errors import NotFound, Unprocessable
from handlers.admin import desk_shapes, fields, query
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json

MAX_RETURN_LINES = 100


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first moment of business day `day`."""
    return datetime.combine(day, time(0), tzinfo=tz)


async def list_orders(request: Request) -> Response:
    """`GET /orders?status=&retailer=&from=&to=&cursor=&limit=`: newest first, keyset paged."""
    deps = deps_of(request)
    tz = deps.settings.tz
    status = query.enum_param(request, "status", OrderStatus)
    since = query.date_param(request, "from")
    until = query.date_param(request, "to")
    if since and until and until < since:
        raise Unprocessable("INVALID_FIELD", "to must not be before from")
    after = query.time_cursor(request)
    limit = query.page_size(request)
    ref = query.text_param(request, "retailer", 40)
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, ref) if ref is not None else None
        page = await oq.list_orders(
            conn,
            status=status,
            retailer_id=rid,
            since=day_start(since, tz) if since else None,
            until=day_start(until + timedelta(days=1), tz) if until else None,
            after=after,
            limit=limit,
        )
    return JSONResponse(
        {
            "orders": [desk_shapes.order_row_json(o) for o in page.orders],
            "nextCursor": query.next_cursor(page.next_key),
        }
    )


async def get_order(request: Request) -> Response:
    """`GET /orders/{order}`: items, payment, debit, reversal and returns, history."""
    deps = deps_of(request)
    order_id = fields.path_id(request, "order")
    async with deps.pool.acquire() as conn:
        detail = await oq.get_order_detail(conn, order_id, fields.today(deps))
    if detail is None:
        raise NotFound("ORDER_NOT_FOUND", f"no order {order_id}")
    return JSONResponse(desk_shapes.order_detail_json(detail))


async def _move(request: Request, action: OrderAction) -> Response:
    deps, caller = deps_of(request), caller_of(request)
    order_id = fields.path_id(request, "order")
    reason: str | None = None
    if action in (OrderAction.CANCEL, OrderAction.FAIL):
        reason = fields.text(await read_json(request), "reason")
    else:
        body = await fields.read_optional_json(request)  # an optional note is not kept
        del body
    async with deps.pool.acquire() as conn:
        moved = await ledger.move_order(
            conn,
            order_id,
            action,
            reason=reason,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    return JSONResponse(desk_shapes.order_moved_json(moved))


async def dispatch(request: Request) -> Response:
    """`POST /orders/{order}/dispatch`: PLACED -> DISPATCHED; the retailer is told."""
    return await _move(request, OrderAction.DISPATCH)


async def deliver(request: Request) -> Response:
    """`POST /orders/{order}/deliver`: DISPATCHED -> DELIVERED."""
    return await _move(request, OrderAction.DELIVER)


async def cancel(request: Request) -> Response:
    """`POST /orders/{order}/cancel {"reason"}`: PLACED -> CANCELLED, its debit undone."""
    return await _move(request, OrderAction.CANCEL)


def _return_items(body: dict[str, Any]) -> list[tuple[str, int]] | None:
    raw = body.get("items")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_RETURN_LINES:
        raise Unprocessable(
            "INVALID_FIELD", f"items must be a list of 1 to {MAX_RETURN_LINES} lines"
        )
    items: list[tuple[str, int]] = []
    for n, line in enumerate(raw, start=1):
        if not isinstance(line, dict):
            raise Unprocessable("INVALID_FIELD", f"items[{n}] must be an object")
        ref: object = line.get("sku") if line.get("sku") is not None else line.get("productId")
        if isinstance(ref, bool) or not isinstance(ref, str | int) or not str(ref).strip():
            raise Unprocessable("INVALID_FIELD", f"items[{n}] needs a productId or sku")
        if isinstance(ref, int) and not 0 < ref < 2**63:
            raise Unprocessable("INVALID_FIELD", f"items[{n}].productId is not a product")
        text = str(ref).strip()
        if len(text) > 64:
            raise Unprocessable("INVALID_FIELD", f"items[{n}].sku is longer than 64 characters")
        quantity = fields.whole_number(line, "quantity")
        if quantity is None or not 0 < quantity <= 100_000:
            raise Unprocessable(
                "INVALID_FIELD", f"items[{n}].quantity must be a whole number above 0"
            )
        items.append((text, quantity))
    return items


async def return_order(request: Request) -> Response:
    """`POST /orders/{order}/return {"amount"?, "items"?, "reason"}`: goods back after delivery,
    a credit adjustment linked to the order (at most its total less earlier returns)."""
    deps, caller = deps_of(request), caller_of(request)
    order_id = fields.path_id(request, "order")
    body = await read_json(request)
    reason = fields.text(body, "reason")
    amount = fields.optional_amount(body, "amount")
    items = _return_items(body)
    async with deps.pool.acquire() as conn:
        result = await ledger.return_goods(
            conn,
            order_id,
            amount=amount,
            items=items,
            reason=reason,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    return JSONResponse(desk_shapes.return_json(result), status_code=201)
