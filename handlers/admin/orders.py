"""Orders: a retailer's failed orders, and failing one (its debit is undone; the dispatch desk's
other routes are in `order_desk`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import credit_queries as q
from db import ledger
from handlers.admin import desk_shapes, fields, shapes
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json


async def failed_orders(request: Request) -> Response:
    """A retailer's failed orders, newest first."""
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        orders = await q.get_failed_orders(conn, rid, limit=fields.limit(request))
    return JSONResponse({"retailerId": rid, "orders": [shapes.order_json(o) for o in orders]})


async def fail_order(request: Request) -> Response:
    """Mark an order failed, with a reason; the retailer is told."""
    deps, caller = deps_of(request), caller_of(request)
    reason = fields.text(await read_json(request), "reason")
    order_id = fields.path_id(request, "order")
    async with deps.pool.acquire() as conn:
        failed = await ledger.fail_order(
            conn,
            order_id,
            reason=reason,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    # The fields this route always answered, then those of every order move (credited part).
    return JSONResponse(
        {**shapes.failed_order_json(failed), **desk_shapes.order_moved_json(failed)}
    )
