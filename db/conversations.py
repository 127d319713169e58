"""Queries of the WhatsApp webhook: retailers by phone, MessageSid claims, conversation rows.

The webhook calls these inside one transaction, in this order: claim the MessageSid, lock the
conversation, (place the order through the ledger), then update the retailer row last, so its
locks come after the credit account's, the order every ledger operation takes them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.checkout import Retailer
from db.pool import Conn


@dataclass(frozen=True)
class StoredConversation:
    stage: str
    data: Any


async def get_retailer_by_phone(conn: Conn, phone: str) -> Retailer | None:
    """The retailer whose WhatsApp number (E.164) this is, or None."""
    row = await conn.fetchrow(
        """SELECT id, name, shop_name, language, opted_out, phone FROM retailers WHERE phone = $1""",
        phone,
    )
    return Retailer(**dict(row)) if row else None


async def claim_message(
    conn: Conn,
    *,
    message_sid: str,
    phone: str,
    retailer_id: int | None,
    body: str,
    payload: dict[str, str],
    received_at: datetime,
) -> bool:
    """Claim a MessageSid; False when it was claimed before (a redelivery).

    A concurrent delivery of the same sid waits here until the first one commits, then sees the
    conflict and reads the stored reply.
    """
    claimed = await conn.fetchval(
        """INSERT INTO inbound_messages (message_sid, phone, retailer_id, body, payload, received_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (message_sid) DO NOTHING RETURNING true""",
        message_sid,
        phone,
        retailer_id,
        body,
        payload,
        received_at,
    )
    return bool(claimed)


async def get_stored_reply(conn: Conn, message_sid: str) -> str | None:
    reply: str | None = await conn.fetchval(
        "SELECT reply FROM inbound_messages WHERE message_sid = $1", message_sid
    )
    return reply


async def store_reply(conn: Conn, message_sid: str, reply: str, at: datetime) -> None:
    """Keep the answer with the claim, so a redelivery gets exactly the same one."""
    await conn.execute(
        "UPDATE inbound_messages SET reply = $2, processed_at = $3 WHERE message_sid = $1",
        message_sid,
        reply,
        at,
    )


async def lock_conversation(
    conn: Conn, phone: str, retailer_id: int, now: datetime
) -> StoredConversation:
    """Create the conversation row if missing and lock it until the transaction ends.

    One statement: the upsert takes the row lock, so one number's messages are handled one at a
    time, across processes too.
    """
    row = await conn.fetchrow(
        """INSERT INTO conversations (phone, retailer_id, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (phone) DO UPDATE SET retailer_id = EXCLUDED.retailer_id
           RETURNING stage, data""",
        phone,
        retailer_id,
        now,
    )
    assert row is not None
    return StoredConversation(stage=row["stage"], data=row["data"])


async def save_conversation(
    conn: Conn, phone: str, stage: str, data: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        "UPDATE conversations SET stage = $2, data = $3, updated_at = $4 WHERE phone = $1",
        phone,
        stage,
        data,
        now,
    )


async def record_inbound(
    conn: Conn,
    retailer_id: int,
    now: datetime,
    *,
    opted_out: bool | None = None,
    language: str | None = None,
) -> None:
    """The retailer wrote at `now` (opens the 24-hour window); STOP/START and language too."""
    await conn.execute(
        """UPDATE retailers SET
               last_inbound_at = GREATEST(COALESCE(last_inbound_at, $2), $2),
               opted_out = COALESCE($3, opted_out),
               opted_out_at = CASE WHEN $3 IS NULL OR $3 = opted_out THEN opted_out_at
                                   WHEN $3 THEN $2 ELSE NULL END,
               language = COALESCE($4, language)
           WHERE id = $1""",
        retailer_id,
        now,
        opted_out,
        language,
    )
