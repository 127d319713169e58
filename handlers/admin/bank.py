"""Admin API for money received (DESIGN section 10): bank statement import, the unmatched list,
an operator's assign or dismiss, and a retailer's UPI address (which matching looks for).

| route (under /api/v1/admin)                 | body                      |
|---------------------------------------------|---------------------------|
| `POST /bank/import`                         | the CSV; `?fileName=` and column names (`dateCol`, `narrationCol`, `referenceCol`, `amountCol`, `creditCol`, `debitCol`, `typeCol`) for other layouts |
| `GET /bank/unmatched?source=&status=&limit=`| -                         |
| `POST /bank/unmatched/{id}/assign`          | `{"retailer"}`            |
| `POST /bank/unmatched/{id}/dismiss`         | `{"reason"}`              |
| `PUT /retailers/{retailer}/vpa`             | `{"vpa"}` (null clears)   |

Amounts go out as rupee strings; the admin mount checks the bearer token before these run, and
what they record is audited under the caller.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.bank import ColumnMap, UnreadableStatement, read_statement
from bot.money import rupees_json
from db import payments
from db.bank import ImportResult, import_statement
from db.errors import BadRequest, Unprocessable
from db.payments import Received
from handlers.admin import fields
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json

# Query parameters that name a statement's columns, and the role each names.
COLUMN_PARAMS = {
    "dateCol": "date",
    "narrationCol": "narration",
    "referenceCol": "reference",
    "amountCol": "amount",
    "creditCol": "credit",
    "debitCol": "debit",
    "typeCol": "kind",
}
STATUSES = ("UNMATCHED", "EXCESS", "DUPLICATE", "DISMISSED", "RECORDED")


def decode_csv(raw: bytes) -> str:
    """A bank export's text: UTF-8 (with or without a BOM), else Windows' Latin-1 exports."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def received_json(r: Received) -> dict[str, Any]:
    return {
        "id": r.id,
        "source": r.source,
        "receivedOn": r.received_on.isoformat(),
        "amount": rupees_json(r.amount),
        "reference": r.reference,
        "narration": r.narration,
        "payer": r.payer,
        "status": r.status,
        "retailerId": r.retailer_id,
        "matchedBy": r.matched_by,
        "paymentTransactionId": r.payment_transaction_id,
        "duplicateOf": r.duplicate_of,
        "recordedAmount": rupees_json(r.recorded_amount),
        "excess": rupees_json(r.excess),
        "refunded": rupees_json(r.refunded),
        "note": r.note,
        "importId": r.import_id,
        "lineNo": r.line_no,
        "resolvedBy": r.resolved_by,
        "createdAt": r.created_at.isoformat(),
    }


def import_json(result: ImportResult) -> dict[str, Any]:
    return {
        "importId": result.import_id,
        "layout": result.layout,
        "counts": result.counts,
        "lines": [
            {
                "line": line.line_no,
                "amount": rupees_json(line.amount),
                "reference": line.reference,
                "status": line.status,
                "retailerId": line.retailer_id,
                "matchedBy": line.matched_by,
                "reason": line.reason,
                "receivedPaymentId": line.received_id,
                "toAdvance": rupees_json(line.to_advance),
            }
            for line in result.lines
        ],
    }


async def bank_import(request: Request) -> Response:
    """Import a bank statement (CSV body); 201 with what each line became."""
    deps, caller = deps_of(request), caller_of(request)
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("BAD_REQUEST", "the body must be the statement's CSV")
    params = request.query_params
    mapping = ColumnMap(
        **{role: params[name].strip() for name, role in COLUMN_PARAMS.items() if params.get(name)}
    )
    text = decode_csv(raw)
    if "\x00" in text:
        raise BadRequest("BAD_REQUEST", "the statement must not contain NUL characters")
    try:
        statement = read_statement(text, mapping)
    except UnreadableStatement as exc:
        raise Unprocessable("INVALID_STATEMENT", str(exc)) from None
    async with deps.pool.acquire() as conn:
        result = await import_statement(
            conn,
            statement,
            file_name=params.get("fileName", ""),
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
            renderer=deps.renderer,
        )
    return JSONResponse(import_json(result), status_code=201)


async def unmatched(request: Request) -> Response:
    """Money received that no retailer was found for (or, with `status`, any other state)."""
    deps = deps_of(request)
    source = request.query_params.get("source")
    if source not in (None, payments.BANK, payments.GATEWAY):
        raise Unprocessable("INVALID_FIELD", "source must be bank or gateway")
    status = request.query_params.get("status", "UNMATCHED").upper()
    if status not in STATUSES:
        raise Unprocessable("INVALID_FIELD", f"status must be one of {', '.join(STATUSES)}")
    async with deps.pool.acquire() as conn:
        rows = await payments.get_unmatched(
            conn, source=source, status=status, limit=fields.limit(request)
        )
    return JSONResponse({"items": [received_json(r) for r in rows]})


async def assign(request: Request) -> Response:
    """Record an unmatched payment for the retailer the operator names."""
    deps, caller = deps_of(request), caller_of(request)
    received_id = fields.path_id(request, "id")
    body = await read_json(request)
    async with deps.pool.acquire() as conn:
        retailer_id = await fields.retailer(conn, body.get("retailer"))
        done = await payments.assign(
            conn,
            received_id,
            retailer_id,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
            renderer=deps.renderer,
        )
    answer = received_json(done.received)
    answer["outstanding"] = rupees_json(done.taken.outstanding_after)
    answer["toAdvance"] = rupees_json(done.taken.to_advance)
    answer["vpaLearned"] = done.vpa_learned
    return JSONResponse(answer)


async def dismiss(request: Request) -> Response:
    """Mark an unmatched payment as no retailer's (a settlement, a refund), with the reason."""
    deps, caller = deps_of(request), caller_of(request)
    received_id = fields.path_id(request, "id")
    body = await read_json(request)
    reason = fields.text(body, "reason")
    async with deps.pool.acquire() as conn:
        row = await payments.dismiss(
            conn, received_id, reason=reason, performed_by=caller.performed_by,
            now=deps.clock.now(),
        )  # fmt: skip
    return JSONResponse(received_json(row))


async def set_vpa(request: Request) -> Response:
    """Set or clear the retailer's UPI address, which bank lines are matched by."""
    deps, caller = deps_of(request), caller_of(request)
    body = await read_json(request)
    if "vpa" not in body:
        raise Unprocessable("INVALID_FIELD", "vpa is required (null clears it)")
    vpa = fields.optional_text(body, "vpa")
    async with deps.pool.acquire() as conn:
        retailer_id = await fields.retailer(conn, request.path_params["retailer"])
        stored = await payments.set_vpa(
            conn, retailer_id, vpa, performed_by=caller.performed_by, now=deps.clock.now()
        )
    return JSONResponse({"retailerId": retailer_id, "vpa": stored})
