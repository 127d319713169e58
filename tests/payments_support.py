"""Razorpay webhook payloads shaped as Razorpay documents them, and their signatures.

The shapes follow Razorpay's sample payloads (docs/webhooks/payloads/payment-links and
payments; refund.processed as in its refunds payloads): an event envelope with `entity`,
`account_id`, `event`, `contains`, `payload` and `created_at`; entities wrapped in
`{"entity": {...}}`; empty notes sent as `[]`; a payment made through a link with the
description `#<link id without plink_>` and its link's notes only on the link and the order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

WEBHOOK_SECRET = "whsec-test-0123456789"
KEY_ID = "rzp_test_KEY123"
KEY_SECRET = "rzp-secret-abc"
API_URL = "https://razorpay.test"
CREATED_AT = 1768458600  # 2026-01-15 06:30 UTC


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """`X-Razorpay-Signature`: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payment_entity(
    payment_id: str,
    amount: int,
    *,
    link_id: str | None = None,
    contact: str = "+919812345678",
    vpa: str | None = "ramesh.kirana@okhdfcbank",
    notes: Any = None,
    status: str = "captured",
    refunded: int = 0,
) -> dict[str, Any]:
    return {
        "id": payment_id,
        "entity": "payment",
        "amount": amount,
        "currency": "INR",
        "status": status,
        "order_id": "order_" + payment_id.removeprefix("pay_"),
        "invoice_id": None,
        "international": False,
        "method": "upi",
        "amount_refunded": refunded,
        "refund_status": None if not refunded else "partial",
        "captured": status in ("captured", "refunded"),
        "description": f"#{link_id.removeprefix('plink_')}" if link_id else "Payment",
        "card_id": None,
        "bank": None,
        "wallet": None,
        "vpa": vpa,
        "email": "void@razorpay.com",
        "contact": contact,
        "notes": notes if notes is not None else [],
        "fee": 236,
        "tax": 36,
        "error_code": None,
        "error_description": None,
        "error_source": None,
        "error_step": None,
        "error_reason": None,
        "acquirer_data": {"rrn": "601512345678"},
        "created_at": CREATED_AT,
    }


def link_entity(
    link_id: str, amount: int, *, reference_id: str, retailer_id: int, paid: int | None = None
) -> dict[str, Any]:
    return {
        "accept_partial": False,
        "amount": amount,
        "amount_paid": amount if paid is None else paid,
        "callback_method": "",
        "callback_url": "",
        "cancelled_at": 0,
        "created_at": CREATED_AT - 3600,
        "currency": "INR",
        "customer": {"contact": "+919812345678", "name": "Ramesh Kirana"},
        "description": "Dues of Ramesh Kirana",
        "expire_by": CREATED_AT + 7 * 86400,
        "expired_at": 0,
        "first_min_partial_amount": 0,
        "id": link_id,
        "notes": {"retailer_id": str(retailer_id), "reference": reference_id},
        "notify": {"email": False, "sms": False},
        "payments": None,
        "reference_id": reference_id,
        "reminder_enable": False,
        "reminders": [],
        "short_url": "https://rzp.io/i/" + link_id.removeprefix("plink_")[:7],
        "status": "paid",
        "updated_at": CREATED_AT,
        "user_id": "",
    }


def envelope(event: str, contains: list[str], payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": "event",
        "account_id": "acc_BFQ7uQEaa7j2z7",
        "event": event,
        "contains": contains,
        "payload": payload,
        "created_at": CREATED_AT,
    }


def payment_captured(payment_id: str, amount: int, **kw: Any) -> dict[str, Any]:
    return envelope(
        "payment.captured",
        ["payment"],
        {"payment": {"entity": payment_entity(payment_id, amount, **kw)}},
    )


