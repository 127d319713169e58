"""Stored answers for the admin API's `Idempotency-Key`: a retry replays the first answer.

The protocol, inside one transaction of the caller's (docs/decisions.md says why):

    lock_key(conn, scope, key)       waits while another request with this key is in flight
    get_answer(conn, scope, key)     the answer a request with this key committed, if any
    ... the operation ...
    save_answer(conn, scope, key, ...)   only for a successful answer, committed with it

The lock is a transaction-level advisory lock, released at commit or rollback, so a retry that
waited reads the answer the first request committed (each statement of a READ COMMITTED
transaction sees what was committed before it began), and a refused request leaves nothing
behind. The answer is stored as the exact text sent (a JSON string in the `response` column), so a
replay is the same bytes, key order included; JSONB would reorder an object's keys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from db.pool import Conn

# The first key of the two-integer advisory locks on idempotency keys. Two-integer and bigint
# advisory locks are separate key spaces, so these never meet the migration runner's lock.
_LOCK_CLASS = 0x1D3D


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status_code: int
    body: str  # the JSON text as it was sent


def request_hash(body: Any) -> str:
    """A stable hash of a parsed JSON body (key order and number spelling do not matter)."""

    def default(value: Any) -> str:
        if isinstance(value, Decimal):
            return str(value.normalize())
        raise TypeError(type(value).__name__)

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=default)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def lock_key(conn: Conn, scope: str, key: str) -> None:
    """Wait until no other transaction holds this key, then hold it until this one ends.

    Two keys can share a 32-bit hash; they then take turns, which costs time, never an answer.
    """
    assert conn.is_in_transaction(), "the key lock lasts the caller's transaction"
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS, f"{scope}\n{key}"
    )


async def get_answer(conn: Conn, scope: str, key: str) -> StoredAnswer | None:
    """The answer stored for this key, or None."""
    row = await conn.fetchrow(
        """SELECT request_hash, status_code, response FROM idempotency_keys
           WHERE scope = $1 AND key = $2""",
        scope,
        key,
    )
    if row is None:
        return None
    response = row["response"]
    if not isinstance(response, str):
        # Stored before answers were kept as text: the same content, in JSONB's key order.
        response = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
    return StoredAnswer(row["request_hash"], row["status_code"], response)


async def save_answer(
    conn: Conn,
    scope: str,
    key: str,
    *,
    request_hash: str,
    status_code: int,
    body: str,
    now: datetime,
) -> None:
    """Store the answer's text in the caller's transaction, which holds `lock_key`."""
    await conn.execute(
        """INSERT INTO idempotency_keys (key, scope, request_hash, status_code, response,
               created_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        key,
        scope,
        request_hash,
        status_code,
        body,
        now,
    )
