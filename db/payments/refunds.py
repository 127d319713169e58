"""A processed gateway refund applied once: what never reached the ledger is given back first, the
rest is taken back by a debit adjustment (from the retailer's advance first, then owed again)."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from bot.credit import Direction
from bot.messages import Renderer
from bot.money import format_inr
from bot.payments.provider import RefundEvent
from db import ledger
from db.payments.gateway import EventOutcome, gateway_external_id, receive_gateway_payment
from db.payments.received import GATEWAY, get_received_id, lock_received
from db.pool import Conn

log = logging.getLogger(__name__)


async def apply_refund(
    conn: Conn,
    event: RefundEvent,
    *,
    provider: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None = None,
) -> EventOutcome:
    """A processed refund, once: what of the payment never reached the ledger (the whole of an
    unmatched one, or the excess held by a row stored before the ledger kept advances) is given
    back first; the rest is a DEBIT adjustment (reason `correction`, the refund named in its
    notes), which the ledger pays from the retailer's advance first (so a refund of what became
    advance takes it back) and adds the rest to what is owed."""
    claimed = await conn.fetchval(
        """INSERT INTO gateway_refunds (provider, refund_id, payment_id, amount, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (provider, refund_id) DO NOTHING RETURNING 1""",
        provider,
        event.refund_id,
        event.payment_id,
        event.amount,
        now,
    )
    if claimed is None:
        return EventOutcome("duplicate", detail=f"refund {event.refund_id} was applied before")
    external_id = gateway_external_id(provider, event.payment_id)
    received_id = await get_received_id(conn, GATEWAY, external_id)
    if received_id is None and event.payment is not None and event.payment.captured:
        # The refund's event came first: the payment it carries is recorded, then refunded.
        await receive_gateway_payment(
            conn, event.payment, provider=provider, performed_by=performed_by, now=now, tz=tz,
            tolerance=tolerance, renderer=renderer,
        )  # fmt: skip
        received_id = await get_received_id(conn, GATEWAY, external_id)
    if received_id is None:
        log.warning("refund %s of unknown payment %s", event.refund_id, event.payment_id)
        return EventOutcome("unmatched", detail=f"no payment {event.payment_id} was received")
    received = await lock_received(conn, received_id)
    given_back: int = await conn.fetchval(
        """SELECT coalesce(sum(from_unrecorded), 0)::bigint FROM gateway_refunds
           WHERE received_payment_id = $1""",
        received.id,
    )
    # A DUPLICATE was recorded in full before, by whoever recorded its reference first.
    recorded = received.amount if received.status == "DUPLICATE" else received.recorded_amount
    # Not on the ledger: all of an UNMATCHED or DISMISSED row; nothing of a row recorded since
    # advances (recorded whole); the held excess of an EXCESS row stored before them.
    unrecorded = received.amount - recorded - given_back
    if received.status == "EXCESS":
        unrecorded = min(unrecorded, received.excess)
    from_unrecorded = max(0, min(event.amount, unrecorded))
    taken_back = min(event.amount - from_unrecorded, recorded)
    adjustment_id: int | None = None
    from_advance = 0
    if taken_back > 0 and received.retailer_id is not None:
        result = await ledger.adjust(
            conn,
            received.retailer_id,
            direction=Direction.DEBIT,
            amount=taken_back,
            reason="correction",
            notes=f"refund {event.refund_id} of {provider} payment {event.payment_id}",
            performed_by=performed_by,
            now=now,
            tz=tz,
            tolerance=tolerance,
        )
        adjustment_id, from_advance = result.transaction_id, result.advance_applied
    excess, status = received.excess, received.status
    if status == "EXCESS":  # stored before advances: its held excess is what is given back
        excess -= from_unrecorded
        status = "RECORDED" if excess == 0 else status
    if status == "UNMATCHED" and received.refunded + event.amount >= received.amount:
        status = "DISMISSED"
    await conn.execute(
        """UPDATE received_payments
           SET refunded = refunded + $2, excess = $3, status = $4,
               note = CASE WHEN $4 = 'DISMISSED' AND status <> 'DISMISSED'
                           THEN 'refunded in full at the gateway' ELSE note END,
               updated_at = $5
           WHERE id = $1""",
        received.id,
        event.amount,
        excess,
        status,
        now,
    )
    await conn.execute(
        """UPDATE gateway_refunds
           SET received_payment_id = $3, from_unrecorded = $4, adjustment_transaction_id = $5
           WHERE provider = $1 AND refund_id = $2""",
        provider,
        event.refund_id,
        received.id,
        from_unrecorded,
        adjustment_id,
    )
    return EventOutcome(
        "refunded", received.id, received.retailer_id, adjustment_id,
        detail=refund_detail(from_unrecorded, from_advance, taken_back - from_advance),
    )  # fmt: skip


def refund_detail(from_unrecorded: int, from_advance: int, owed_again: int) -> str:
    """Where a refund came from, naming only the parts it took something from."""
    parts = [
        (from_unrecorded, "of what was never recorded"),
        (from_advance, "from the advance"),
        (owed_again, "owed again"),
    ]
    named = [f"{format_inr(amount)} {what}" for amount, what in parts if amount]
    return ", ".join(named) or "nothing recorded to take back"
