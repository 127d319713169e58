"""What a payment gateway is to the service: calls to make, answers to read, events to act on.

A gateway is a `PaymentProvider`. It builds the HTTP calls for its payment links API
(`HttpCall`, sent by `jobs.payment_links`), reads their answers (`LinkCreated`, `LinkFailed`),
checks a webhook's signature and parses the webhook body into one of the typed events below.
Amounts are integer paise throughout; the provider converts if its API uses other units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class BadEvent(ValueError):
    """A webhook body that is not an event of the shape the gateway documents."""


@dataclass(frozen=True)
class LinkOrder:
    """A payment link to ask the gateway for: `reference` is ours and unique per link."""

    reference: str
    retailer_id: int
    amount: int  # paise
    description: str
    customer_name: str
    contact: str  # E.164
    expire_by: datetime


@dataclass(frozen=True)
class HttpCall:
    """One request to the gateway's API: `path` is appended to the configured API URL."""

    method: str
    path: str
    json: Mapping[str, Any] | None
    auth: tuple[str, str]


@dataclass(frozen=True)
class LinkCreated:
    provider_link_id: str
    short_url: str
    amount: int
    expires_at: datetime | None = None


@dataclass(frozen=True)
class LinkFailed:
    """The gateway did not do it: `retryable` for its 429/5xx and network errors."""

    code: str
    message: str
    retryable: bool


@dataclass(frozen=True)
class GatewayPayment:
    """A payment as the gateway describes it, with every clue to whose it is."""

    payment_id: str
    amount: int  # paise
    currency: str
    captured: bool
    contact: str | None = None
    vpa: str | None = None
    email: str | None = None
    method: str | None = None
    rrn: str | None = None  # the bank's reference of a UPI or netbanking payment
    link_id: str | None = None  # the payment link it paid, when known
    link_reference: str | None = None  # that link's reference (ours)
    retailer_hint: str | None = None  # `retailer_id` from the notes of the payment, order or link
    created_at: datetime | None = None


@dataclass(frozen=True)
class PaymentEvent:
    """Money received: a captured payment, or a payment link paid."""

    event_id: str
    name: str
    payment: GatewayPayment
    link_paid: bool = False


@dataclass(frozen=True)
class RefundEvent:
    """Money given back on a payment. `payment` is the payment itself when the event carries
    it, so a refund delivered before its payment's event can still be placed."""

    event_id: str
    name: str
    refund_id: str
    payment_id: str
    amount: int  # paise
    processed: bool
    payment: GatewayPayment | None = None


@dataclass(frozen=True)
class LinkEvent:
    """A payment link that can no longer be paid (`CANCELLED` or `EXPIRED`)."""

    event_id: str
    name: str
    link_id: str
    status: str


@dataclass(frozen=True)
class OtherEvent:
    """An event the service does not act on; `why` says so in the log and the event row."""

    event_id: str
    name: str
    why: str


GatewayEvent = PaymentEvent | RefundEvent | LinkEvent | OtherEvent


@dataclass(frozen=True)
class WebhookHeaders:
    """The names of the gateway's webhook headers (lowercase, as Starlette gives them)."""

    signature: str
    event_id: str
    extra: tuple[str, ...] = field(default_factory=tuple)


class PaymentProvider(Protocol):
    """A payment gateway. `name` is stored with every row it touches (`razorpay`); an
    `HttpCall`'s path is relative to `api_url`."""

    @property
    def name(self) -> str: ...

    @property
    def api_url(self) -> str: ...

    @property
    def headers(self) -> WebhookHeaders: ...

    @property
    def performed_by(self) -> str:
        """Who the audit log names for what this gateway records (`gateway:razorpay`)."""
        ...

    def create_link_call(self, order: LinkOrder) -> HttpCall:
        """The request that creates a payment link for `order`."""
        ...

    def cancel_link_call(self, provider_link_id: str) -> HttpCall:
        """The request that cancels an unpaid link."""
        ...

    def read_link(self, status_code: int, payload: Any) -> LinkCreated | LinkFailed:
        """The answer to `create_link_call`."""
        ...

    def read_cancel(self, status_code: int, payload: Any) -> LinkFailed | None:
        """The answer to `cancel_link_call`: None when the link is cancelled."""
        ...

    def signature_valid(self, body: bytes, signature: str | None) -> bool:
        """Whether `signature` signs the raw `body` (constant time)."""
        ...

    def parse_event(self, body: bytes, event_id: str | None) -> GatewayEvent:
        """The typed event of a webhook body whose signature was checked; BadEvent otherwise."""
        ...
