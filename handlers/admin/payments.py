"""`POST /payment/record`: a payment clears a named debit or the oldest debits first; with
`"asAdvance": true` what is more than is owed becomes the retailer's advance (without it, an
amount above what is owed is refused, so a typo never becomes an advance).

With an `Idempotency-Key` a retry gets the first successful answer, byte for byte, even when the
two requests race (`handlers.admin.replay`).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import ledger
from db.errors import Unprocessable
from db.idempotency import request_hash
from handlers.admin import fields, shapes
from handlers.admin.auth import caller_of, deps_of
from handlers.admin.replay import claim, idempotency_key, remember
from handlers.errors import read_json

SCOPE = "payment_record"


async def record_payment(request: Request) -> Response:
    """Record a payment; the same `Idempotency-Key` replays the first successful answer."""
    deps, caller = deps_of(request), caller_of(request)
    key = idempotency_key(request)
    body = await read_json(request)
    amount = fields.amount(body, "amountPaid")
    reference = fields.optional_text(body, "reference")
    as_advance = fields.flag(body, "asAdvance")
    retailer_ref = body.get("retailerId")
    if body.get("transactionId") is None and retailer_ref is None:
        raise Unprocessable("INVALID_FIELD", "retailerId or transactionId is required")
    transaction_id = fields.whole_number(body, "transactionId")
    # DESIGN 6's `adminId` (who took the money, in the client's own terms) goes into the audit
    # entry beside the authenticated caller; a number is read as its digits.
    raw_admin = body.get("adminId")
    if isinstance(raw_admin, int) and not isinstance(raw_admin, bool):
        raw_admin = str(raw_admin)
    admin_id = fields.optional_text({"adminId": raw_admin}, "adminId")
    now = deps.clock.now()
    async with deps.pool.acquire() as conn:
        rid = None
        if retailer_ref is not None:
            rid = await fields.retailer(conn, retailer_ref, "retailerId")
        # The request as understood, so "100", 100 and "100.00", or a retailer's id and phone,
        # are the same request for the Idempotency-Key.
        understood = {
            "amount": amount,
            "reference": reference,
            "transaction": transaction_id,
            "retailer": rid,
        }
        # Only when set, so keys stored before these fields existed still match.
        if as_advance:
            understood["asAdvance"] = True
        if admin_id is not None:
            understood["adminId"] = admin_id
        digest = request_hash(understood)
        # With a key, one transaction holds the key from before the ledger's checks until the
        # answer is stored; without one the ledger's own transaction is enough.
        tx: AbstractAsyncContextManager[object] = conn.transaction() if key else nullcontext()
        async with tx:
            if key is not None and (replay := await claim(conn, SCOPE, key, digest)):
                return replay
            result = await ledger.record_payment(
                conn,
                amount=amount,
                retailer_id=rid,
                transaction_id=transaction_id,
                reference=reference,
                as_advance=as_advance,
                performed_by=caller.performed_by,
                now=now,
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
                admin_id=admin_id,
            )
            response = JSONResponse(shapes.payment_json(result), status_code=201)
            if key is not None:
                await remember(conn, SCOPE, key, digest, response, now)
    return response
