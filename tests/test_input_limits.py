"""Hostile input gets a clear 4xx on every route, found by introspecting the app's routes.

Three holes of issue 9 item 4: an amount of 29+ digits with 3 decimals (InvalidOperation, 500) on
every route that takes money, in admin `paid` and in the CSV importer; JSON nested 1,000 levels
(RecursionError, 500) on every JSON route; a chunked body over the limit on the status webhook
answered 400 (the form parser's blanket `except` turned the size refusal into "not a valid form").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from bot.cli.deps import Deps
from bot.cli.importer import parse_products, parse_retailers
from bot.settings import Settings
from handlers.errors import MAX_JSON_DEPTH
from tests.conftest import ADMIN_TOKEN
from tests.payments_support import app_client, payment_captured, sign, with_payments
from tests.test_admin_commands_chat import World, say, snapshot, world  # noqa: F401
from tests.test_fuzz import ROUTES

HUGE = "1" * 29 + ".123"
ADMIN = "/api/v1/admin"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def body_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route of the app that reads a request body."""
    out = [(m, p) for m, p in ROUTES if m in ("POST", "PUT", "PATCH")]
    assert out, "no routes found"
    return out


def json_routes() -> list[tuple[str, str]]:
    return [(m, p) for m, p in body_routes() if p.startswith(ADMIN)]


def fill(path: str, retailer: int) -> str:
    """A path with its parameters filled by values that exist."""
    return (
        path.replace("{retailer}", str(retailer))
        .replace("{order}", "1")
        .replace("{job}", "auto_pause")
        .replace("{id}", "1")
        .replace("{provider}", "razorpay")
    )


@pytest.fixture
async def rid(db: asyncpg.Pool) -> int:
    from tests.ledger_support import make_retailer

    async with db.acquire() as conn:
        return await make_retailer(conn, "+919812345678")


def test_the_routes_are_found() -> None:
    paths = {p for _, p in body_routes()}
    assert {"/webhooks/twilio/status", "/webhooks/twilio/whatsapp"} <= paths
    assert f"{ADMIN}/payment/record" in paths


@pytest.mark.parametrize("method, path", json_routes())
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 8_000])
async def test_deep_json_is_400_on_every_json_route(
    client: httpx.AsyncClient, rid: int, method: str, path: str, depth: int
) -> None:
    headers = {**AUTH, "content-type": "application/json"}
    # A route reads JSON when it calls a broken body "not valid JSON" (a bank statement route
    # reads CSV and says otherwise): told by its answer, so new routes sort themselves.
    probe = await client.request(method, fill(path, rid), content=b"{", headers=headers)
    reads_json = "not valid JSON" in probe.json()["error"]["message"]
    nested = "[" * depth + "]" * depth
    for raw in (
        nested,
        '{"reason": ' + nested + "}",
        '{"a": ' + '{"a": ' * depth + "1" + "}" * (depth + 1),
    ):
        r = await client.request(method, fill(path, rid), content=raw.encode(), headers=headers)
        assert 400 <= r.status_code < 500, (path, r.text)
        if reads_json:
            assert r.status_code == 400, (path, r.text)
            assert r.json()["error"]["code"] == "BAD_REQUEST"
            assert "deep" in r.json()["error"]["message"]


async def test_json_as_deep_as_allowed_is_read(client: httpx.AsyncClient, rid: int) -> None:
    inner: Any = "x"
    for _ in range(MAX_JSON_DEPTH - 1):
        inner = [inner]
    r = await client.post(f"{ADMIN}/credit/{rid}/pause", json={"reason": inner}, headers=AUTH)
    # Read and refused for its shape (reason must be a string), not for its depth.
    assert r.status_code == 422, r.text
    # Brackets inside strings are text, not nesting.
    r = await client.post(
        f"{ADMIN}/credit/{rid}/pause", json={"reason": "[" * 5_000 + "{" * 5_000}, headers=AUTH
    )
    assert r.status_code == 422 and "longer than" in r.json()["error"]["message"], r.text


@pytest.mark.parametrize(
    "raw, words",
    [
        ('{"reason": "a\\ud800b"}', "surrogate"),
        ('{"reason": "\\udfff"}', "surrogate"),
        ('{"reason": "a\\u0000"}', "NUL"),
        ('{"reason": NaN}', "not valid JSON"),
        ('{"reason": -Infinity}', "not valid JSON"),
        ('{"reason": ' + "1" * 5_000 + "}", "not valid JSON"),
    ],
)
async def test_text_postgres_cannot_store_is_400(
    client: httpx.AsyncClient, rid: int, raw: str, words: str
) -> None:
    r = await client.post(
        f"{ADMIN}/credit/{rid}/pause",
        content=raw.encode(),
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]


