"""POST /webhooks/twilio/whatsapp: retailers (and whitelisted admins) writing to the bot.

Parse the form, verify Twilio's signature, then in one transaction: claim the MessageSid (a
redelivery gets the stored reply), lock the conversation, load the facts, `checkout.step`, apply
its effects, store the reply. The answer is TwiML. Business rules live in `bot.checkout`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import assert_never
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot import checkout
from bot.checkout import (
    CancelPendingOrder,
    CompletePendingOrder,
    Conversation,
    Decision,
    Effect,
    ExpirePendingOrder,
    Facts,
    Inbound,
    OpenPendingOrder,
    Placement,
    PlaceOrder,
    RequestPaymentLink,
    Retailer,
    SetInsightsOff,
    SetLanguage,
    SetOptOut,
    UpdatePendingOrder,
)
from bot.cli import metrics
from bot.cli.deps import Deps
from bot.clock import business_date
from bot.credit import CreditFacts
from bot.messages import MAX_MESSAGE_CHARS, Reply, cut_utf16, utf16_len
from bot.payments.pay import PayOptions, upi_note
from bot.phone import InvalidPhone, Phone, mask_phone, normalize_phone
from bot.statements import SHOWN_ITEMS
from bot.text import without_nul
from bot.twilio_edge import looks_like_sid, signature_valid
from db import conversations, payments, pending_orders
from db.errors import BadRequest, Forbidden
from db.ledger import place_order
from db.operators import get_active_operator_by_phone
from db.pool import Conn
from db.statements import get_dues
from handlers.admin_chat import handle_admin_text
from handlers.observability import note

log = logging.getLogger(__name__)

PATH = "/webhooks/twilio/whatsapp"
# Characters XML 1.0 cannot carry at all (a retailer's text may be echoed back in a hint).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- edge: form, identity, signature -----------------------------------------------------------


async def read_form(request: Request) -> list[tuple[str, str]]:
    """Every posted field in order (all of them count for the signature); 400 when malformed."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("BAD_REQUEST", "body must be application/x-www-form-urlencoded")
    raw = await request.body()
    try:
        return parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("BAD_REQUEST", "body is not a valid form") from None


def _first(fields: Sequence[tuple[str, str]], name: str) -> str:
    return next((v for k, v in fields if k == name), "")


def _sender(fields: Sequence[tuple[str, str]]) -> Phone:
    raw = _first(fields, "From")
    if not raw:
        raise BadRequest("BAD_REQUEST", "From is required")
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise BadRequest("BAD_REQUEST", "From is not a phone number") from None


def _message_sid(fields: Sequence[tuple[str, str]]) -> str:
    sid = _first(fields, "MessageSid") or _first(fields, "SmsMessageSid")
    if not looks_like_sid(sid):
        raise BadRequest("BAD_REQUEST", "MessageSid is required")
    return sid


def signed_url(deps: Deps, request: Request) -> str:
    """The URL Twilio signed: the configured public address (behind a proxy) + path + query.
    `signature_valid` also tries it with and without the default port, as Twilio's own
    validator does."""
    base = deps.settings.public_base_url
    if not base:
        return str(request.url)
    query = request.url.query
    return base + request.url.path + (f"?{query}" if query else "")


def _verify(deps: Deps, request: Request, fields: Sequence[tuple[str, str]]) -> None:
    token = deps.settings.twilio_auth_token
    signature = request.headers.get("x-twilio-signature")
    if not token or not signature_valid(token, signed_url(deps, request), fields, signature):
        raise Forbidden("FORBIDDEN", "invalid Twilio signature")


# --- TwiML -------------------------------------------------------------------------------------


def _xml(text: str) -> str:
    text = _XML_INVALID.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def twiml(messages: Sequence[str]) -> str:
    """The TwiML answer: one <Message> per non-empty text. The same document as twilio's
    `MessagingResponse` (a test checks), written directly: the library's costs more than this
    on the webhook's hot path (docs/decisions.md)."""
    body = "".join(f"<Message>{_xml(m)}</Message>" for m in messages if m)
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


