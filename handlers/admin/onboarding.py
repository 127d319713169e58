"""Onboarding: a retailer with its credit account, a catalogue product (one at a time; the CLI
imports CSV files through the same `db.onboarding` functions)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.phone import mask_phone
from db.errors import Unprocessable
from db.onboarding import NewProduct, NewRetailer, create_product, create_retailer
from handlers.admin import fields
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json

log = logging.getLogger(__name__)


async def new_retailer(request: Request) -> Response:
    """Register a retailer; 409 when the phone is registered."""
    deps, caller = deps_of(request), caller_of(request)
    body = await read_json(request)
    phone = fields.text(body, "phone")
    name = fields.text(body, "name")
    language = body.get("language", "en")
    if not isinstance(language, str):
        raise Unprocessable("INVALID_FIELD", "language must be en or hi")
    new = NewRetailer(
        phone=phone,
        name=name,
        shop_name=fields.optional_text(body, "shopName") or "",
        language=language,
        credit_limit=fields.amount(body, "creditLimit", allow_zero=True),
        # absent fields take NewRetailer's defaults
        **{
            k: v
            for k, v in {
                "max_order_value": fields.optional_amount(body, "maxOrderValue"),
                "max_outstanding_days": fields.whole_number(body, "maxOutstandingDays"),
                "payment_terms_days": fields.whole_number(body, "paymentTermsDays"),
            }.items()
            if v is not None
        },
    )
    async with deps.pool.acquire() as conn:
        rid = await create_retailer(
            conn,
            new,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            admin_numbers=deps.settings.admin_numbers,
        )
    log.info("retailer %s created for %s", rid, mask_phone(phone))
    return JSONResponse({"id": rid}, status_code=201)


async def new_product(request: Request) -> Response:
    """Add a product to the catalogue; 409 when the SKU exists."""
    deps = deps_of(request)
    body = await read_json(request)
    new = NewProduct(
        sku=fields.text(body, "sku"),
        name=fields.text(body, "name"),
        category=fields.text(body, "category"),
        price=fields.amount(body, "price"),
        unit=fields.optional_text(body, "unit") or "pc",
    )
    async with deps.pool.acquire() as conn:
        pid = await create_product(conn, new, now=deps.clock.now())
    return JSONResponse({"id": pid}, status_code=201)