MONEY = [
    ("POST", "/payment/record", {"retailerId": "{rid}", "amountPaid": HUGE}),
    ("POST", "/credit/{rid}/adjustment", {"direction": "DEBIT", "amount": HUGE, "reason": "return"}),
    ("PUT", "/guardrails/{rid}", {"creditLimit": HUGE}),
    ("PUT", "/guardrails/{rid}", {"maxOrderValue": HUGE}),
    ("POST", "/guardrails/validate-order", {"retailerId": "{rid}", "orderAmount": HUGE, "paymentMode": "CREDIT"}),
    ("POST", "/retailers", {"phone": "+919800000077", "name": "N", "creditLimit": HUGE}),
    ("POST", "/retailers", {"phone": "+919800000077", "name": "N", "creditLimit": 1, "maxOrderValue": HUGE}),
    ("POST", "/products", {"sku": "S", "name": "N", "category": "C", "price": HUGE}),
]  # fmt: skip


@pytest.mark.parametrize("method, path, body", MONEY)
@pytest.mark.parametrize("as_number", [False, True])
async def test_huge_amount_is_422_on_every_money_route(
    client: httpx.AsyncClient,
    rid: int,
    method: str,
    path: str,
    body: dict[str, Any],
    as_number: bool,
) -> None:
    text = json.dumps(body).replace('"{rid}"', str(rid)).replace("{rid}", str(rid))
    if as_number:  # a bare JSON number, read as Decimal
        text = text.replace(f'"{HUGE}"', HUGE)
    r = await client.request(
        method,
        ADMIN + path.replace("{rid}", str(rid)),
        content=text.encode(),
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "INVALID_AMOUNT"
    assert "too large" in r.json()["error"]["message"]


async def test_huge_amount_in_admin_paid(deps: Deps, db: asyncpg.Pool, world: World) -> None:  # noqa: F811
    before = await snapshot(db)
    reply = await say(deps, f"paid {world.retailer_id} {HUGE}")
    assert reply.startswith("Usage: paid")
    assert await snapshot(db) == before


def test_huge_amount_in_the_csv_importer() -> None:
    retailers = parse_retailers(f'phone,name,credit_limit\n+919800000001,A,"{HUGE}"\n')
    assert [str(e) for e in retailers.errors] == ["line 2: credit_limit: amount is too large"]
    products = parse_products(f"sku,name,category,price\nS,N,C,{HUGE}\n")
    assert [str(e) for e in products.errors] == ["line 2: price: amount is too large"]


async def _chunks(total: int, size: int = 4096) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size


@pytest.fixture
async def every_feature(settings: Settings, deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the payment gateway configured, so its webhook reads its body too."""
    on = with_payments(settings)
    async with app_client(on, dataclasses.replace(deps, settings=on)) as client:
        yield client


@pytest.mark.parametrize("method, path", body_routes())
async def test_chunked_body_over_the_limit_is_413_on_every_route(
    every_feature: httpx.AsyncClient, settings: Settings, rid: int, method: str, path: str
) -> None:
    # Each route's own content type, so the body is read (a wrong type is refused unread).
    form = "application/x-www-form-urlencoded"
    content_type = form if path.startswith("/webhooks/twilio/") else "application/json"
    r = await every_feature.request(
        method,
        fill(path, rid),
        content=_chunks(settings.max_body_bytes + 10_000),
        headers={**AUTH, "content-type": content_type},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, (path, r.text)
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


# --- found by the fuzz test in the payment routes ----------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 2**63},  # BIGINT overflow in the insert: a 500
        {"amount": 10**40},
        {"created_at": 10**20},  # datetime.fromtimestamp overflow
    ],
)
async def test_gateway_event_with_absurd_numbers_is_400(
    every_feature: httpx.AsyncClient, db: asyncpg.Pool, change: dict[str, int]
) -> None:
    event = payment_captured("pay_Absurd0000001", 100_00)
    event["payload"]["payment"]["entity"].update(change)
    body = json.dumps(event).encode()
    r = await every_feature.post(
        "/webhooks/payments/razorpay",
        content=body,
        headers={"X-Razorpay-Signature": sign(body), "content-type": "application/json"},
    )
    if "created_at" in change:  # a time it cannot read is no time, not a refusal
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_EVENT", r.text
    assert await db.fetchval("SELECT count(*) FROM received_payments") == 0


async def test_deep_gateway_event_is_400(every_feature: httpx.AsyncClient) -> None:
    body = ('{"event": ' + "[" * 5_000 + "]" * 5_000 + "}").encode()
    r = await every_feature.post(
        "/webhooks/payments/razorpay",
        content=body,
        headers={"X-Razorpay-Signature": sign(body), "content-type": "application/json"},
    )
    assert r.status_code == 400 and "deep" in r.json()["error"]["message"], r.text


async def test_statement_csv_python_cannot_read_is_422(client: httpx.AsyncClient) -> None:
    # A carriage return alone inside an unquoted cell: csv.Error, which was a 500.
    r = await client.post(
        f"{ADMIN}/bank/import",
        content=b"date,amount,narration,reference\n2026-01-14,500,a\rb,x\n",
        headers={**AUTH, "content-type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_STATEMENT", r.text
