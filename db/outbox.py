"""The outbox: business-initiated messages, queued in the same transaction as their cause.

The dedupe key makes the same cause queue once (`pause:42:2026-11-27`, `reminder:42:2026-11-27`).
The body is rendered at queue time in the retailer's language; the variables are kept for the
WhatsApp template used outside the 24-hour window.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from bot.messages import MessageKind, Renderer, Reply
from db.pool import Conn


@lru_cache(maxsize=1)
def _renderer() -> Renderer:
    return Renderer()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # dates and Decimals keep their ISO / exact text


async def enqueue(
    conn: Conn,
    *,
    kind: MessageKind,
    reply: Reply,
    to_phone: str,
    language: str,
    dedupe_key: str,
    now: datetime,
    retailer_id: int | None = None,
    renderer: Renderer | None = None,
    send_at: datetime | None = None,
) -> int | None:
    """Queue one message; return its id, or None when the dedupe key was already queued.

    `send_at`: when it may go, if later than `now` (the end of quiet hours,
    `bot.quiet_hours.release_at`): its `next_attempt_at`, kept as `quiet_until` too so the
    outbox shows why it waits. Without it the sender applies quiet hours when it takes the row."""
    kind = MessageKind(kind)  # ValueError for a kind the outbox does not know
    body = (renderer or _renderer()).render(reply, language)
    held = send_at if send_at is not None and send_at > now else None
    row_id: int | None = await conn.fetchval(
        """INSERT INTO outbox_messages (retailer_id, to_phone, kind, language, template, body,
               variables, dedupe_key, next_attempt_at, created_at, updated_at, quiet_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($10::timestamptz, $9), $9, $9, $10)
           ON CONFLICT (dedupe_key) DO NOTHING RETURNING id""",
        retailer_id,
        to_phone,
        kind,
        language,
        reply.template,
        body,
        _jsonable(reply.vars),
        dedupe_key,
        now,
        held,
    )
    return row_id
