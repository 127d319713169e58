"""A processed gateway refund applied once: what was held is given back first, the rest is owed
again as an adjustment."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from bot.credit import DEFAULT_OVERDUE_TOLERANCE, Direction
from bot.messages import Renderer
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
    renderer: Renderer | None = None,
) -> EventOutcome:
    """A processed refund, once: what was not recorded of the payment (held excess, or the
    whole of an unmatched one) is given back first, the rest is owed again as a DEBIT
    adjustment (reason `correction`, the refund named in its notes)."""
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
            renderer=renderer,
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
    unrecorded = received.amount - recorded - given_back
    if received.status == "EXCESS":
        unrecorded = min(unrecorded, received.excess)
    from_unrecorded = max(0, min(event.amount, unrecorded))
    owed_again = min(event.amount - from_unrecorded, recorded)
    adjustment_id: int | None = None
    if owed_again > 0 and received.retailer_id is not None:
        result = await ledger.adjust(
            conn,
            received.retailer_id,
            direction=Direction.DEBIT,
            amount=owed_again,
            reason="correction",
            notes=f"refund {event.refund_id} of {provider} payment {event.payment_id}",
            performed_by=performed_by,
            now=now,
            tz=tz,
            # The configured tolerance is threaded here by the payments/advances follow-up.
            tolerance=DEFAULT_OVERDUE_TOLERANCE,
        )
        adjustment_id = result.transaction_id
    excess = received.excess - from_unrecorded if received.status == "EXCESS" else received.excess
    status = received.status
    if status == "EXCESS" and excess == 0:
        status = "RECORDED"
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
        detail=f"{from_unrecorded} paise from what was held, {owed_again} owed again",
    )  # fmt: skip
