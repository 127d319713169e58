"""Payments that record themselves: payment link rows, gateway webhook events, and the money
received (gateway or bank) recorded as payments or held for an operator (DESIGN section 10).

Every payment goes through `db.ledger.record_payment` (so its audit entry, the FIFO clearing
and what the ledger adds, such as resuming a SYSTEM pause, happen in its transaction). What this
module adds is a `received_payments` row per gateway payment or bank line, unique per source and
external id, which makes each of them recorded once however often it arrives:

- `handle_gateway_event`: one webhook event, in one transaction: its id claimed in
  `gateway_events` (a redelivery finds it claimed), then the payment's row claimed and locked (a
  second event about the same payment, e.g. `payment.captured` and `payment_link.paid`, waits
  and finds it recorded), the retailer found, the payment recorded, the receipt queued.
- `take`: record a received amount for a retailer: what is owed is recorded (reference = the
  gateway's payment id or the UTR), what is above it is held as `excess` (status EXCESS) until
  the ledger can keep an advance; a reference already recorded makes it a DUPLICATE.
- `assign` / `dismiss`: an operator's decision on an UNMATCHED row.

Lock order, everywhere: the `received_payments` row, then the retailer's credit account (the
ledger's own order follows from there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from bot.bank import BankLine, clues_in
from bot.clock import business_date
from bot.credit import Direction
from bot.messages import MessageKind, Renderer, Reply
from bot.payments.links import LiveLink
from bot.payments.pay import InvalidVpa, normalize_vpa
from bot.payments.provider import (
    GatewayEvent,
    GatewayPayment,
    LinkEvent,
    OtherEvent,
    PaymentEvent,
    RefundEvent,
)
from bot.phone import InvalidPhone, normalize_phone
from bot.text import is_digits
from db import ledger
from db.audit import insert_audit
from db.errors import Conflict, NotFound, Unprocessable, retailer_not_found
from db.outbox import enqueue
from db.pool import Conn

log = logging.getLogger(__name__)

GATEWAY = "gateway"
BANK = "bank"


# --- payment links ------------------------------------------------------------------------------


def _live(row: Any) -> LiveLink:
    return LiveLink(
        id=row["id"],
        amount=row["amount"],
        status=row["status"],
        business_day=row["business_day"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        short_url=row["short_url"],
        provider_link_id=row["provider_link_id"],
    )


_LINK_COLUMNS = """id, amount, status, business_day, expires_at, created_at, short_url,
                   provider_link_id"""


async def get_live_links(conn: Conn, retailer_id: int, provider: str) -> list[LiveLink]:
    """The retailer's links in CREATING or ACTIVE, oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_LINK_COLUMNS} FROM payment_links
            WHERE retailer_id = $1 AND provider = $2 AND status IN ('CREATING', 'ACTIVE')
            ORDER BY id""",
        retailer_id,
        provider,
    )
    return [_live(r) for r in rows]


async def get_active_link(
    conn: Conn, retailer_id: int, amount: int, now: datetime
) -> LiveLink | None:
    """An ACTIVE link for exactly `amount` that has not expired (read only: chat replies)."""
    row = await conn.fetchrow(
        f"""SELECT {_LINK_COLUMNS} FROM payment_links
            WHERE retailer_id = $1 AND amount = $2 AND status = 'ACTIVE' AND expires_at > $3
            ORDER BY id DESC LIMIT 1""",
        retailer_id,
        amount,
        now,
    )
    return _live(row) if row else None


async def insert_creating_link(
    conn: Conn,
    *,
    retailer_id: int,
    provider: str,
    amount: int,
    business_day: date,
    expires_at: datetime,
    now: datetime,
) -> int | None:
    """Claim the making of a link (status CREATING); None when one for this retailer and amount
    is already live (another process is making or has made it)."""
    link_id: int | None = await conn.fetchval(
        """INSERT INTO payment_links (retailer_id, provider, amount, business_day, expires_at,
               created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6)
           ON CONFLICT (retailer_id, amount) WHERE status IN ('CREATING', 'ACTIVE') DO NOTHING
           RETURNING id""",
        retailer_id,
        provider,
        amount,
        business_day,
        expires_at,
        now,
    )
    return link_id


async def mark_link_active(
    conn: Conn,
    link_id: int,
    *,
    provider_link_id: str,
    short_url: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        """UPDATE payment_links
           SET status = 'ACTIVE', provider_link_id = $2, short_url = $3, expires_at = $4,
               error = NULL, updated_at = $5
           WHERE id = $1 AND status = 'CREATING'""",
        link_id,
        provider_link_id,
        short_url,
        expires_at,
        now,
    )


async def mark_link(
    conn: Conn, link_ids: list[int], status: str, *, now: datetime, error: str | None = None
) -> None:
    """Close live links (FAILED, CANCELLED, EXPIRED); a link already closed keeps its status."""
    await conn.execute(
        """UPDATE payment_links SET status = $2, error = coalesce($3, error), updated_at = $4
           WHERE id = any($1::bigint[]) AND status IN ('CREATING', 'ACTIVE')""",
        link_ids,
        status,
        error,
        now,
    )


async def _close_provider_link(
    conn: Conn, provider: str, provider_link_id: str, status: str, now: datetime
) -> None:
    """The gateway says a link was paid, cancelled or expired. PAID wins over anything else."""
    await conn.execute(
        """UPDATE payment_links SET status = $3, updated_at = $4
           WHERE provider = $1 AND provider_link_id = $2 AND status <> 'PAID'
             AND ($3 = 'PAID' OR status IN ('CREATING', 'ACTIVE'))""",
        provider,
        provider_link_id,
        status,
        now,
    )


# --- received payments --------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """A `received_payments` row."""

    id: int
    source: str
    external_id: str
    received_on: date
    amount: int
    reference: str | None
    narration: str
    payer: str | None
    retailer_id: int | None
    matched_by: str | None
    status: str
    payment_transaction_id: int | None
    duplicate_of: int | None
    recorded_amount: int
    excess: int
    refunded: int
    note: str | None
    import_id: int | None
    line_no: int | None
    created_at: datetime
    resolved_by: str | None = None


_RECEIVED_COLUMNS = """id, source, external_id, received_on, amount, reference, narration, payer,
    retailer_id, matched_by, status, payment_transaction_id, duplicate_of, recorded_amount,
    excess, refunded, note, import_id, line_no, created_at, resolved_by"""


def _received(row: Any) -> Received:
    return Received(**dict(row))


async def claim_received(
    conn: Conn,
    *,
    source: str,
    external_id: str,
    received_on: date,
    amount: int,
    reference: str | None,
    narration: str,
    payer: str | None,
    now: datetime,
    import_id: int | None = None,
    line_no: int | None = None,
) -> tuple[Received, bool]:
    """The row of this received payment, locked, and whether this call created it (UNMATCHED).

    A concurrent claim of the same row waits here until the first commits, then finds it."""
    created = await conn.fetchval(
        """INSERT INTO received_payments (source, external_id, import_id, line_no, received_on,
               amount, reference, narration, payer, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'UNMATCHED', $10, $10)
           ON CONFLICT (source, external_id) DO NOTHING RETURNING id""",
        source,
        external_id,
        import_id,
        line_no,
        received_on,
        amount,
        reference,
        narration,
        payer,
        now,
    )
    row = await conn.fetchrow(
        f"""SELECT {_RECEIVED_COLUMNS} FROM received_payments
            WHERE source = $1 AND external_id = $2 FOR UPDATE""",
        source,
        external_id,
    )
    assert row is not None
    return _received(row), created is not None


async def lock_received(conn: Conn, received_id: int) -> Received:
    row = await conn.fetchrow(
        f"SELECT {_RECEIVED_COLUMNS} FROM received_payments WHERE id = $1 FOR UPDATE",
        received_id,
    )
    if row is None:
        raise NotFound("NOT_FOUND", f"no received payment {received_id}")
    return _received(row)


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


# --- the gateway --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventOutcome:
    """What one webhook event did: `status` is a word for the answer and the log."""

    status: str  # recorded | excess | duplicate | unmatched | refunded | link_closed | ignored
    received_id: int | None = None
    retailer_id: int | None = None
    payment_transaction_id: int | None = None
    detail: str | None = None


async def handle_gateway_event(
    conn: Conn,
    event: GatewayEvent,
    *,
    provider: str,
    performed_by: str,
    payload: Any,
    now: datetime,
    tz: tzinfo,
    renderer: Renderer | None = None,
) -> EventOutcome:
    """Act on one verified webhook event exactly once (see the module docstring)."""
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
            renderer=renderer,
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
    renderer: Renderer | None,
) -> EventOutcome:
    match event:
        case PaymentEvent():
            outcome = await receive_gateway_payment(
                conn, event.payment, provider=provider, performed_by=performed_by, now=now,
                tz=tz, renderer=renderer,
            )  # fmt: skip
            if event.link_paid and event.payment.link_id:
                await _close_provider_link(conn, provider, event.payment.link_id, "PAID", now)
            return outcome
        case RefundEvent():
            if not event.processed:
                return EventOutcome("ignored", detail="a refund is recorded when processed")
            return await apply_refund(
                conn, event, provider=provider, performed_by=performed_by, now=now, tz=tz,
                renderer=renderer,
            )  # fmt: skip
        case LinkEvent():
            await _close_provider_link(conn, provider, event.link_id, event.status, now)
            return EventOutcome("link_closed", detail=f"{event.link_id} {event.status}")
        case OtherEvent():
            return EventOutcome("ignored", detail=event.why)


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
    ref = (p.link_reference or "").removeprefix(LINK_REFERENCE_PREFIX)
    if ref != (p.link_reference or "") and is_digits(ref) and len(ref) <= 18:
        found = await conn.fetchval("SELECT retailer_id FROM payment_links WHERE id = $1", int(ref))
        if found is not None:
            return found, "link"
    hint = (p.retailer_hint or "").strip()
    if is_digits(hint) and len(hint) <= 18:
        found = await conn.fetchval("SELECT id FROM retailers WHERE id = $1", int(hint))
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
    if p.vpa:
        try:
            vpa = normalize_vpa(p.vpa)
        except InvalidVpa:
            vpa = None
        found = vpa and await conn.fetchval("SELECT id FROM retailers WHERE vpa = $1", vpa)
        if found:
            return found, "vpa"
    return None


# Our reference for a link at the gateway: this prefix and the link row's id.
LINK_REFERENCE_PREFIX = "link-"


async def receive_gateway_payment(
    conn: Conn,
    p: GatewayPayment,
    *,
    provider: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    renderer: Renderer | None = None,
) -> EventOutcome:
    """Record a captured gateway payment once (its row locked for the transaction)."""
    received_on = business_date(p.created_at or now, tz)
    payer = ", ".join(x for x in (p.contact, p.vpa, p.email) if x) or None
    row, _ = await claim_received(
        conn,
        source=GATEWAY,
        external_id=f"{provider}:{p.payment_id}",
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
        now=now, tz=tz, renderer=renderer,
    )  # fmt: skip
    return EventOutcome(
        taken.status.lower(), row.id, retailer_id, taken.payment_transaction_id,
        detail=f"matched by {clue}",
    )  # fmt: skip


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
    external_id = f"{provider}:{event.payment_id}"
    row = await conn.fetchrow(
        "SELECT id FROM received_payments WHERE source = $1 AND external_id = $2",
        GATEWAY,
        external_id,
    )
    if row is None and event.payment is not None and event.payment.captured:
        # The refund's event came first: the payment it carries is recorded, then refunded.
        await receive_gateway_payment(
            conn, event.payment, provider=provider, performed_by=performed_by, now=now, tz=tz,
            renderer=renderer,
        )  # fmt: skip
        row = await conn.fetchrow(
            "SELECT id FROM received_payments WHERE source = $1 AND external_id = $2",
            GATEWAY,
            external_id,
        )
    if row is None:
        log.warning("refund %s of unknown payment %s", event.refund_id, event.payment_id)
        return EventOutcome("unmatched", detail=f"no payment {event.payment_id} was received")
    received = await lock_received(conn, row["id"])
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


# --- operators ------------------------------------------------------------------------------------


async def get_unmatched(
    conn: Conn, *, source: str | None = None, status: str = "UNMATCHED", limit: int = 100
) -> list[Received]:
    """Received money waiting for an operator, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_RECEIVED_COLUMNS} FROM received_payments
            WHERE status = $1 AND ($2::text IS NULL OR source = $2)
            ORDER BY id DESC LIMIT $3""",
        status,
        source,
        limit,
    )
    return [_received(r) for r in rows]


@dataclass(frozen=True)
class Assigned:
    received: Received
    taken: Taken
    vpa_learned: str | None


async def assign(
    conn: Conn,
    received_id: int,
    retailer_id: int,
    *,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    renderer: Renderer | None = None,
) -> Assigned:
    """An operator says whose an UNMATCHED row is: it is recorded for them like a match (up to
    what they owe, the rest held), audited under the operator. A bank line naming exactly one
    UPI address teaches it to a retailer who has none, so their next transfer matches alone."""
    async with conn.transaction():
        received = await lock_received(conn, received_id)
        if received.status != "UNMATCHED":
            raise Conflict(
                "NOT_UNMATCHED",
                f"received payment {received_id} is {received.status}, not UNMATCHED",
                currentStatus=received.status,
            )
        exists = await conn.fetchval("SELECT 1 FROM retailers WHERE id = $1", retailer_id)
        if exists is None:
            raise retailer_not_found(retailer_id)
        duplicate_of = None
        if received.reference:
            duplicate_of = await conn.fetchval(
                """SELECT id FROM credit_transactions
                   WHERE retailer_id = $1 AND type = 'PAYMENT'
                     AND lower(btrim(reference)) = lower(btrim($2))""",
                retailer_id,
                received.reference,
            )
        taken = await take(
            conn, received, retailer_id=retailer_id, matched_by="operator",
            performed_by=performed_by, now=now, tz=tz, renderer=renderer,
            duplicate_of=duplicate_of,
        )  # fmt: skip
        await conn.execute(
            "UPDATE received_payments SET resolved_by = $2, resolved_at = $3 WHERE id = $1",
            received.id,
            performed_by,
            now,
        )
        learned = await _learn_vpa(conn, received, retailer_id, performed_by, now)
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="RECEIVED_PAYMENT_ASSIGNED",
            reference=f"received:{received.id}",
            old_value={"status": "UNMATCHED"},
            new_value={
                "status": taken.status,
                "amount": received.amount,
                "recorded": taken.recorded,
                "excess": taken.excess,
                "paymentTransactionId": taken.payment_transaction_id,
            },
            performed_by=performed_by,
            at=now,
        )
        fresh = await lock_received(conn, received.id)
    return Assigned(fresh, taken, learned)


async def _learn_vpa(
    conn: Conn, received: Received, retailer_id: int, performed_by: str, now: datetime
) -> str | None:
    if received.source != BANK:
        return None
    line = BankLine(0, received.received_on, received.amount, received.narration, None)
    vpas = clues_in(line).vpas
    if len(vpas) != 1:
        return None
    try:
        vpa = normalize_vpa(vpas[0])
    except InvalidVpa:
        return None
    taken = await conn.fetchval(
        "SELECT 1 FROM retailers WHERE vpa = $1 OR (id = $2 AND vpa IS NOT NULL)", vpa, retailer_id
    )
    if taken:
        return None
    await set_vpa(conn, retailer_id, vpa, performed_by=performed_by, now=now)
    return vpa


async def dismiss(
    conn: Conn, received_id: int, *, reason: str, performed_by: str, now: datetime
) -> Received:
    """An operator says an UNMATCHED row is no retailer's payment (a settlement, a refund)."""
    async with conn.transaction():
        received = await lock_received(conn, received_id)
        if received.status != "UNMATCHED":
            raise Conflict(
                "NOT_UNMATCHED",
                f"received payment {received_id} is {received.status}, not UNMATCHED",
                currentStatus=received.status,
            )
        await conn.execute(
            """UPDATE received_payments SET status = 'DISMISSED', note = $2, resolved_by = $3,
                   resolved_at = $4, updated_at = $4
               WHERE id = $1""",
            received_id,
            reason,
            performed_by,
            now,
        )
        return await lock_received(conn, received_id)


