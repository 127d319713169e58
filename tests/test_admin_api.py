"""The admin HTTP API end to end: auth, shapes, errors and every route."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.insights import compute_insights
from bot.settings import Settings
from tests.conftest import ADMIN_TOKEN, PUBLIC_BASE_URL, make_app
from tests.ledger_support import NOW, credit_order, days, make_product, make_retailer

A = "/api/v1/admin"
PHONE = "+919812345678"

ROUTES = [
    ("GET", f"{A}/credit/risk-dashboard"),
    ("GET", f"{A}/credit/at-risk"),
    ("GET", f"{A}/credit/1"),
    ("POST", f"{A}/credit/1/pause"),
    ("POST", f"{A}/credit/1/unpause"),
    ("POST", f"{A}/credit/1/block"),
    ("POST", f"{A}/credit/1/unblock"),
    ("POST", f"{A}/credit/1/adjustment"),
    ("POST", f"{A}/payment/record"),
    ("PUT", f"{A}/guardrails/1"),
    ("POST", f"{A}/guardrails/validate-order"),
    ("POST", f"{A}/guardrails/evaluate"),
    ("GET", f"{A}/orders/failed/1"),
    ("POST", f"{A}/orders/1/fail"),
    ("GET", f"{A}/insights/1"),
    ("GET", f"{A}/insights/1/message"),
    ("POST", f"{A}/retailers"),
    ("POST", f"{A}/products"),
    ("GET", f"{A}/audit"),
    ("POST", f"{A}/jobs/auto_pause/run"),
    ("POST", f"{A}/whatsapp/send"),
]


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


@pytest.fixture
async def retailer(db: asyncpg.Pool) -> int:
    async with db.acquire() as conn:
        return await make_retailer(conn, PHONE, limit=10_000_00)


async def _debits(db: asyncpg.Pool, rid: int, *amounts_days: tuple[int, float]) -> list[int]:
    async with db.acquire() as conn:
        pid = await conn.fetchval(
            "SELECT id FROM products WHERE sku = 'UNIT'"
        ) or await make_product(conn)
        # newest first, so an older debit never stands in the way of placing a newer one
        out: dict[int, int] = {}
        for i, (amount, ago) in sorted(enumerate(amounts_days), key=lambda x: x[1][1]):
            order = await credit_order(conn, rid, pid, amount, now=NOW - days(ago))
            out[i] = order.transaction_id or 0
        return [out[i] for i in range(len(amounts_days))]


def _error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert err["message"]
    if code:
        assert err["code"] == code, err
    return err


# --- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", ROUTES)
async def test_every_route_needs_the_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    r = await client.request(method, path, json={})
    _error(r, 401, "UNAUTHORIZED")
    assert r.headers["www-authenticate"] == "Bearer"
    r = await client.request(method, path, json={}, headers={"Authorization": "Bearer nope"})
    _error(r, 401)
    r = await client.request(method, path, json={}, headers={"Authorization": ADMIN_TOKEN})
    _error(r, 401)


async def test_no_token_configured_closes_every_route(settings: Settings, deps: Deps) -> None:
    closed = settings.model_copy(update={"admin_api_token": None})
    app = make_app(closed, dataclasses.replace(deps, settings=closed))
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
        ) as c,
    ):
        for method, path in ROUTES:
            r = await c.request(method, path, headers={"Authorization": "Bearer "}, json={})
            assert "ADMIN_API_TOKEN" in _error(r, 503, "ADMIN_API_DISABLED")["message"]


# --- bad input ------------------------------------------------------------------------------


async def test_malformed_json_is_400(api: httpx.AsyncClient, retailer: int) -> None:
    for path in (f"{A}/payment/record", f"{A}/credit/{retailer}/adjustment", f"{A}/retailers"):
        for body in (b"{not json", b"[1, 2]", b"", b'"x"'):
            r = await api.post(path, content=body, headers={"content-type": "application/json"})
            _error(r, 400, "BAD_REQUEST")


async def test_oversized_body_is_413(api: httpx.AsyncClient, settings: Settings) -> None:
    big = json.dumps({"reason": "x" * (settings.max_body_bytes + 10)})
    r = await api.post(f"{A}/credit/1/pause", content=big)
    _error(r, 413, "PAYLOAD_TOO_LARGE")


async def test_unknown_retailer_is_404(api: httpx.AsyncClient, retailer: int) -> None:
    for ref in ("999", "+919800000099", "not-a-phone"):
        _error(await api.get(f"{A}/credit/{ref}"), 404, "RETAILER_NOT_FOUND")
        _error(await api.post(f"{A}/credit/{ref}/pause", json={"reason": "x"}), 404)
        _error(await api.put(f"{A}/guardrails/{ref}", json={"creditLimit": 5}), 404)
        _error(
            await api.post(
                f"{A}/credit/{ref}/adjustment",
                json={"direction": "DEBIT", "amount": 5, "reason": "return"},
            ),
            404,
        )
        _error(
            await api.post(f"{A}/payment/record", json={"retailerId": ref, "amountPaid": 1}), 404
        )
        _error(
            await api.post(
                f"{A}/guardrails/validate-order",
                json={"retailerId": ref, "orderAmount": 1, "paymentMode": "COD"},
            ),
            404,
        )
        _error(await api.get(f"{A}/orders/failed/{ref}"), 404)
        _error(await api.get(f"{A}/audit", params={"retailer": ref}), 404)
    _error(await api.post(f"{A}/payment/record", json={"transactionId": 77, "amountPaid": 1}), 404)
    _error(await api.post(f"{A}/orders/77/fail", json={"reason": "x"}), 404, "ORDER_NOT_FOUND")
    _error(await api.post(f"{A}/orders/abc/fail", json={"reason": "x"}), 404)


BAD_AMOUNTS = [-5, 0, "0.00", "12.345", 12.345, "abc", "", None, True, [], {"x": 1}, "1e400", "NaN"]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
async def test_bad_amounts_are_422(api: httpx.AsyncClient, retailer: int, amount: Any) -> None:
    requests = [
        (f"{A}/payment/record", {"retailerId": retailer, "amountPaid": amount}),
        (f"{A}/credit/{retailer}/adjustment", {"direction": "CREDIT", "amount": amount, "reason": "return"}),
        (f"{A}/guardrails/validate-order", {"retailerId": retailer, "orderAmount": amount, "paymentMode": "CREDIT"}),
        (f"{A}/products", {"sku": "S", "name": "n", "category": "c", "price": amount}),
    ]  # fmt: skip
    for path, body in requests:
        _error(await api.post(path, json=body), 422, "INVALID_AMOUNT")
    _error(await api.put(f"{A}/guardrails/{retailer}", json={"maxOrderValue": amount}), 422)


async def test_three_decimals_sent_as_a_raw_json_number_is_422(
    api: httpx.AsyncClient, retailer: int
) -> None:
    body = b'{"retailerId": %d, "amountPaid": 10.005}' % retailer
    r = await api.post(f"{A}/payment/record", content=body)
    _error(r, 422, "INVALID_AMOUNT")


@pytest.mark.parametrize("mode", ["UPI", "credit", "", None, 1])
async def test_unknown_payment_mode_is_422(
    api: httpx.AsyncClient, retailer: int, mode: Any
) -> None:
    r = await api.post(
        f"{A}/guardrails/validate-order",
        json={"retailerId": retailer, "orderAmount": 100, "paymentMode": mode},
    )
    _error(r, 422, "INVALID_PAYMENT_MODE")


async def test_bad_fields_are_422(api: httpx.AsyncClient, retailer: int) -> None:
    _error(await api.post(f"{A}/credit/{retailer}/pause", json={}), 422)
    _error(await api.post(f"{A}/credit/{retailer}/pause", json={"reason": 5}), 422)
    adj = {"direction": "SIDEWAYS", "amount": 5, "reason": "return"}
    _error(await api.post(f"{A}/credit/{retailer}/adjustment", json=adj), 422)
    adj = {"direction": "DEBIT", "amount": 5, "reason": "gift"}
    _error(await api.post(f"{A}/credit/{retailer}/adjustment", json=adj), 422, "INVALID_REASON")
    _error(await api.put(f"{A}/guardrails/{retailer}", json={}), 422, "NOTHING_TO_CHANGE")
    _error(await api.put(f"{A}/guardrails/{retailer}", json={"paymentTermsDays": 1.5}), 422)
    _error(await api.put(f"{A}/guardrails/{retailer}", json={"maxOutstandingDays": 0}), 422)
    _error(await api.put(f"{A}/guardrails/{retailer}", json={"creditLimit": -1}), 422)
    _error(await api.post(f"{A}/payment/record", json={"amountPaid": 5}), 422)
    _error(
        await api.post(f"{A}/payment/record", json={"transactionId": 10**30, "amountPaid": 5}), 422
    )
    _error(await api.post(f"{A}/payment/record", json={"transactionId": -1, "amountPaid": 5}), 422)
    _error(await api.put(f"{A}/guardrails/{retailer}", json={"maxOutstandingDays": 10**30}), 422)
    _error(await api.get(f"{A}/credit/{'9' * 30}"), 404)
    _error(await api.get(f"{A}/credit/at-risk", params={"limit": "0"}), 422)
    _error(await api.post(f"{A}/guardrails/evaluate", json={"asOf": "yesterday"}), 422)


# --- credit views ---------------------------------------------------------------------------


async def test_dashboard_at_risk_and_profile_shapes(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    await _debits(db, retailer, (2_000_00, 40), (6_500_50, 1))
    r = await api.get(f"{A}/credit/risk-dashboard")
    assert r.status_code == 200
    d = r.json()
    assert d["buckets"]["current"] == {"amount": "6500.50", "retailers": 1}
    assert d["buckets"]["1_30"] == {"amount": "2000.00", "retailers": 1}
    assert d["totalOutstanding"] == "8500.50" and d["totalLimit"] == "10000.00"
    assert d["available"] == "1499.50" and d["utilisation"] == 85.0
    assert d["statusCounts"] == {"ACTIVE": 1, "PAUSED": 0, "BLOCKED": 0}

    r = await api.get(f"{A}/credit/at-risk")
    assert r.status_code == 200
    (item,) = r.json()["retailers"]
    assert item["retailerId"] == retailer
    assert item["reasons"] == ["OVERDUE_BEYOND_LIMIT", "HIGH_UTILISATION"]

    for ref in (str(retailer), PHONE, "98123%2045678"):
        r = await api.get(f"{A}/credit/{ref}")
        assert r.status_code == 200, ref
    p = r.json()
    assert p["retailerId"] == retailer and p["phone"] == PHONE and p["creditStatus"] == "ACTIVE"
    assert (p["creditLimit"], p["outstanding"], p["available"]) == (
        "10000.00",
        "8500.50",
        "1499.50",
    )
    assert [(x["amount"], x["daysOverdue"]) for x in p["openDebits"]] == [
        ("2000.00", 25),
        ("6500.50", 0),
    ]
    assert set(p["openDebits"][0]) >= {
        "transactionId",
        "orderId",
        "amount",
        "outstanding",
        "dueDate",
        "daysOverdue",
    }
    assert set(p["recentOrders"][0]) >= {"id", "total", "paymentMode", "status", "createdAt"}
    assert p["recentAudit"] and p["reminders"]["sentOnOpenDebits"] == 0


# --- credit operations ----------------------------------------------------------------------


async def test_pause_unpause_with_conflicts(api: httpx.AsyncClient, retailer: int) -> None:
    r = await api.post(f"{A}/credit/{PHONE}/pause", json={"reason": "cheque bounced"})
    assert r.status_code == 200 and r.json()["creditStatus"] == "PAUSED"
    assert r.json()["performedBy"] == "api"
    _error(
        await api.post(f"{A}/credit/{retailer}/pause", json={"reason": "x"}), 409, "ALREADY_PAUSED"
    )
    r = await api.post(f"{A}/credit/{retailer}/unpause")
    assert r.status_code == 200 and r.json()["creditStatus"] == "ACTIVE"
    _error(await api.post(f"{A}/credit/{retailer}/unpause", json={}), 409, "NOT_PAUSED")
    r = await api.get(f"{A}/audit", params={"retailer": retailer})
    actions = [e["action"] for e in r.json()["entries"]]
    assert actions[:2] == ["UNPAUSE", "PAUSE"]


async def test_record_payment_fifo_named_and_refusals(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    old, new = await _debits(db, retailer, (1_000_00, 10), (500_00, 2))
    r = await api.post(
        f"{A}/payment/record",
        json={"retailerId": PHONE, "amountPaid": "1,200.50", "reference": "UPI-77"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["amountPaid"] == "1200.50" and body["outstanding"] == "299.50"
    assert body["allocations"] == [
        {"transactionId": old, "amount": "1000.00"},
        {"transactionId": new, "amount": "200.50"},
    ]
    err = _error(
        await api.post(f"{A}/payment/record", json={"transactionId": new, "amountPaid": 300}),
        422,
        "AMOUNT_ABOVE_OWED",
    )
    assert err["amountOwed"] == "299.50"
    err = _error(
        await api.post(f"{A}/payment/record", json={"retailerId": retailer, "amountPaid": 1000}),
        422,
    )
    assert err["amountOwed"] == "299.50"
    r = await api.post(f"{A}/payment/record", json={"transactionId": new, "amountPaid": 99.5})
    assert r.status_code == 201 and r.json()["outstanding"] == "200.00"
    _error(
        await api.post(
            f"{A}/payment/record",
            json={"retailerId": retailer, "amountPaid": 1, "reference": "UPI-77"},
        ),
        409,
        "DUPLICATE_REFERENCE",
    )


async def test_idempotency_key_replays_the_first_answer(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    await _debits(db, retailer, (1_000_00, 3))
    body = {"retailerId": retailer, "amountPaid": 100, "reference": "NEFT-1"}
    headers = {"Idempotency-Key": "pay-1"}
    first = await api.post(f"{A}/payment/record", json=body, headers=headers)
    assert first.status_code == 201
    # the same request again: keys in another order, the amount and the retailer spelled
    # differently (a string, a JSON number with an exponent; the phone in two spellings)
    for amount, ref in (('"100.00"', f'"{PHONE}"'), ("1E+2", '"98123 45678"'), ("100.0", retailer)):
        raw = f'{{"reference": "NEFT-1", "amountPaid": {amount}, "retailerId": {ref}}}'
        again = await api.post(
            f"{A}/payment/record",
            content=raw,
            headers={**headers, "content-type": "application/json"},
        )
        assert again.status_code == 201 and again.json() == first.json(), raw
        assert again.headers["idempotent-replayed"] == "true"
    async with db.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM credit_transactions WHERE type='PAYMENT'")
            == 1
        )
        assert await conn.fetchval("SELECT outstanding FROM credit_accounts") == 900_00
    other = {**body, "amountPaid": 200}
    _error(
        await api.post(f"{A}/payment/record", json=other, headers=headers),
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    # without the key the reused reference is a conflict
    _error(await api.post(f"{A}/payment/record", json=body), 409, "DUPLICATE_REFERENCE")


async def test_concurrent_requests_with_one_key_pay_once(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    import asyncio

    await _debits(db, retailer, (1_000_00, 3))
    body = {"retailerId": retailer, "amountPaid": 100}
    answers = await asyncio.gather(
        *(
            api.post(f"{A}/payment/record", json=body, headers={"Idempotency-Key": "k"})
            for _ in range(5)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["paymentId"] for a in answers}) == 1
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT outstanding FROM credit_accounts") == 900_00


async def test_adjustments(api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int) -> None:
    await _debits(db, retailer, (1_000_00, 3))
    r = await api.post(
        f"{A}/credit/{retailer}/adjustment",
        json={"direction": "DEBIT", "amount": "25.25", "reason": "correction", "notes": "freight"},
    )
    assert r.status_code == 201 and r.json()["outstanding"] == "1025.25"
    r = await api.post(
        f"{A}/credit/{retailer}/adjustment",
        json={"direction": "CREDIT", "amount": 1025.25, "reason": "return"},
    )
    assert r.status_code == 201 and r.json()["outstanding"] == "0.00"
    # With nothing owed, a credit becomes the retailer's advance (issue 12).
    r = await api.post(
        f"{A}/credit/{retailer}/adjustment",
        json={"direction": "CREDIT", "amount": 1, "reason": "discount"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["outstanding"], r.json()["toAdvance"], r.json()["advance"]) == (
        "0.00",
        "1.00",
        "1.00",
    )


async def test_guardrails_and_validate_order(api: httpx.AsyncClient, retailer: int) -> None:
    r = await api.put(
        f"{A}/guardrails/{retailer}",
        json={
            "creditLimit": "2000",
            "maxOrderValue": 1500,
            "maxOutstandingDays": 45,
            "paymentTermsDays": "7",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "retailerId": retailer, "creditLimit": "2000.00", "maxOrderValue": "1500.00",
        "maxOutstandingDays": 45, "paymentTermsDays": 7,
    }  # fmt: skip

    async def verdict(amount: Any, mode: str) -> dict[str, Any]:
        r = await api.post(
            f"{A}/guardrails/validate-order",
            json={"retailerId": PHONE, "orderAmount": amount, "paymentMode": mode},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert await verdict(1500, "CREDIT") == {
        "allowed": True, "code": None, "message": "Credit is available: ₹2,000.",
        "availableCredit": "2000.00",
    }  # fmt: skip
    assert (await verdict("1500.01", "CREDIT"))["code"] == "ORDER_VALUE_EXCEEDED"
    assert (await verdict(100000, "COD"))["allowed"] is True
    r = await api.put(f"{A}/guardrails/{retailer}", json={"creditLimit": 0})
    v = await verdict(1, "CREDIT")
    assert v["code"] == "CREDIT_LIMIT_EXCEEDED" and v["availableCredit"] == "0.00"


async def test_evaluate_guardrails_route(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    await _debits(db, retailer, (500_00, 31))
    r = await api.post(f"{A}/guardrails/evaluate")
    assert r.status_code == 200
    assert [p["retailerId"] for p in r.json()["paused"]] == [retailer]
    r = await api.post(f"{A}/guardrails/evaluate", json={})
    assert r.json()["paused"] == [] and r.json()["resumed"] == []


# --- orders, insights, onboarding, audit, jobs, test message --------------------------------


async def test_fail_order_and_failed_list(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    await _debits(db, retailer, (700_00, 1))
    async with db.acquire() as conn:
        order_id = await conn.fetchval("SELECT id FROM orders")
    r = await api.post(f"{A}/orders/{order_id}/fail", json={"reason": "out of stock"})
    assert r.status_code == 200, r.text
    assert r.json()["reversedAmount"] == "700.00" and r.json()["status"] == "FAILED"
    _error(await api.post(f"{A}/orders/{order_id}/fail", json={"reason": "again"}), 409)
    _error(await api.post(f"{A}/orders/{order_id}/fail", json={}), 422)
    r = await api.get(f"{A}/orders/failed/{PHONE}")
    assert [o["id"] for o in r.json()["orders"]] == [order_id]
    assert r.json()["orders"][0]["failureReason"] == "out of stock"
    profile = (await api.get(f"{A}/credit/{retailer}")).json()
    assert profile["outstanding"] == "0.00"


async def test_insights_routes(api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int) -> None:
    _error(await api.get(f"{A}/insights/{retailer}"), 404, "NO_INSIGHTS")
    _error(await api.get(f"{A}/insights/{retailer}/message"), 404, "NO_INSIGHTS")
    _error(await api.get(f"{A}/insights/404"), 404, "RETAILER_NOT_FOUND")
    async with db.acquire() as conn:
        await conn.execute(
            """INSERT INTO retailer_insights (retailer_id, as_of, data) VALUES ($1, $2, $3)""",
            retailer,
            NOW.date(),
            compute_insights([], NOW.date()),
        )
    r = await api.get(f"{A}/insights/{PHONE}")
    assert r.status_code == 200 and r.json()["insights"]["windowDays"] == 90
    r = await api.get(f"{A}/insights/{retailer}/message", params={"lang": "hi"})
    assert r.status_code == 200, r.text
    assert r.json()["language"] == "hi" and "Ramesh" in r.json()["message"]
    for lang in ("xx", "../../etc/passwd"):
        _error(await api.get(f"{A}/insights/{retailer}/message", params={"lang": lang}), 422)


async def test_onboarding(api: httpx.AsyncClient) -> None:
    body = {
        "phone": "98123 45678", "name": "Ramesh Kumar", "shopName": "Ramesh Stores",
        "language": "hi", "creditLimit": "50000", "paymentTermsDays": 10,
    }  # fmt: skip
    r = await api.post(f"{A}/retailers", json=body)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    p = (await api.get(f"{A}/credit/{PHONE}")).json()
    assert (p["retailerId"], p["creditLimit"], p["paymentTermsDays"], p["maxOrderValue"]) == (
        rid, "50000.00", 10, "50000.00",
    )  # fmt: skip
    _error(await api.post(f"{A}/retailers", json=body), 409, "PHONE_REGISTERED")
    for bad in (
        {"phone": "12"},
        {"language": "fr"},
        {"name": ""},
        {"creditLimit": "-1"},
        {"maxOutstandingDays": -3},
    ):
        _error(
            await api.post(f"{A}/retailers", json={**body, "phone": "+919800000123", **bad}), 422
        )
    product = {
        "sku": "ATTA-10",
        "name": "Atta 10kg",
        "category": "Staples",
        "price": "450.00",
        "unit": "bag",
    }
    r = await api.post(f"{A}/products", json=product)
    assert r.status_code == 201 and isinstance(r.json()["id"], int)
    _error(await api.post(f"{A}/products", json=product), 409, "SKU_EXISTS")
    _error(await api.post(f"{A}/products", json={**product, "sku": ""}), 422)


async def test_jobs_route(api: httpx.AsyncClient) -> None:
    _error(await api.post(f"{A}/jobs/make_tea/run"), 404, "UNKNOWN_JOB")
    r = await api.post(f"{A}/jobs/expire_pending_orders/run", json={"asOf": "2026-01-10"})
    assert r.status_code == 200, r.text
    assert r.json()["job"] == "expire_pending_orders" and r.json()["asOf"] == "2026-01-10"
    _error(await api.post(f"{A}/jobs/expire_pending_orders/run", json={"asOf": "10/01/2026"}), 422)


async def test_job_amounts_are_rupee_strings_like_every_other_amount(
    api: httpx.AsyncClient, retailer: int
) -> None:
    r = await api.post(f"{A}/jobs/evaluate_guardrails/run")
    assert r.status_code == 200, r.text
    counts = r.json()["counts"]
    assert not any(k.endswith("_paise") for k in counts), counts
    assert isinstance(counts["outstanding"], str) and isinstance(counts["at_risk"], int)


async def test_whatsapp_send_queues_a_test_message(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, clock: FixedClock
) -> None:
    r = await api.post(f"{A}/whatsapp/send", json={"to": "98123 45678", "message": "Hello there"})
    assert r.status_code == 202, r.text
    async with db.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT * FROM outbox_messages WHERE id = $1", r.json()["outboxId"]
        )
    assert (row["kind"], row["to_phone"], row["retailer_id"]) == ("test_message", PHONE, retailer)
    assert "Hello there" in row["body"]
    _error(await api.post(f"{A}/whatsapp/send", json={"to": "nope", "message": "x"}), 422)
    _error(await api.post(f"{A}/whatsapp/send", json={"to": PHONE}), 422)


# --- hostile input (found by trying to break the running service) -----------------------------


async def test_digits_int_refuses_are_clear_errors_not_500(
    api: httpx.AsyncClient, retailer: int
) -> None:
    # "²" passes str.isdigit() but int() refuses it.
    _error(await api.get(f"{A}/credit/²"), 404)
    _error(await api.get(f"{A}/audit", params={"retailer": "²"}), 404)
    for path in (f"{A}/audit", f"{A}/credit/at-risk", f"{A}/orders/failed/{retailer}"):
        _error(await api.get(path, params={"limit": "²"}), 422)
        _error(await api.get(path, params={"limit": "9" * 5000}), 422)
    _error(await api.post(f"{A}/orders/²/fail", json={"reason": "x"}), 404)
    _error(await api.put(f"{A}/guardrails/{retailer}", json={"paymentTermsDays": "²"}), 422)
    paid = {"amountPaid": "10", "transactionId": "²"}
    _error(await api.post(f"{A}/payment/record", json=paid), 422)


async def test_huge_exponent_is_refused_at_once(api: httpx.AsyncClient, retailer: int) -> None:
    started = time.monotonic()
    for body in (b'{"maxOutstandingDays": 1e500000}', b'{"paymentTermsDays": 1E+999999}'):
        r = await api.put(
            f"{A}/guardrails/{retailer}", content=body, headers={"content-type": "application/json"}
        )
        _error(r, 422, "INVALID_FIELD")
    assert time.monotonic() - started < 2  # int(Decimal("1E+500000")) alone takes seconds


async def test_nul_characters_are_400_and_change_nothing(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    before = await db.fetchval("SELECT count(*) FROM audit_log")
    _error(await api.post(f"{A}/credit/{retailer}/pause", json={"reason": "a\x00b"}), 400)
    paid = {"retailerId": retailer, "amountPaid": "10", "reference": "UTR\x00"}
    _error(await api.post(f"{A}/payment/record", json=paid), 400, "BAD_REQUEST")
    assert await db.fetchval("SELECT count(*) FROM audit_log") == before


@pytest.mark.parametrize("as_of", ["9999-12-31", "2026-01-16", "0001-01-01", "2025-12-01"])
async def test_as_of_outside_the_window_is_422_and_changes_nothing(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, as_of: str
) -> None:
    # The test clock's business day is 2026-01-15.
    for path in (f"{A}/guardrails/evaluate", f"{A}/jobs/payment_reminders/run"):
        assert "asOf" in _error(await api.post(path, json={"asOf": as_of}), 422)["message"]
    assert await db.fetchval("SELECT count(*) FROM job_runs") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action <> 'RETAILER_CREATED'") == 0
    )


async def test_past_as_of_only_for_jobs_that_change_nothing_now(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    # A past day would lift pauses for debts overdue today, or remind twice in one day.
    for path in (
        f"{A}/guardrails/evaluate",
        f"{A}/jobs/auto_pause/run",
        f"{A}/jobs/payment_reminders/run",
        f"{A}/jobs/pending_order_follow_up/run",
    ):
        err = _error(await api.post(path, json={"asOf": "2026-01-10"}), 422, "INVALID_FIELD")
        assert "as of today" in err["message"]
        assert (await api.post(path, json={"asOf": "2026-01-15"})).status_code == 200
    for job in ("evaluate_guardrails", "expire_pending_orders", "regenerate_insights"):
        r = await api.post(f"{A}/jobs/{job}/run", json={"asOf": "2026-01-10"})
        assert r.status_code == 200, r.text


async def test_audit_lists_entries_in_the_order_they_were_written(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, clock: FixedClock
) -> None:
    """An entry's time is when its request began; one that waited for the retailer's lock is
    written after a request that began later. The list follows the writes, so its newest entry
    is the last change made and matches the account."""
    clock.advance(seconds=10)
    await api.post(f"{A}/credit/{retailer}/pause", json={"reason": "cheque bounced"})
    clock.advance(seconds=-5)  # began earlier, got the lock later
    await api.post(f"{A}/credit/{retailer}/unpause", json={"reason": "cleared"})
    entries = (await api.get(f"{A}/audit", params={"retailer": retailer})).json()["entries"]
    assert [e["action"] for e in entries[:2]] == ["UNPAUSE", "PAUSE"]
    status = await db.fetchval("SELECT credit_status FROM retailers WHERE id = $1", retailer)
    assert entries[0]["newValue"]["status"] == status == "ACTIVE"

    # And under real concurrency each change starts from the state the one before it left.
    calls = []
    for i in range(10):
        calls.append(api.post(f"{A}/credit/{retailer}/pause", json={"reason": f"check {i}"}))
        calls.append(api.post(f"{A}/credit/{retailer}/unpause", json={"reason": f"ok {i}"}))
    await asyncio.gather(*calls)
    entries = (await api.get(f"{A}/audit", params={"retailer": retailer})).json()["entries"]
    status = await db.fetchval("SELECT credit_status FROM retailers WHERE id = $1", retailer)
    changes = [e for e in entries if e["action"] in ("PAUSE", "UNPAUSE")]
    assert changes[0]["newValue"]["status"] == status
    for later, earlier in itertools.pairwise(changes):
        assert later["oldValue"]["status"] == earlier["newValue"]["status"]


async def test_payment_terms_longer_than_the_allowed_days_are_422(
    api: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    before = await db.fetchrow("SELECT * FROM credit_accounts WHERE retailer_id = $1", retailer)
    for body in (
        {"paymentTermsDays": 100, "maxOutstandingDays": 10},
        {"paymentTermsDays": before["max_outstanding_days"] + 1},
        {"maxOutstandingDays": before["payment_terms_days"] - 1},
    ):
        err = _error(await api.put(f"{A}/guardrails/{retailer}", json=body), 422, "INVALID_FIELD")
        assert "credit would stop before debits are due" in err["message"]
    after = await db.fetchrow("SELECT * FROM credit_accounts WHERE retailer_id = $1", retailer)
    assert after == before
    ok = await api.put(f"{A}/guardrails/{retailer}", json={"paymentTermsDays": 30})
    assert ok.status_code == 200  # equal to the allowed days is fine
    new = {"phone": "+919811122233", "name": "N", "creditLimit": 10, "paymentTermsDays": 40}
    _error(await api.post(f"{A}/retailers", json=new), 422, "INVALID_FIELD")
