"""Razorpay behind `PaymentProvider`: Payment Links API calls and webhook events (pure).

What this follows (cited in docs/decisions.md):
- Create a link: `POST /v1/payment_links` with HTTP basic auth (key id, key secret) and a JSON
  body: `amount` in paise, `currency` INR, `reference_id` (ours, unique per link, at most 40
  characters), `description`, `customer` {name, contact}, `notify` {sms, email},
  `reminder_enable`, `expire_by` (Unix seconds, at least 15 minutes ahead) and `notes`. The
  answer is the link entity (`id` plink_..., `short_url`, `amount`, `expire_by`, `status`).
  Cancel one: `POST /v1/payment_links/{id}/cancel`. Errors are `{"error": {"code",
  "description"}}`.
- Webhooks: `X-Razorpay-Signature` is the hex HMAC-SHA256 of the raw body keyed with the webhook
  secret (razorpay-python's `Utility.verify_webhook_signature` does exactly this, compared with
  `hmac.compare_digest`); `X-Razorpay-Event-Id` names the event across redeliveries. The body is
  `{"event", "payload": {"payment": {"entity"}, "payment_link": {"entity"}, "order":
  {"entity"}, "refund": {"entity"}}, "created_at"}`, the entities present depending on the event.
- A payment made through a link has empty `notes` and the description `#<link id without
  plink_>`; the link's notes are on the link and its order. So a `payment.captured` delivered
  before (or without) `payment_link.paid` is still traced to its link.

Notify and Razorpay's own reminders are off: the service sends the link on WhatsApp itself, in
its reminders, and a second SMS reminder from the gateway would say the same thing again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from bot.money import MAX_RUPEES
from bot.payments.provider import (
    BadEvent,
    GatewayEvent,
    GatewayPayment,
    HttpCall,
    LinkCreated,
    LinkEvent,
    LinkFailed,
    LinkOrder,
    OtherEvent,
    PaymentEvent,
    RefundEvent,
    WebhookHeaders,
)

NAME = "razorpay"
DEFAULT_API_URL = "https://api.razorpay.com"
MAX_REFERENCE = 40
MAX_DESCRIPTION = 2048
# Razorpay refuses an expiry sooner than this.
MIN_EXPIRY_SECONDS = 15 * 60
# A link paid through Razorpay leaves this description on its payment.
_MAX_PAISE = int(MAX_RUPEES * 100)
_MAX_TIMESTAMP = 253_402_300_800  # 10000-01-01: datetime cannot go further
_LINK_DESCRIPTION = re.compile(r"^#([A-Za-z0-9]{6,32})$")

PAYMENT_EVENTS = frozenset({"payment.captured", "payment_link.paid", "payment_link.partially_paid"})
REFUND_EVENTS = frozenset({"refund.processed", "refund.created"})
LINK_CLOSED = {"payment_link.cancelled": "CANCELLED", "payment_link.expired": "EXPIRED"}
HEADERS = WebhookHeaders(signature="x-razorpay-signature", event_id="x-razorpay-event-id")


@dataclass(frozen=True)
class Razorpay:
    """Razorpay with one account's keys (`PAYMENT_PROVIDER=razorpay`)."""

    key_id: str
    key_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    name: str = NAME
    headers: WebhookHeaders = HEADERS

    @property
    def performed_by(self) -> str:
        return f"gateway:{self.name}"

    # --- links --------------------------------------------------------------------------------

    def create_link_call(self, order: LinkOrder) -> HttpCall:
        body = {
            "amount": order.amount,
            "currency": "INR",
            "accept_partial": False,
            "reference_id": order.reference[:MAX_REFERENCE],
            "description": order.description[:MAX_DESCRIPTION],
            "customer": {"name": order.customer_name, "contact": order.contact},
            "notify": {"sms": False, "email": False},
            "reminder_enable": False,
            "expire_by": int(order.expire_by.timestamp()),
            "notes": {"retailer_id": str(order.retailer_id), "reference": order.reference},
        }
        return HttpCall("POST", "/v1/payment_links", body, (self.key_id, self.key_secret))

    def cancel_link_call(self, provider_link_id: str) -> HttpCall:
        path = f"/v1/payment_links/{provider_link_id}/cancel"
        return HttpCall("POST", path, None, (self.key_id, self.key_secret))

    def read_link(self, status_code: int, payload: Any) -> LinkCreated | LinkFailed:
        if not 200 <= status_code < 300:
            return _failure(status_code, payload)
        if not isinstance(payload, Mapping):
            return LinkFailed("BAD_ANSWER", "Razorpay's answer was not a JSON object", True)
        link_id, url, amount = payload.get("id"), payload.get("short_url"), payload.get("amount")
        if not isinstance(link_id, str) or not isinstance(url, str) or not _paise(amount):
            return LinkFailed("BAD_ANSWER", "Razorpay's answer lacks id, short_url or amount", True)
        return LinkCreated(link_id, url, amount, _time(payload.get("expire_by")))

    def read_cancel(self, status_code: int, payload: Any) -> LinkFailed | None:
        return None if 200 <= status_code < 300 else _failure(status_code, payload)

    # --- webhooks -----------------------------------------------------------------------------

    def signature_valid(self, body: bytes, signature: str | None) -> bool:
        if not signature or not self.webhook_secret:
            return False
        expected = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().encode())

    def parse_event(self, body: bytes, event_id: str | None) -> GatewayEvent:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadEvent("the body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            raise BadEvent("the body has no event name")
        name: str = data["event"]
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise BadEvent(f"{name}: no payload")
        eid = (event_id or "").strip()[:200] or "body:" + hashlib.sha256(body).hexdigest()
        if name in PAYMENT_EVENTS:
            payment = _payment(_entity(payload, "payment", required=True), payload)
            assert payment is not None
            if payment.currency != "INR":
                return OtherEvent(eid, name, f"currency {payment.currency} is not handled")
            if not payment.captured:
                return OtherEvent(eid, name, "not captured yet: recorded when captured")
            return PaymentEvent(eid, name, payment, link_paid=name == "payment_link.paid")
        if name in REFUND_EVENTS:
            return _refund(eid, name, payload)
        if name in LINK_CLOSED:
            link = _entity(payload, "payment_link", required=True)
            return LinkEvent(eid, name, _str(link, "id", required=True) or "", LINK_CLOSED[name])
        return OtherEvent(eid, name, "not an event the service acts on")


def _failure(status_code: int, payload: Any) -> LinkFailed:
    error = payload.get("error") if isinstance(payload, Mapping) else None
    code = f"HTTP_{status_code}"
    message = f"Razorpay answered HTTP {status_code}"
    if isinstance(error, Mapping):
        code = str(error.get("code") or code)
        message = str(error.get("description") or message)
    return LinkFailed(code, message, status_code == 429 or status_code >= 500)


def _paise(value: Any) -> TypeGuard[int]:
    # Bounded like every amount typed in (a BIGINT column would refuse 2**63 with a 500).
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _MAX_PAISE


def _time(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < _MAX_TIMESTAMP:
        return datetime.fromtimestamp(value, UTC)
    return None


def _entity(payload: Mapping[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
    wrapper = payload.get(key)
    entity = wrapper.get("entity") if isinstance(wrapper, Mapping) else None
    if isinstance(entity, dict):
        return entity
    if required:
        raise BadEvent(f"payload.{key}.entity is missing")
    return {}


def _str(entity: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = entity.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if required:
        raise BadEvent(f"{entity.get('entity') or 'entity'}.{key} is missing")
    return None


def _notes(entity: Mapping[str, Any]) -> Mapping[str, Any]:
    # Razorpay sends empty notes as [] and filled ones as an object.
    notes = entity.get("notes")
    return notes if isinstance(notes, Mapping) else {}


def _payment(entity: Mapping[str, Any], payload: Mapping[str, Any]) -> GatewayPayment | None:
    if not entity:
        return None
    amount = entity.get("amount")
    if not _paise(amount):
        raise BadEvent("payment.amount must be a positive whole number of paise")
    link = _entity(payload, "payment_link")
    order = _entity(payload, "order")
    link_id = _str(link, "id")
    if link_id is None:
        match = _LINK_DESCRIPTION.match(_str(entity, "description") or "")
        link_id = f"plink_{match.group(1)}" if match else None
    hint = next(
        (
            str(n["retailer_id"]).strip()
            for n in (_notes(entity), _notes(order), _notes(link))
            if n.get("retailer_id") not in (None, "")
        ),
        None,
    )
    acquirer = entity.get("acquirer_data")
    rrn = acquirer.get("rrn") if isinstance(acquirer, Mapping) else None
    return GatewayPayment(
        payment_id=_str(entity, "id", required=True) or "",
        amount=amount,
        currency=(_str(entity, "currency") or "INR").upper(),
        captured=entity.get("captured") is True or entity.get("status") == "captured",
        contact=_str(entity, "contact"),
        vpa=_str(entity, "vpa"),
        email=_str(entity, "email"),
        method=_str(entity, "method"),
        rrn=str(rrn).strip() if rrn else None,
        link_id=link_id,
        link_reference=_str(link, "reference_id") or _str(_notes(link), "reference"),
        retailer_hint=hint,
        created_at=_time(entity.get("created_at")),
    )


def _refund(eid: str, name: str, payload: Mapping[str, Any]) -> GatewayEvent:
    refund = _entity(payload, "refund", required=True)
    amount = refund.get("amount")
    if not _paise(amount):
        raise BadEvent("refund.amount must be a positive whole number of paise")
    currency = (_str(refund, "currency") or "INR").upper()
    if currency != "INR":
        return OtherEvent(eid, name, f"currency {currency} is not handled")
    payment = _payment(_entity(payload, "payment"), payload)
    processed = name == "refund.processed" or refund.get("status") == "processed"
    return RefundEvent(
        event_id=eid,
        name=name,
        refund_id=_str(refund, "id", required=True) or "",
        payment_id=_str(refund, "payment_id", required=True) or "",
        amount=amount,
        processed=processed,
        payment=payment if payment is not None and payment.currency == "INR" else None,
    )
