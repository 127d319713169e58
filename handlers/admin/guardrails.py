"""Guardrails: a retailer's limits, the order verdict on demand, and applying the rules now."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.credit import PaymentMode, validate_order_placement
from db import ledger
from db.errors import NotFound, Unprocessable
from handlers.admin import fields, shapes
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json


async def set_guardrails(request: Request) -> Response:
    """Change any of a retailer's limit, order value limit, allowed days and payment terms."""
    deps, caller = deps_of(request), caller_of(request)
    body = await read_json(request)
    credit_limit = fields.optional_amount(body, "creditLimit", allow_zero=True)
    max_order_value = fields.optional_amount(body, "maxOrderValue")
    max_days = fields.whole_number(body, "maxOutstandingDays")
    terms = fields.whole_number(body, "paymentTermsDays")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        rails = await ledger.set_guardrails(
            conn,
            rid,
            credit_limit=credit_limit,
            max_order_value=max_order_value,
            max_outstanding_days=max_days,
            payment_terms_days=terms,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
        )
    return JSONResponse(shapes.guardrails_json(rails))


async def validate_order(request: Request) -> Response:
    """The verdict on an order of this amount and payment mode, changing nothing."""
    deps = deps_of(request)
    body = await read_json(request)
    amount = fields.amount(body, "orderAmount")
    mode = body.get("paymentMode")
    if mode not in (PaymentMode.CREDIT.value, PaymentMode.COD.value):
        raise Unprocessable("INVALID_PAYMENT_MODE", "paymentMode must be CREDIT or COD")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, body.get("retailerId"), "retailerId")
        facts = await ledger.get_credit_facts(conn, rid, fields.today(deps))
    if facts is None:
        raise NotFound("RETAILER_NOT_FOUND", f"no credit account for retailer {rid}")
    verdict = validate_order_placement(
        facts, amount, PaymentMode(mode), tolerance=deps.settings.overdue_tolerance_paise
    )
    return JSONResponse(shapes.verdict_json(verdict))


async def evaluate(request: Request) -> Response:
    """Evaluate and apply the guardrails now (optionally as of a day); says what it did."""
    deps = deps_of(request)
    day = fields.as_of(await fields.read_optional_json(request), deps, today_only=True)
    async with deps.pool.acquire() as conn:
        run = await ledger.apply_guardrails(
            conn,
            today=day,
            now=deps.clock.now(),
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    return JSONResponse(shapes.guardrail_run_json(day, run))
