"""Stored answers for the admin API's `Idempotency-Key`: the same key replays the first answer."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from db.pool import Conn


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status_code: int
    response: Any


def request_hash(body: Any) -> str:
    """A stable hash of a parsed JSON body (key order and number spelling do not matter)."""

    def default(value: Any) -> str:
        if isinstance(value, Decimal):
            return str(value.normalize())
        raise TypeError(type(value).__name__)

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=default)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def get_answer(conn: Conn, scope: str, key: str) -> StoredAnswer | None:
    row = await conn.fetchrow(
        """SELECT request_hash, status_code, response FROM idempotency_keys
           WHERE scope = $1 AND key = $2""",
        scope,
        key,
    )
    if row is None:
        return None
    return StoredAnswer(row["request_hash"], row["status_code"], row["response"])


async def save_answer(
    conn: Conn,
    scope: str,
    key: str,
    *,
    request_hash: str,
    status_code: int,
    response: Any,
    now: datetime,
) -> bool:
    """Store the answer in the caller's transaction; False when another request stored one first
    (the insert waits for that request to commit, so the caller rolls back and replays it)."""
    inserted = await conn.fetchval(
        """INSERT INTO idempotency_keys (key, scope, request_hash, status_code, response,
               created_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (scope, key) DO NOTHING RETURNING 1""",
        key,
        scope,
        request_hash,
        status_code,
        response,
        now,
    )
    return inserted is not None
