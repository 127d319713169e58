"""POST /webhooks/twilio/status: Twilio's delivery status callbacks for outbox messages.

Parse the form, check `X-Twilio-Signature` against the public URL (with or without its default
port; 403 when wrong), then, in one transaction, move the row forward in one conditional UPDATE
(a status never moves backwards, a repeated callback changes nothing, a failure keeps Twilio's
ErrorCode) and do what the error code means (`db.outbox_callbacks`: sent again later, as a
template, or the retailer marked opted out). A MessageSid no message has yet is kept: Twilio can
call back before the sender has written the SID, and the sender applies it once it has (a day
at most; then it was not one of ours).
"""

from __future__ import annotations

import logging
import random

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.cli import metrics
from bot.cli.deps import Deps
from bot.outbox_status import twilio_status
from bot.phone import mask_phone
from bot.text import without_nul
from bot.twilio_edge import looks_like_sid, signature_valid
from bot.twilio_errors import TWILIO_ERRORS
from db.errors import BadRequest, Forbidden
from db.outbox_callbacks import StatusEvent, apply_status_callback, keep_early_status_callback

log = logging.getLogger(__name__)

PATH = "/webhooks/twilio/status"


def signed_url(deps: Deps, request: Request) -> str:
    """The URL Twilio signed: the configured public base URL + this path (+ query, if any)."""
    base = deps.settings.public_base_url or str(request.base_url).rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


async def status_callback(request: Request) -> Response:
    deps: Deps = request.state.deps
    try:
        form = await request.form()
    except Exception:  # python-multipart raises several kinds on a malformed body
        raise BadRequest("BAD_REQUEST", "the body is not a valid form") from None
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    token = deps.settings.twilio_auth_token or ""
    if not signature_valid(
        token, signed_url(deps, request), fields, request.headers.get("X-Twilio-Signature")
    ):
        log.warning("status callback with a bad or missing signature refused")
        metrics.WEBHOOK_OUTCOMES.labels("status", "bad_signature").inc()
        raise Forbidden("FORBIDDEN", "invalid Twilio signature")
    values = dict(without_nul(fields))
    sid = values.get("MessageSid", "").strip()
    raw_status = values.get("MessageStatus", "").strip()
    if not looks_like_sid(sid) or not raw_status:
        raise BadRequest("BAD_REQUEST", "MessageSid and MessageStatus are required")
    status = twilio_status(raw_status)
    if status is None:
        log.info("status callback for %s: status %r not tracked", sid, raw_status[:32])
        metrics.WEBHOOK_OUTCOMES.labels("status", "untracked").inc()
        return Response(status_code=204)
    error_code = values.get("ErrorCode", "").strip() or None
    # Callbacks often carry the code alone: the table's meaning says what it was.
    known = TWILIO_ERRORS.get(error_code or "")
    error_message = values.get("ErrorMessage", "").strip() or (known.meaning if known else None)
    event = StatusEvent(sid, status, error_code, error_message)
    now = deps.clock.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        result = await apply_status_callback(conn, event, now, jitter=random.random())
        if not result.found:
            # Possibly earlier than the sender's write of this SID: kept, applied when it comes.
            await keep_early_status_callback(conn, event, now)
    counted = "kept" if not result.found else "applied" if result.changed else "unchanged"
    metrics.WEBHOOK_OUTCOMES.labels("status", counted).inc()
    if not result.found:
        log.info(
            "status callback for a message not (yet) recorded, %s (%s to %s): kept",
            sid,
            raw_status[:32],
            mask_phone(values.get("To")),
        )
    elif result.changed:
        log.info("outbox #%s is now %s", result.id, result.status)
    return Response(status_code=204)


routes: list[BaseRoute] = [Route(PATH, status_callback, methods=["POST"])]
