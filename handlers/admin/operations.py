"""Operations: the audit log, running a job now, a test WhatsApp message through the outbox."""

from __future__ import annotations

import logging
import secrets
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.messages import MessageKind, Reply
from bot.phone import InvalidPhone, mask_phone, normalize_phone
from db.admin_queries import find_recipient
from db.audit import get_audit
from db.errors import Unprocessable
from db.outbox import enqueue
from handlers.admin import fields, shapes
from handlers.admin.auth import deps_of
from handlers.errors import read_json
from jobs.runner import AsOfRefused, run_job_as_person

log = logging.getLogger(__name__)


async def audit(request: Request) -> Response:
    """Audit entries, newest first, of one retailer (`?retailer=`) or all."""
    deps = deps_of(request)
    ref = request.query_params.get("retailer")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, ref) if ref else None
        entries = await get_audit(conn, retailer_id=rid, limit=fields.limit(request))
    return JSONResponse({"entries": [shapes.audit_json(e) for e in entries]})


async def run_job(request: Request) -> Response:
    """Run a job now, optionally as of a day; answers what it counted."""
    deps = deps_of(request)
    name = request.path_params["job"]
    body = await fields.read_optional_json(request)
    as_of = None
    if body.get("asOf") is not None:
        try:
            as_of = date.fromisoformat(str(body["asOf"]))
        except ValueError:
            raise Unprocessable("INVALID_FIELD", "asOf must be a date YYYY-MM-DD") from None
    try:
        result = await run_job_as_person(deps, name, as_of)
    except AsOfRefused as refused:
        # This API names the body field in a 422, as its other routes do.
        raise Unprocessable("INVALID_FIELD", f"asOf: {refused.problem}") from None
    return JSONResponse(
        {
            "job": result.job,
            "asOf": result.as_of.isoformat(),
            "counts": shapes.job_counts_json(result.counts),
            "runId": getattr(result, "run_id", None),
        }
    )


async def whatsapp_send(request: Request) -> Response:
    """Queue a test message through the outbox (the sender delivers it)."""
    deps = deps_of(request)
    body = await read_json(request)
    to = fields.text(body, "to")
    message = fields.text(body, "message")
    try:
        phone = normalize_phone(to)
    except InvalidPhone:
        raise Unprocessable("INVALID_FIELD", "to is not a valid phone number") from None
    async with deps.pool.acquire() as conn, conn.transaction():
        # A retailer's number gets the message in its language, tied to the retailer.
        recipient = await find_recipient(conn, phone)
        outbox_id = await enqueue(
            conn,
            kind=MessageKind.TEST_MESSAGE,
            reply=Reply("test_message", {"message": message}),
            to_phone=phone,
            language=recipient.language if recipient else "en",
            dedupe_key=f"test_message:{secrets.token_hex(12)}",
            now=deps.clock.now(),
            retailer_id=recipient.id if recipient else None,
            renderer=deps.renderer,
        )
    log.info("test message queued to %s", mask_phone(phone))
    return JSONResponse({"outboxId": outbox_id, "status": "QUEUED"}, status_code=202)
