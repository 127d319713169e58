"""Queries of the WhatsApp webhook: MessageSid claims, the conversation row, its facts.

The webhook runs these in one transaction, in this order: claim the MessageSid and lock the
conversation, read the facts, (place the order through the ledger), then write the
conversation, the reply, the retailer row and pending orders' new status in one statement at
the end, so the retailer row's lock comes after the credit account's, the order every ledger
operation takes them in. Each function is one round trip: a message costs three, plus BEGIN and
COMMIT, because on a small machine the round trips (each a wake-up of a PostgreSQL backend) are
most of its cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.checkout import PendingOrder, PricedLine, Retailer
from bot.credit import CreditFacts, PaymentMode

# The ledger's own reading of "unpaid for too long" and of a credit row, so the checkout's
# verdict inputs are exactly `db.ledger.get_credit_facts`'s.
from db.catalogue import Catalogue, CatalogueCache
from db.ledger import CREDIT_FACTS_COLUMNS, credit_facts_from_row
from db.pool import Conn


@dataclass(frozen=True)
class StoredConversation:
    stage: str
    data: Any


@dataclass(frozen=True)
class Claim:
    retailer_id: int | None  # None: the number is not a retailer's (nothing was written)
    claimed: bool  # False: this MessageSid was handled before (a redelivery)
    conversation: StoredConversation | None  # locked; None when the number has none yet


async def claim_and_lock(
    conn: Conn,
    *,
    phone: str,
    message_sid: str,
    body: str,
    payload: dict[str, str],
    received_at: datetime,
) -> Claim:
    """Find the retailer by phone, claim the MessageSid and lock the conversation row until the
    transaction ends: one statement.

    An unknown number claims and locks nothing. A concurrent delivery of the same sid waits on the
    unique key until the first one commits, then sees the conflict (and reads the stored reply
    next). The row lock makes one number's messages run one at a time, across processes too; a
    message that waited for it gets the row as the previous message left it.
    """
    row = await conn.fetchrow(
        """WITH r AS (SELECT id FROM retailers WHERE phone = $1),
                ins AS (
                    INSERT INTO inbound_messages
                        (message_sid, phone, retailer_id, body, payload, received_at)
                    SELECT $2, $1, r.id, $3, $4, $5 FROM r
                    ON CONFLICT (message_sid) DO NOTHING RETURNING 1),
                c AS (SELECT stage, data FROM conversations WHERE phone = $1 FOR UPDATE)
           SELECT r.id, EXISTS (SELECT 1 FROM ins) AS claimed, c.stage, c.data
           FROM r LEFT JOIN c ON true""",
        phone,
        message_sid,
        body,
        payload,
        received_at,
    )
    if row is None:
        return Claim(None, False, None)
    conversation = None if row["stage"] is None else StoredConversation(row["stage"], row["data"])
    return Claim(row["id"], row["claimed"], conversation)


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
    """Claim a MessageSid (an admin's); False when it was claimed before."""
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


async def create_conversation(
    conn: Conn, phone: str, retailer_id: int, now: datetime
) -> StoredConversation:
    """A number's first conversation row, locked (or the row a concurrent first message made)."""
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


def stored_lines(cart: Any) -> tuple[PricedLine, ...]:
    """A pending order's stored cart (`PricedLine.to_json` each) as priced lines; a cart of
    another shape is no snapshot at all (nothing to compare prices with)."""
    try:
        return tuple(PricedLine(**line) for line in cart) if isinstance(cart, list) else ()
    except TypeError:
        return ()


@dataclass(frozen=True)
class ConversationFacts:
    retailer: Retailer
    credit: CreditFacts | None  # None: no credit account
    pending: PendingOrder | None
    catalogue: Catalogue  # every product by id, and the active ones in display order


async def get_conversation_facts(
    conn: Conn,
    retailer_id: int,
    today: date,
    pending_id: int | None,
    catalogue: CatalogueCache,
) -> ConversationFacts:
    """The retailer, their credit (as `db.ledger.get_credit_facts` reads it, as of business day
    `today`), their pending order and the catalogue's version: one statement, run after the
    conversation lock so it sees what the previous message left. The catalogue itself comes from
    the process's cache, re-read only when its version moved (inactive products included, so a
    retired product can still be named)."""
    row = await conn.fetchrow(
        f"""SELECT r.id, r.name, r.shop_name, r.language, r.opted_out, r.phone,
                   r.last_inbound_at, r.insights_off_at,
                   ca.retailer_id AS account, {CREDIT_FACTS_COLUMNS},
                   p.id AS pending_id, p.status AS pending_status,
                   p.expires_at AS pending_expires_at, p.payment_mode AS pending_mode,
                   -- When its follow-up reached Twilio (or was printed): queued is not read.
                   (SELECT o.sent_at FROM outbox_messages o
                    WHERE o.dedupe_key = 'pending_order_follow_up:' || p.id)
                       AS pending_followed_up_at,
                   p.cart AS pending_cart,
                   (SELECT version FROM catalogue_version) AS catalogue_version
            FROM retailers r
            LEFT JOIN credit_accounts ca ON ca.retailer_id = r.id
            LEFT JOIN pending_orders p ON p.id = $3 AND p.retailer_id = r.id
            WHERE r.id = $1""",
        retailer_id,
        today,
        pending_id,
    )
    assert row is not None
    credit = None if row["account"] is None else credit_facts_from_row(row)
    pending = None
    if row["pending_id"] is not None:
        mode = PaymentMode(row["pending_mode"]) if row["pending_mode"] else None
        pending = PendingOrder(
            row["pending_id"],
            row["pending_status"],
            row["pending_expires_at"],
            mode,
            stored_lines(row["pending_cart"]),
            followed_up_at=row["pending_followed_up_at"],
        )
    return ConversationFacts(
        retailer=Retailer(
            id=row["id"],
            name=row["name"],
            shop_name=row["shop_name"],
            language=row["language"],
            opted_out=row["opted_out"],
            phone=row["phone"],
            last_message_at=row["last_inbound_at"],
            insights_off=row["insights_off_at"] is not None,
        ),
        credit=credit,
        pending=pending,
        catalogue=await catalogue.get(conn, row["catalogue_version"]),
    )


async def finish_message(
    conn: Conn,
    *,
    phone: str,
    stage: str,
    data: dict[str, Any],
    message_sid: str,
    reply: str,
    retailer_id: int,
    now: datetime,
    opted_out: bool | None = None,
    language: str | None = None,
    pending_status: Sequence[tuple[int, str]] = (),
    insights_off: bool | None = None,
) -> None:
    """Store the conversation and the reply, and record on the retailer that they wrote at `now`
    (opens the 24-hour window), with STOP/START, `insights off`/`on` and a language change. Pending orders move from
    PENDING to their new status (CANCELLED, EXPIRED or COMPLETED; one that has already left
    PENDING stays as it is). One statement."""
    await conn.execute(
        """WITH c AS (UPDATE conversations SET stage = $2, data = $3, updated_at = $6
                      WHERE phone = $1),
                m AS (UPDATE inbound_messages SET reply = $5, processed_at = $6
                      WHERE message_sid = $4),
                p AS (UPDATE pending_orders p SET status = s.status, updated_at = $6
                      FROM unnest($10::bigint[], $11::text[]) AS s(id, status)
                      WHERE p.id = s.id AND p.status = 'PENDING')
           UPDATE retailers SET
               last_inbound_at = GREATEST(COALESCE(last_inbound_at, $6), $6),
               opted_out = COALESCE($8, opted_out),
               opted_out_at = CASE WHEN $8 IS NULL OR $8 = opted_out THEN opted_out_at
                                   WHEN $8 THEN $6 ELSE NULL END,
               language = COALESCE($9, language),
               insights_off_at = CASE WHEN $12::boolean IS NULL THEN insights_off_at
                                      WHEN $12 THEN COALESCE(insights_off_at, $6) ELSE NULL END
           WHERE id = $7""",
        phone,
        stage,
        data,
        message_sid,
        reply,
        now,
        retailer_id,
        opted_out,
        language,
        [pid for pid, _ in pending_status],
        [status for _, status in pending_status],
        insights_off,
    )