def pack(texts: Sequence[str], limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Join replies into as few WhatsApp messages as fit (blank line between), each within
    `limit` UTF-16 code units (as Twilio counts)."""
    out: list[str] = []
    for text in texts:
        for piece in _split_long(text, limit):
            if out and utf16_len(out[-1]) + 2 + utf16_len(piece) <= limit:
                out[-1] += "\n\n" + piece
            else:
                out.append(piece)
    return out


def _split_long(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while utf16_len(text) > limit:
        # A text of nothing but combining marks has no boundary to cut at: cut anywhere.
        head = cut_utf16(text, limit) or text[: max(1, limit // 2)]
        cut = head.rfind("\n")
        cut = cut if cut > 0 else len(head)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    pieces.append(text)
    return [p for p in pieces if p]


# --- the route ---------------------------------------------------------------------------------


async def inbound_whatsapp(request: Request) -> Response:
    try:
        return await _inbound(request)
    except Forbidden:
        metrics.WEBHOOK_OUTCOMES.labels("whatsapp", "bad_signature").inc()
        raise
    except BadRequest:
        metrics.WEBHOOK_OUTCOMES.labels("whatsapp", "bad_request").inc()
        raise
    except Exception:
        metrics.WEBHOOK_OUTCOMES.labels("whatsapp", "error").inc()
        raise


# handle_message's word for the log -> the outcome counted (a stage move is a reply).
_OUTCOMES = {
    "not registered": "not_registered",
    "redelivery": "duplicate",
    "admin command": "admin",
}


async def _inbound(request: Request) -> Response:
    deps: Deps = request.state.deps
    fields = await read_form(request)
    phone = _sender(fields)
    sid = _message_sid(fields)
    _verify(deps, request, fields)
    fields = without_nul(fields)  # PostgreSQL text cannot hold NUL; nobody means to type one
    now = deps.clock.now()
    link_requests: list[tuple[int, int]] = []
    async with deps.pool.acquire() as conn, conn.transaction():
        xml, outcome = await handle_message(
            deps, conn, fields, phone, sid, now, link_requests=link_requests
        )
    for retailer_id, amount in link_requests:  # after the commit: no lock held meanwhile
        await request_payment_link(deps, retailer_id, amount, now)
    counted = _OUTCOMES.get(outcome, "replied")
    metrics.WEBHOOK_OUTCOMES.labels("whatsapp", counted).inc()
    # The request's one log line (handlers.observability) carries these.
    note(request, outcome=counted, sid=sid, sender=mask_phone(phone), detail=outcome)
    return Response(xml, media_type="text/xml; charset=utf-8")


async def handle_message(
    deps: Deps,
    conn: Conn,
    fields: Sequence[tuple[str, str]],
    phone: Phone,
    sid: str,
    now: datetime,
    *,
    link_requests: list[tuple[int, int]] | None = None,
) -> tuple[str, str]:
    """TwiML for one inbound message and a word for the log; runs inside the caller's transaction.

    Payment links the reply asks for are appended to `link_requests` (retailer, amount), for the
    caller to queue once the transaction is over."""
    body = _first(fields, "Body")
    payload = dict(fields)
    if phone in deps.settings.admin_numbers:
        return await _admin_message(deps, conn, phone, sid, body, payload, now)

    claim = await conversations.claim_and_lock(
        conn, phone=phone, message_sid=sid, body=body, payload=payload, received_at=now
    )
    if claim.retailer_id is None:
        # Not a retailer's number: an active operator's reaches the admin commands (looked up
        # only here, so a retailer's message costs no extra round trip).
        if await get_active_operator_by_phone(conn, phone):
            return await _admin_message(deps, conn, phone, sid, body, payload, now)
        # Unknown numbers leave no trace: nothing is claimed or created.
        texts = [deps.renderer.render(checkout.not_registered(), lang) for lang in ("en", "hi")]
        return twiml(pack(texts)), "not registered"
    if not claim.claimed:
        return await _stored(conn, sid), "redelivery"

    stored_conv = claim.conversation or await conversations.create_conversation(
        conn, phone, claim.retailer_id, now
    )
    conv = Conversation.from_stored(stored_conv.stage, stored_conv.data)
    inbound = Inbound(
        text=body,
        received_at=now,
        num_media=_int(_first(fields, "NumMedia")),
        button=_first(fields, "ButtonPayload") or _first(fields, "ButtonText"),
    )
    facts = await load_facts(deps, conn, claim.retailer_id, conv, inbound, now)
    decision = checkout.step(conv, inbound, facts)
    decision, final = await apply_effects(deps, conn, decision, facts, now)
    if final.payment_link is not None and link_requests is not None:
        link_requests.append((claim.retailer_id, final.payment_link))
    texts = [deps.renderer.render(r, decision.language) for r in decision.replies]
    xml = twiml(pack(texts))
    await conversations.finish_message(
        conn,
        phone=phone,
        stage=decision.conversation.stage.value,
        data=decision.conversation.to_data(),
        message_sid=sid,
        reply=xml,
        retailer_id=claim.retailer_id,
        now=now,
        opted_out=final.opted_out,
        language=final.language,
        pending_status=final.pending_status,
        insights_off=final.insights_off,
    )
    return xml, f"{conv.stage.value} -> {decision.conversation.stage.value}"


async def _stored(conn: Conn, sid: str) -> str:
    return await conversations.get_stored_reply(conn, sid) or twiml([])


async def _admin_message(
    deps: Deps,
    conn: Conn,
    phone: Phone,
    sid: str,
    body: str,
    payload: dict[str, str],
    now: datetime,
) -> tuple[str, str]:
    claimed = await conversations.claim_message(
        conn,
        message_sid=sid,
        phone=phone,
        retailer_id=None,
        body=body,
        payload=payload,
        received_at=now,
    )
    if not claimed:
        return await _stored(conn, sid), "redelivery"
    text = await handle_admin_text(deps, conn, phone, body, now)
    xml = twiml(pack([text]))
    await conversations.store_reply(conn, sid, xml, now)
    return xml, "admin command"


def _int(value: str) -> int:
    try:
        return max(0, int(value))
    except ValueError:
        return 0


async def load_facts(
    deps: Deps,
    conn: Conn,
    retailer_id: int,
    conv: Conversation,
    inbound: Inbound,
    now: datetime,
) -> Facts:
    """What `step` needs, read in the transaction that holds the conversation lock."""
    tz = deps.settings.tz
    history = (
        await pending_orders.get_history(conn, retailer_id, tz)
        if checkout.needs_history(inbound)
        else None
    )
    found = await conversations.get_conversation_facts(
        conn, retailer_id, business_date(now, tz), conv.pending_id, deps.catalogue
    )
    dues = (
        await get_dues(conn, retailer_id, business_date(now, tz), shown=SHOWN_ITEMS)
        if checkout.needs_dues(inbound)
        else None
    )
    payment = (
        await _pay_options(deps, conn, found.retailer, found.credit, now)
        if checkout.needs_payment(inbound)
        else None
    )
    return Facts(
        retailer=found.retailer,
        credit=found.credit,
        products=found.catalogue.products,
        catalogue=found.catalogue.active,
        pending=found.pending,
        history=history,
        tolerance=deps.settings.overdue_tolerance_paise,
        tz=tz,
        support_phone=deps.settings.support_phone,
        payment=payment,
        dues=dues,
    )


async def _pay_options(
    deps: Deps, conn: Conn, retailer: Retailer, credit: CreditFacts | None, now: datetime
) -> PayOptions | None:
    """How this retailer can pay: a live gateway link for what they owe, if one was made, and
    the UPI line (`UPI_ID`)."""
    s = deps.settings
    if credit is None or (s.payments is None and not s.upi_id):
        return None
    link = (
        await payments.get_active_link(conn, retailer.id, credit.outstanding, now)
        if s.payments is not None and credit.outstanding > 0
        else None
    )
    return PayOptions(
        upi_id=s.upi_id,
        payee=s.upi_payee_name,
        note=upi_note(retailer.shop_name, retailer.name, retailer.phone),
        link_url=link.short_url if link else None,
        link_amount=link.amount if link else None,
        gateway=s.payments is not None,
    )


async def request_payment_link(deps: Deps, retailer_id: int, amount: int, now: datetime) -> None:
    """Queue the worker's `create_payment_link` (one per retailer, amount and day); a Redis
    outage costs only the link, never the reply."""
    day = business_date(now, deps.settings.tz).isoformat()
    try:
        await deps.redis.enqueue_job(
            "create_payment_link",
            retailer_id,
            _job_id=f"payment_link:{retailer_id}:{amount}:{day}",
            _queue_name=deps.settings.arq_queue_name,
        )
    except Exception:
        log.warning("could not queue a payment link for retailer %d", retailer_id, exc_info=True)


@dataclass(frozen=True)
class FinalWrites:
    """What the message's last statement (`finish_message`) writes besides the conversation."""

    opted_out: bool | None = None
    language: str | None = None
    pending_status: tuple[tuple[int, str], ...] = ()  # (pending order id, new status)
    insights_off: bool | None = None
    payment_link: int | None = None  # the amount to make a gateway link for, after the commit


async def apply_effects(
    deps: Deps, conn: Conn, decision: Decision, facts: Facts, now: datetime
) -> tuple[Decision, FinalWrites]:
    """Carry out the decision's effects; placing an order adds the ledger's answer to it.

    Changes to the retailer row and pending orders' new statuses are returned, for the final
    statement to write: one round trip fewer, and the retailer row is locked after any credit
    account (the order every ledger operation takes them in).
    """
    conv = decision.conversation
    replies: list[Reply] = list(decision.replies)
    queue: list[Effect] = list(decision.effects)
    change = FinalWrites()
    retailer_id = facts.retailer.id
    while queue:
        effect = queue.pop(0)
        # Exhaustive: a new effect type without its case here fails mypy (`assert_never`).
        match effect:
            case OpenPendingOrder():
                pending_id = await pending_orders.insert_pending_order(
                    conn,
                    retailer_id=retailer_id,
                    lines=effect.lines,
                    total=effect.total,
                    expires_at=effect.expires_at,
                    now=now,
                )
                conv = checkout.attach_pending(conv, pending_id)
            case UpdatePendingOrder():
                await pending_orders.update_pending_order(
                    conn,
                    effect.pending_id,
                    lines=effect.lines,
                    total=effect.total,
                    payment_mode=effect.payment_mode,
                    now=now,
                )
            case CancelPendingOrder(pending_id=pid):
                change = _pending_status(change, pid, "CANCELLED")
            case ExpirePendingOrder(pending_id=pid):
                change = _pending_status(change, pid, "EXPIRED")
            case CompletePendingOrder(pending_id=pid):
                change = _pending_status(change, pid, "COMPLETED")
            case PlaceOrder():
                placement = await _place(deps, conn, effect, facts, now)
                after = checkout.after_placement(conv, placement, facts, now)
                conv = after.conversation
                replies.extend(after.replies)
                queue.extend(after.effects)
            case SetOptOut(opted_out=opted_out):
                change = replace(change, opted_out=opted_out)
            case SetLanguage(language=language):
                change = replace(change, language=language)
            case SetInsightsOff(off=off):
                change = replace(change, insights_off=off)
            case RequestPaymentLink(amount=amount):
                change = replace(change, payment_link=amount)
            case _:
                assert_never(effect)
    return replace(decision, conversation=conv, replies=tuple(replies), effects=()), change


def _pending_status(change: FinalWrites, pending_id: int, status: str) -> FinalWrites:
    """`change` with pending order `pending_id`'s new status added, for the final write."""
    return replace(change, pending_status=(*change.pending_status, (pending_id, status)))


async def _place(
    deps: Deps, conn: Conn, effect: PlaceOrder, facts: Facts, now: datetime
) -> Placement:
    result = await place_order(
        conn,
        retailer_id=facts.retailer.id,
        lines=effect.items,
        mode=effect.mode,
        now=now,
        tz=deps.settings.tz,
        tolerance=deps.settings.overdue_tolerance_paise,
        performed_by=facts.retailer.phone,
        pending_order_id=effect.pending_id,
    )
    order = result.order
    outcome = "placed" if order is not None else str(result.verdict.code or "REFUSED")
    metrics.ORDERS.labels(str(effect.mode), outcome).inc()
    if order is None:
        return Placement(False, result.verdict.code, result.verdict.available)
    return Placement(
        allowed=True,
        code=None,
        available=result.verdict.available,
        order_id=order.order_id,
        total=order.total,
        mode=order.payment_mode,
        due_date=order.due_date,
        items=tuple((i.name, i.quantity, i.line_total) for i in order.items),
        from_advance=order.advance_applied,
    )


routes: list[BaseRoute] = [Route(PATH, inbound_whatsapp, methods=["POST"])]
