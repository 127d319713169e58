"""Credit operations on one retailer: pause, unpause (with an override), block, unblock, a debit
or credit adjustment.

Each is one ledger operation, audited under the caller's name in its own transaction.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.credit import Direction
from db import ledger
from db.errors import Unprocessable
from handlers.admin import fields, shapes
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json


async def pause(request: Request) -> Response:
    """Pause a retailer's credit, with a reason."""
    deps, caller = deps_of(request), caller_of(request)
    reason = fields.text(await read_json(request), "reason")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        change = await ledger.pause_credit(
            conn, rid, reason=reason, performed_by=caller.performed_by, now=deps.clock.now()
        )
    return JSONResponse(shapes.status_json(change))


async def unpause(request: Request) -> Response:
    """Resume a retailer's credit (the body is optional: `reason`, `overrideUntil`). While the
    overdue rule would stop it again, 409 STILL_OVERDUE unless `overrideUntil` is given."""
    deps, caller = deps_of(request), caller_of(request)
    body = await fields.read_optional_json(request)
    reason = fields.optional_text(body, "reason")
    override_until = fields.optional_day(body, "overrideUntil")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        change = await ledger.unpause_credit(
            conn,
            rid,
            reason=reason,
            override_until=override_until,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    return JSONResponse(shapes.status_json(change))


async def block(request: Request) -> Response:
    """Block a retailer's credit, with a reason; only unblock lifts it."""
    deps, caller = deps_of(request), caller_of(request)
    reason = fields.text(await read_json(request), "reason")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        change = await ledger.block_credit(
            conn,
            rid,
            reason=reason,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            support_phone=deps.settings.support_phone,
        )
    return JSONResponse(shapes.status_json(change))


async def unblock(request: Request) -> Response:
    """Lift a block (the body and its reason are optional); the account takes the state the rules
    give it now (ACTIVE, or PAUSED by SYSTEM while overdue)."""
    deps, caller = deps_of(request), caller_of(request)
    reason = fields.optional_text(await fields.read_optional_json(request), "reason")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        change = await ledger.unblock_credit(
            conn,
            rid,
            reason=reason,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    return JSONResponse(shapes.status_json(change))


async def adjustment(request: Request) -> Response:
    """A DEBIT or CREDIT adjustment with one of the allowed reasons."""
    deps, caller = deps_of(request), caller_of(request)
    body = await read_json(request)
    raw_direction = body.get("direction")
    if raw_direction not in (Direction.DEBIT.value, Direction.CREDIT.value):
        raise Unprocessable("INVALID_FIELD", "direction must be DEBIT or CREDIT")
    amount = fields.amount(body, "amount")
    reason = fields.text(body, "reason")
    notes = fields.optional_text(body, "notes")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, request.path_params["retailer"])
        result = await ledger.adjust(
            conn,
            rid,
            direction=Direction(raw_direction),
            amount=amount,
            reason=reason,
            notes=notes,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    return JSONResponse(shapes.adjustment_json(result), status_code=201)
