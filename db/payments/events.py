"""A verified gateway webhook event, acted on exactly once (see `db.payments`)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.messages import Renderer
from bot.payments.provider import (
    GatewayEvent,
    LinkEvent,
    OtherEvent,
    PaymentEvent,
    RefundEvent,
)
from db.payments.gateway import EventOutcome, receive_gateway_payment
from db.payments.links import close_provider_link
from db.payments.refunds import apply_refund
from db.pool import Conn


async def handle_gateway_event(
    conn: Conn,
    event: GatewayEvent,
    *,
    provider: str,
    performed_by: str,
    payload: Any,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None = None,
) -> EventOutcome:
    """Act on one verified webhook event exactly once (see `db.payments`); `tolerance` is the
    configured OVERDUE_TOLERANCE_PAISE, for lifting a SYSTEM pause a payment pays."""
    async with conn.transaction():
        claimed = await conn.fetchval(
            """INSERT INTO gateway_events (provider, event_id, event, outcome, payload,
                   received_at)
               VALUES ($1, $2, $3, 'claimed', $4, $5)
               ON CONFLICT (provider, event_id) DO NOTHING RETURNING 1""",
            provider,
            event.event_id,
            event.name,
            payload,
            now,
        )
        if claimed is None:
            return EventOutcome("duplicate", detail="this event was handled before")
        outcome = await _act(
            conn, event, provider=provider, performed_by=performed_by, now=now, tz=tz,
            tolerance=tolerance, renderer=renderer,
        )  # fmt: skip
        await conn.execute(
            "UPDATE gateway_events SET outcome = $3 WHERE provider = $1 AND event_id = $2",
            provider,
            event.event_id,
            outcome.status,
        )
    return outcome


async def _act(
    conn: Conn,
    event: GatewayEvent,
    *,
    provider: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None,
) -> EventOutcome:
    match event:
        case PaymentEvent():
            outcome = await receive_gateway_payment(
                conn, event.payment, provider=provider, performed_by=performed_by, now=now,
                tz=tz, tolerance=tolerance, renderer=renderer,
            )  # fmt: skip
            if event.link_paid and event.payment.link_id:
                await close_provider_link(conn, provider, event.payment.link_id, "PAID", now)
            return outcome
        case RefundEvent():
            if not event.processed:
                return EventOutcome("ignored", detail="a refund is recorded when processed")
            return await apply_refund(
                conn, event, provider=provider, performed_by=performed_by, now=now, tz=tz,
                tolerance=tolerance, renderer=renderer,
            )  # fmt: skip
        case LinkEvent():
            await close_provider_link(conn, provider, event.link_id, event.status, now)
            return EventOutcome("link_closed", detail=f"{event.link_id} {event.status}")
        case OtherEvent():
            return EventOutcome("ignored", detail=event.why)
