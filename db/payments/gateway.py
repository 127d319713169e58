"""A captured gateway payment recorded once: its row claimed, its retailer found by the clues
the gateway gives (our link, the link's notes, the payer's phone number or UPI address)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.clock import business_date
from bot.messages import Renderer
from bot.money import format_inr
from bot.payments.pay import vpa_or_none
from bot.payments.provider import GatewayPayment
from bot.phone import InvalidPhone, normalize_phone
from bot.text import is_digits
from db.payments.received import GATEWAY, claim_received
from db.payments.recording import take
from db.pool import Conn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventOutcome:
    """What one webhook event did: `status` is a word for the answer and the log."""

    # recorded | duplicate | unmatched | refunded | link_closed | ignored (an overpayment is
    # recorded: what it clears nothing of becomes advance; `excess` was answered before that)
    status: str
    received_id: int | None = None
    retailer_id: int | None = None
    payment_transaction_id: int | None = None
    detail: str | None = None


# Our reference for a link at the gateway: this prefix and the link row's id.
LINK_REFERENCE_PREFIX = "link-"


def gateway_external_id(provider: str, payment_id: str) -> str:
    """A gateway payment's `received_payments.external_id`: the provider and its payment id."""
    return f"{provider}:{payment_id}"


def _row_id(text: str) -> int | None:
    # An id we gave the gateway comes back as text; anything longer than a BIGINT is not ours.
    return int(text) if is_digits(text) and len(text) <= 18 else None


async def _gateway_retailer(conn: Conn, provider: str, p: GatewayPayment) -> tuple[int, str] | None:
    """Whose payment this is, and by which clue: the link we made, the link's notes, the
    payer's phone number, the payer's UPI address."""
    if p.link_id:
        found = await conn.fetchval(
            "SELECT retailer_id FROM payment_links WHERE provider = $1 AND provider_link_id = $2",
            provider,
            p.link_id,
        )
        if found is not None:
            return found, "link"
    reference = p.link_reference or ""
    link_id = _row_id(reference.removeprefix(LINK_REFERENCE_PREFIX))
    if reference.startswith(LINK_REFERENCE_PREFIX) and link_id is not None:
        found = await conn.fetchval("SELECT retailer_id FROM payment_links WHERE id = $1", link_id)
        if found is not None:
            return found, "link"
    hinted = _row_id((p.retailer_hint or "").strip())
    if hinted is not None:
        found = await conn.fetchval("SELECT id FROM retailers WHERE id = $1", hinted)
        if found is not None:
            return found, "notes"
    if p.contact:
        try:
            phone = normalize_phone(p.contact)
        except InvalidPhone:
            phone = None
        found = phone and await conn.fetchval("SELECT id FROM retailers WHERE phone = $1", phone)
        if found:
            return found, "contact"
    vpa = vpa_or_none(p.vpa)
    if vpa is not None:
        found = await conn.fetchval("SELECT id FROM retailers WHERE vpa = $1", vpa)
        if found:
            return found, "vpa"
    return None


async def receive_gateway_payment(
    conn: Conn,
    p: GatewayPayment,
    *,
    provider: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None = None,
) -> EventOutcome:
    """Record a captured gateway payment once (its row locked for the transaction); `tolerance`
    is the configured OVERDUE_TOLERANCE_PAISE, for lifting a SYSTEM pause it pays."""
    received_on = business_date(p.created_at or now, tz)
    payer = ", ".join(x for x in (p.contact, p.vpa, p.email) if x) or None
    row, _ = await claim_received(
        conn,
        source=GATEWAY,
        external_id=gateway_external_id(provider, p.payment_id),
        received_on=received_on,
        amount=p.amount,
        reference=p.payment_id,
        narration=f"{provider} {p.method or 'payment'}" + (f" rrn {p.rrn}" if p.rrn else ""),
        payer=payer,
        now=now,
    )
    if row.status != "UNMATCHED":
        return EventOutcome(
            "duplicate", row.id, row.retailer_id, row.payment_transaction_id,
            detail=f"payment {p.payment_id} is already {row.status}",
        )  # fmt: skip
    found = await _gateway_retailer(conn, provider, p)
    if found is None:
        log.warning("gateway payment %s: no retailer found; left for an operator", p.payment_id)
        return EventOutcome("unmatched", row.id, detail="no retailer found for this payment")
    retailer_id, clue = found
    taken = await take(
        conn, row, retailer_id=retailer_id, matched_by=clue, performed_by=performed_by,
        now=now, tz=tz, tolerance=tolerance, renderer=renderer,
    )  # fmt: skip
    detail = f"matched by {clue}"
    if taken.to_advance:
        detail += f"; {format_inr(taken.to_advance)} of it became advance"
    if taken.resumed:
        detail += "; credit resumed"
    return EventOutcome(
        taken.status.lower(), row.id, retailer_id, taken.payment_transaction_id, detail=detail
    )