def payment_link_paid(
    payment_id: str, link_id: str, amount: int, *, reference_id: str, retailer_id: int, **kw: Any
) -> dict[str, Any]:
    link = link_entity(link_id, amount, reference_id=reference_id, retailer_id=retailer_id)
    return envelope(
        "payment_link.paid",
        ["payment_link", "order", "payment"],
        {
            "payment_link": {"entity": link},
            "order": {
                "entity": {
                    "amount": amount,
                    "amount_due": 0,
                    "amount_paid": amount,
                    "attempts": 1,
                    "created_at": CREATED_AT,
                    "currency": "INR",
                    "entity": "order",
                    "id": "order_" + payment_id.removeprefix("pay_"),
                    "notes": link["notes"],
                    "offer_id": None,
                    "receipt": reference_id,
                    "status": "paid",
                }
            },
            "payment": {"entity": payment_entity(payment_id, amount, link_id=link_id, **kw)},
        },
    )


def refund_processed(
    refund_id: str, payment_id: str, amount: int, *, payment_amount: int, **kw: Any
) -> dict[str, Any]:
    return envelope(
        "refund.processed",
        ["refund", "payment"],
        {
            "refund": {
                "entity": {
                    "id": refund_id,
                    "entity": "refund",
                    "amount": amount,
                    "currency": "INR",
                    "payment_id": payment_id,
                    "notes": [],
                    "receipt": None,
                    "acquirer_data": {"arn": None},
                    "created_at": CREATED_AT + 60,
                    "batch_id": None,
                    "status": "processed",
                    "speed_processed": "normal",
                    "speed_requested": "normal",
                }
            },
            "payment": {
                "entity": payment_entity(
                    payment_id, payment_amount, status="refunded", refunded=amount, **kw
                )
            },
        },
    )


def body_of(event: dict[str, Any]) -> bytes:
    """The raw body as Razorpay would send it (compact JSON)."""
    return json.dumps(event, separators=(",", ":")).encode()


# --- the service configured for payments ------------------------------------------------------


def with_payments(settings: Any, *, gateway: bool = True, upi: bool = True) -> Any:
    """`settings` with Razorpay (pointed at the fake API) and/or a UPI ID."""
    from bot.settings import Settings

    extra: dict[str, Any] = {}
    if gateway:
        extra |= {
            "payment_provider": "razorpay",
            "razorpay_key_id": KEY_ID,
            "razorpay_key_secret": KEY_SECRET,
            "razorpay_webhook_secret": WEBHOOK_SECRET,
            "razorpay_api_url": API_URL,
        }
    if upi:
        extra |= {"upi_id": "sharma.traders@okhdfcbank", "upi_payee_name": "Sharma Traders"}
    return Settings(**(settings.model_dump() | extra))


@asynccontextmanager
async def app_client(settings: Any, deps: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of an app built with these settings and deps."""
    from asgi_lifespan import LifespanManager

    from tests.conftest import PUBLIC_BASE_URL, make_app

    app = make_app(settings, deps)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
        ) as http,
    ):
        yield http


def link_json(link_id: str, amount: int, *, reference_id: str, expire_by: int) -> dict[str, Any]:
    """Razorpay's answer to creating a payment link (the link entity, status created)."""
    return {
        "accept_partial": False,
        "amount": amount,
        "amount_paid": 0,
        "cancelled_at": 0,
        "created_at": CREATED_AT,
        "currency": "INR",
        "customer": {"contact": "+919812345678", "name": "Ramesh Kirana"},
        "description": "Dues of Ramesh Kirana",
        "expire_by": expire_by,
        "expired_at": 0,
        "first_min_partial_amount": 0,
        "id": link_id,
        "notes": {},
        "notify": {"email": False, "sms": False},
        "payments": None,
        "reference_id": reference_id,
        "reminder_enable": False,
        "reminders": [],
        "short_url": f"https://rzp.io/i/{link_id.removeprefix('plink_')}",
        "status": "created",
        "updated_at": CREATED_AT,
        "upi_link": False,
        "user_id": "",
    }
