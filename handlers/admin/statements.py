"""A retailer's statement (JSON, or CSV with `format=csv`), and the checkouts still open."""

from __future__ import annotations

from enum import StrEnum

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import order_queries as oq
from db.errors import Unprocessable
from db.statements import get_statement, statement_csv
from handlers.admin import desk_shapes, fields, query
from handlers.admin.auth import deps_of


class PendingStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


async def statement(request: Request) -> Response:
    """`GET /credit/{retailer}/statement?from=&to=[&format=csv]`: every entry of the period in
    date order with a running balance, opening and closing balance."""
    deps = deps_of(request)
    since = query.date_param(request, "from")
    until = query.date_param(request, "to") or fields.today(deps)
    if since and until < since:
        raise Unprocessable("INVALID_FIELD", "to must not be before from")
    form = (request.query_params.get("format") or "json").strip().lower()
    if form not in ("json", "csv"):
        raise Unprocessable("INVALID_FIELD", "format must be json or csv")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        s = await get_statement(conn, rid, from_date=since, to_date=until)
    if form == "csv":
        name = f"statement-{rid}-{(since.isoformat() + '_') if since else ''}{until.isoformat()}"
        return Response(
            statement_csv(s, deps.settings.tz),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return JSONResponse(desk_shapes.statement_json(s))


async def pending_orders(request: Request) -> Response:
    """`GET /pending-orders?status=&cursor=&limit=`: checkouts newest first (default PENDING),
    with the cart, total, age and follow-ups sent."""
    deps = deps_of(request)
    raw = request.query_params.get("status", "").strip()
    status = None if raw.lower() == "all" else query.enum_param(request, "status", PendingStatus)
    if not raw:
        status = PendingStatus.PENDING
    now = deps.clock.now()
    async with deps.pool.acquire() as conn:
        page = await oq.list_pending_orders(
            conn,
            status=status.value if status else None,
            after=query.time_cursor(request),
            limit=query.page_size(request),
        )
    return JSONResponse(
        {
            "pendingOrders": [
                desk_shapes.pending_json(p, max(0, int((now - p.created_at).total_seconds())))
                for p in page.pending
            ],
            "nextCursor": query.next_cursor(page.next_key),
        }
    )
