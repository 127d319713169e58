"""The outbox, read-only: what the sender did with each business-initiated message.

`GET /outbox?status=&retailer=&cursor=&limit=` lists rows newest first, paged by `nextCursor`:
kind, status, attempts and temporary failures (Twilio's rate and queue limits, sent again later),
Twilio's error code and message, when the next attempt is due, the SID. Phone numbers are shown
whole: this is for operators (the logs mask them).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.outbox_status import OutboxStatus
from bot.text import is_digits
from db.errors import Unprocessable
from db.outbox_queries import OutboxRow, list_outbox
from handlers.admin import fields
from handlers.admin.auth import deps_of
from handlers.admin.shapes import ts

# A row's next_attempt_at means "due then" only while it waits; under a sender it is the lease's
# end, and once handed to Twilio (or failed) it means nothing.
_WAITING = frozenset({OutboxStatus.QUEUED, OutboxStatus.HELD})


async def outbox(request: Request) -> Response:
    """Outbox rows, newest first: `?status=` (e.g. FAILED, QUEUED), `?retailer=` (id or phone),
    `?cursor=` (the previous page's `nextCursor`), `?limit=` (default 50)."""
    deps = deps_of(request)
    status = _status(request.query_params.get("status", ""))
    before = _cursor(request.query_params.get("cursor", ""))
    limit = fields.limit(request, default=50)
    ref = request.query_params.get("retailer")
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, ref) if ref else None
        rows = await list_outbox(
            conn, status=status, retailer_id=rid, before_id=before, limit=limit + 1
        )
    page = rows[:limit]
    more = len(rows) > limit
    return JSONResponse(
        {
            "messages": [outbox_json(r) for r in page],
            "nextCursor": str(page[-1].id) if more else None,
        }
    )


def outbox_json(r: OutboxRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "retailerId": r.retailer_id,
        "to": r.to_phone,
        "kind": r.kind,
        "language": r.language,
        "status": r.status,
        "attempts": r.attempts,
        "temporaryFailures": r.temporary_failures,
        "errorCode": r.error_code,
        "errorMessage": r.error_message,
        "nextAttemptAt": ts(r.next_attempt_at) if r.status in _WAITING else None,
        "createdAt": ts(r.created_at),
        "sentAt": ts(r.sent_at),
        "twilioSid": r.twilio_sid,
        "contentSid": r.content_sid,
        "unconfirmedSince": ts(r.unconfirmed_since),
        "retryOf": r.retry_of,
        "body": r.body,
    }


def _status(raw: str) -> str | None:
    value = raw.strip().upper()
    if not value:
        return None
    if value not in {s.value for s in OutboxStatus}:
        allowed = ", ".join(OutboxStatus)
        raise Unprocessable("INVALID_FIELD", f"status must be one of {allowed}")
    return value


def _cursor(raw: str) -> int | None:
    value = raw.strip()
    if not value:
        return None
    if not is_digits(value) or len(value) > 18:
        raise Unprocessable("INVALID_CURSOR", "cursor must be a nextCursor this list gave")
    return int(value)
