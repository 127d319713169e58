"""Credit views: the risk dashboard, the at-risk list, one retailer's credit profile."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import credit_queries as q
from db.errors import retailer_not_found
from handlers.admin import fields, shapes
from handlers.admin.auth import deps_of


async def risk_dashboard(request: Request) -> Response:
    """Aging buckets and totals over every account."""
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        dashboard = await q.get_risk_dashboard(conn, fields.today(deps))
    return JSONResponse(shapes.dashboard_json(dashboard))


async def at_risk(request: Request) -> Response:
    """ACTIVE retailers that are overdue, near their limit or reminded often, most at risk first."""
    deps = deps_of(request)
    limit = fields.limit(request)
    async with deps.pool.acquire() as conn:
        result = await q.get_at_risk(
            conn, fields.today(deps), tolerance=deps.settings.overdue_tolerance_paise, limit=limit
        )
    return JSONResponse(shapes.at_risk_json(result))


async def profile(request: Request) -> Response:
    """One retailer's credit profile."""
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        p = await q.get_credit_profile(conn, rid, fields.today(deps))
    if p is None:
        raise retailer_not_found(rid)
    return JSONResponse(shapes.profile_json(p))
