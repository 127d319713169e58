"""`POST /payment/record`: a payment clears a named debit or the oldest debits first.

With an `Idempotency-Key` the same request replays the first successful answer.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.limits import max_length
from db import ledger
from db.errors import Unprocessable
from db.idempotency import get_answer, request_hash, save_answer
from handlers.admin import fields, shapes
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json

SCOPE = "payment_record"


class _Replay(Exception):
    """Another request with the same Idempotency-Key committed first."""


async def record_payment(request: Request) -> Response:
    """Record a payment; the same `Idempotency-Key` replays the first successful answer."""
    deps, caller = deps_of(request), caller_of(request)
    key = request.headers.get("idempotency-key")
    limit = max_length("Idempotency-Key")
    if key is not None and not 1 <= len(key.strip()) <= limit:
        raise Unprocessable("INVALID_FIELD", f"Idempotency-Key must be 1 to {limit} characters")
    body = await read_json(request)
    amount = fields.amount(body, "amountPaid")
    reference = fields.optional_text(body, "reference")
    retailer_ref = body.get("retailerId")
    if body.get("transactionId") is None and retailer_ref is None:
        raise Unprocessable("INVALID_FIELD", "retailerId or transactionId is required")
    transaction_id = fields.whole_number(body, "transactionId")
    now = deps.clock.now()
    async with deps.pool.acquire() as conn:
        rid = None
        if retailer_ref is not None:
            rid = await fields.retailer(conn, retailer_ref, "retailerId")
        # The request as understood, so "100", 100 and "100.00", or a retailer's id and phone,
        # are the same request for the Idempotency-Key.
        digest = request_hash(
            {
                "amount": amount,
                "reference": reference,
                "transaction": transaction_id,
                "retailer": rid,
            }
        )
        if key is not None:
            key = key.strip()
            stored = await get_answer(conn, SCOPE, key)
            if stored is not None:
                return _replay(stored.request_hash, digest, stored.status_code, stored.response)
        try:
            async with conn.transaction():
                result = await ledger.record_payment(
                    conn,
                    amount=amount,
                    retailer_id=rid,
                    transaction_id=transaction_id,
                    reference=reference,
                    performed_by=caller.performed_by,
                    now=now,
                    tz=deps.settings.tz,
                )
                answer = shapes.payment_json(result)
                if key is not None and not await save_answer(
                    conn, SCOPE, key, request_hash=digest, status_code=201, response=answer,
                    now=now,
                ):  # fmt: skip
                    raise _Replay
        except _Replay:
            stored = await get_answer(conn, SCOPE, key or "")
            assert stored is not None
            return _replay(stored.request_hash, digest, stored.status_code, stored.response)
    return JSONResponse(answer, status_code=201)


def _replay(stored_hash: str, digest: str, status: int, response: Any) -> Response:
    if stored_hash != digest:
        raise Unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different request",
        )
    return JSONResponse(response, status_code=status, headers={"Idempotent-Replayed": "true"})
