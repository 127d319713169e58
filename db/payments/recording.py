"""`take`: a received amount recorded as a retailer's payment through the ledger, the rest held
as excess, its receipt queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.credit import DEFAULT_OVERDUE_TOLERANCE
from bot.messages import MessageKind, Renderer, Reply
from db import ledger
from db.errors import Conflict
from db.outbox import enqueue
from db.payments.received import Received
from db.pool import Conn


@dataclass(frozen=True)
class Taken:
    """What `take` did with a received amount."""

    status: str  # RECORDED | EXCESS | DUPLICATE
    retailer_id: int
    recorded: int
    excess: int
    payment_transaction_id: int | None
    duplicate_of: int | None
    outstanding_after: int


async def take(
    conn: Conn,
    received: Received,
    *,
    retailer_id: int,
    matched_by: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    renderer: Renderer | None = None,
    duplicate_of: int | None = None,
) -> Taken:
    """Record `received` (locked, UNMATCHED) as the retailer's payment, in the caller's
    transaction: up to what they owe, the rest held as excess; its receipt queued.

    An amount above what is owed is held rather than refused or lost: the ledger has no advance
    yet (issue 12), and the money is the retailer's. `duplicate_of` (a payment already recorded
    with this reference) records nothing."""
    await ledger.lock_account(conn, retailer_id)
    owed: int = await conn.fetchval(
        "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", retailer_id
    )
    # What is left of it: a refund may have given part back while it waited for an operator.
    available = received.amount - received.refunded
    recorded = min(available, owed) if duplicate_of is None else 0
    payment_id: int | None = None
    after = owed
    if recorded > 0:
        try:
            result = await ledger.record_payment(
                conn,
                retailer_id=retailer_id,
                amount=recorded,
                reference=received.reference,
                performed_by=performed_by,
                now=now,
                tz=tz,
                # The configured tolerance is threaded here by the payments/advances follow-up.
                tolerance=DEFAULT_OVERDUE_TOLERANCE,
            )
        except Conflict as exc:
            if exc.code != "DUPLICATE_REFERENCE":
                raise
            duplicate_of = int(exc.extra.get("paymentId") or 0) or None
            recorded = 0
        else:
            payment_id, after = result.payment_id, result.outstanding_after
    if duplicate_of is not None:
        status, excess = "DUPLICATE", 0
    else:
        excess = available - recorded
        status = "RECORDED" if excess == 0 else "EXCESS"
    await conn.execute(
        """UPDATE received_payments
           SET status = $2, retailer_id = $3, matched_by = $4, payment_transaction_id = $5,
               duplicate_of = $6, recorded_amount = $7, excess = $8, updated_at = $9
           WHERE id = $1""",
        received.id,
        status,
        retailer_id,
        matched_by,
        payment_id,
        duplicate_of,
        recorded,
        excess,
        now,
    )
    if status != "DUPLICATE":
        await _queue_receipt(
            conn, received, retailer_id, excess=excess, outstanding=after, now=now,
            renderer=renderer,
        )  # fmt: skip
    return Taken(status, retailer_id, recorded, excess, payment_id, duplicate_of, after)


async def _queue_receipt(
    conn: Conn,
    received: Received,
    retailer_id: int,
    *,
    excess: int,
    outstanding: int,
    now: datetime,
    renderer: Renderer | None,
) -> None:
    row = await conn.fetchrow(
        "SELECT phone, name, language FROM retailers WHERE id = $1", retailer_id
    )
    assert row is not None
    await enqueue(
        conn,
        kind=MessageKind.PAYMENT_RECEIVED,
        reply=Reply(
            "payment_received",
            {
                "name": row["name"],
                "amount": received.amount,
                "excess": excess,
                "outstanding": outstanding,
                "reference": received.reference or "",
                "source": received.source,
            },
        ),
        to_phone=row["phone"],
        language=row["language"],
        dedupe_key=f"payment_received:{received.id}",
        now=now,
        retailer_id=retailer_id,
        renderer=renderer,
    )
