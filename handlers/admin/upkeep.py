"""Catalogue and retailer upkeep: list and correct products and retailers (audited)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.credit import CreditStatus
from db import upkeep
from db.errors import Unprocessable
from handlers.admin import desk_shapes, fields, query
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json

_PRODUCT_KEYS = frozenset({"price", "name", "category", "unit", "active"})
_RETAILER_KEYS = frozenset({"name", "shopName", "language", "phone"})


def _only(body: dict[str, Any], allowed: frozenset[str]) -> None:
    """422 naming a field the resource does not have (a typo must not pass as "no change")."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Unprocessable(
            "INVALID_FIELD",
            f"unknown field {unknown[0]}; the fields are {', '.join(sorted(allowed))}",
        )


async def list_products(request: Request) -> Response:
    """`GET /products?q=&category=&active=&cursor=&limit=`: by name, keyset paged."""
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        page = await upkeep.list_products(
            conn,
            q=query.text_param(request, "q"),
            category=query.text_param(request, "category"),
            active=query.flag_param(request, "active"),
            after=query.name_cursor(request),
            limit=query.page_size(request),
        )
    return JSONResponse(
        {
            "products": [desk_shapes.product_json(p) for p in page.products],
            "nextCursor": query.next_cursor(page.next_key),
        }
    )


async def patch_product(request: Request) -> Response:
    """`PATCH /products/{id} {"price"?, "name"?, "category"?, "unit"?, "active"?}`."""
    deps, caller = deps_of(request), caller_of(request)
    product_id = fields.path_id(request, "id")
    body = await read_json(request)
    _only(body, _PRODUCT_KEYS)
    active = body.get("active")
    if active is not None and not isinstance(active, bool):
        raise Unprocessable("INVALID_FIELD", "active must be true or false")
    change = upkeep.ProductChange(
        price=fields.optional_amount(body, "price"),
        name=_text(body, "name"),
        category=_text(body, "category"),
        unit=_text(body, "unit"),
        active=active,
    )
    async with deps.pool.acquire() as conn:
        product, diff = await upkeep.update_product(
            conn, product_id, change, performed_by=caller.performed_by, now=deps.clock.now()
        )
    return JSONResponse(
        {**desk_shapes.product_json(product), "changed": desk_shapes.changes_json(diff)}
    )


def _text(body: dict[str, Any], field: str) -> str | None:
    """A text field that, when present, must be a string (blank is refused by the update)."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unprocessable("INVALID_FIELD", f"{field} must be a string")
    return value


async def list_retailers(request: Request) -> Response:
    """`GET /retailers?q=&status=&cursor=&limit=`: by name, found by name, shop or number."""
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        page = await upkeep.search_retailers(
            conn,
            q=query.text_param(request, "q"),
            status=query.enum_param(request, "status", CreditStatus),
            after=query.name_cursor(request),
            limit=query.page_size(request),
        )
    return JSONResponse(
        {
            "retailers": [desk_shapes.retailer_json(r) for r in page.retailers],
            "nextCursor": query.next_cursor(page.next_key),
        }
    )


async def patch_retailer(request: Request) -> Response:
    """`PATCH /retailers/{retailer} {"name"?, "shopName"?, "language"?, "phone"?}`."""
    deps, caller = deps_of(request), caller_of(request)
    body = await read_json(request)
    _only(body, _RETAILER_KEYS)
    change = upkeep.RetailerChange(
        name=_text(body, "name"),
        shop_name=_text(body, "shopName"),
        language=_text(body, "language"),
        phone=_text(body, "phone"),
    )
    if change.phone is not None and len(change.phone) > 40:
        raise Unprocessable("INVALID_FIELD", "phone is longer than 40 characters")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        retailer, diff = await upkeep.update_retailer(
            conn,
            rid,
            change,
            admin_numbers=deps.settings.admin_numbers,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
        )
    return JSONResponse(
        {**desk_shapes.retailer_json(retailer), "changed": desk_shapes.changes_json(diff)}
    )