async def set_vpa(
    conn: Conn, retailer_id: int, vpa: str | None, *, performed_by: str, now: datetime
) -> str | None:
    """Set (or clear, with None) a retailer's UPI address, audited; Conflict when another
    retailer has it, Unprocessable when it is not a UPI address."""
    if vpa is not None:
        try:
            vpa = normalize_vpa(vpa)
        except InvalidVpa:
            raise Unprocessable(
                "INVALID_FIELD", "vpa is not a UPI address like name@bank"
            ) from None
    async with conn.transaction():
        old = await conn.fetchrow("SELECT vpa FROM retailers WHERE id = $1 FOR UPDATE", retailer_id)
        if old is None:
            raise retailer_not_found(retailer_id)
        owner = vpa and await conn.fetchval(
            "SELECT id FROM retailers WHERE vpa = $1 AND id <> $2", vpa, retailer_id
        )
        if owner:
            raise Conflict(
                "VPA_TAKEN", f"{vpa} is retailer {owner}'s UPI address", retailerId=owner
            )
        await conn.execute("UPDATE retailers SET vpa = $2 WHERE id = $1", retailer_id, vpa)
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="VPA_CHANGED",
            reference=f"retailer:{retailer_id}",
            old_value={"vpa": old["vpa"]},
            new_value={"vpa": vpa},
            performed_by=performed_by,
            at=now,
        )
    return vpa
