"""`Idempotency-Key` for admin routes whose retry must not act twice (recording a payment).

A route reads the key with `idempotency_key`, then inside one transaction calls `claim` before
any business check: it waits while a request with the same key is in flight and answers with the
stored answer when there is one. A successful answer is stored with `remember` in the same
transaction, so it commits with the change it describes; a refusal stores nothing, and a corrected
retry with the same key is processed. `db.idempotency` has the protocol.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from bot.limits import max_length
from db.errors import Unprocessable
from db.idempotency import get_answer, lock_key, save_answer
from db.pool import Conn

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def idempotency_key(request: Request) -> str | None:
    """The request's `Idempotency-Key`, trimmed, or None; 422 when empty or too long."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    limit = max_length(HEADER)
    if not 1 <= len(key.strip()) <= limit:
        raise Unprocessable("INVALID_FIELD", f"{HEADER} must be 1 to {limit} characters")
    return key.strip()


async def claim(conn: Conn, scope: str, key: str, digest: str) -> Response | None:
    """Hold the key until the transaction ends; the stored answer when the key has one.

    `digest` is the request as understood (`request_hash`): the same key for another request is
    422 `IDEMPOTENCY_KEY_REUSED`.
    """
    await lock_key(conn, scope, key)
    stored = await get_answer(conn, scope, key)
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise Unprocessable(
            "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request"
        )
    return Response(
        stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers={REPLAYED: "true"},
    )


async def remember(
    conn: Conn, scope: str, key: str, digest: str, response: Response, now: datetime
) -> None:
    """Store a successful answer, byte for byte, in the transaction that `claim` began."""
    await save_answer(
        conn,
        scope,
        key,
        request_hash=digest,
        status_code=response.status_code,
        body=bytes(response.body).decode(),
        now=now,
    )
