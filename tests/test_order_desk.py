"""The business day through the admin API: the order lifecycle, returns, the desk's lists,
catalogue and retailer upkeep, checkouts, statements."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from bot.clock import FixedClock
from bot.credit import PaymentMode
from db import ledger
from tests.conftest import ADMIN_PHONE
from tests.ledger_support import (
    NOW,
    TZ,
    check_invariants,
    credit_order,
    days,
    make_product,
    make_retailer,
)

A = "/api/v1/admin"
PHONE = "+919812345678"


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


@pytest.fixture
async def shop(db: asyncpg.Pool) -> tuple[int, int, int]:
    """A retailer (limit ₹1,00,000, Hindi) and two products: ATTA-5 ₹250, OIL-1 ₹150."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, limit=100_000_00, language="hi")
        atta = await make_product(conn, "ATTA-5", 250_00)
        oil = await make_product(conn, "OIL-1", 150_00)
    return rid, atta, oil


def _error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    if code:
        assert err["code"] == code, err
    return err


async def _order(db: asyncpg.Pool, rid: int, pid: int, qty: int, **kw: Any) -> tuple[int, int]:
    async with db.acquire() as conn:
        placed = await credit_order(conn, rid, pid, qty, **kw)
    return placed.order_id, placed.transaction_id or 0


async def _outbox(db: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM outbox_messages ORDER BY id"))


# --- the lifecycle --------------------------------------------------------------------------


async def test_dispatch_deliver_and_the_order_in_full(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, _ = shop
    oid, debit = await _order(db, rid, atta, 4)
    r = await api.post(f"{A}/orders/{oid}/deliver")
    err = _error(r, 409, "ORDER_NOT_DISPATCHED")
    assert "PLACED" in err["message"] and err["orderStatus"] == "PLACED"
    r = await api.post(f"{A}/orders/{oid}/dispatch")
    assert r.status_code == 200, r.text
    assert (r.json()["previousStatus"], r.json()["status"]) == ("PLACED", "DISPATCHED")
    _error(await api.post(f"{A}/orders/{oid}/dispatch"), 409, "ORDER_ALREADY_DISPATCHED")
    _error(
        await api.post(f"{A}/orders/{oid}/cancel", json={"reason": "x"}), 409, "ORDER_DISPATCHED"
    )
    r = await api.post(f"{A}/orders/{oid}/deliver", json={})
    assert r.json()["status"] == "DELIVERED"

    detail = (await api.get(f"{A}/orders/{oid}")).json()
    assert detail["status"] == "DELIVERED" and detail["total"] == "1000.00"
    assert [(i["sku"], i["quantity"], i["unitPrice"]) for i in detail["items"]] == [
        ("ATTA-5", 4, "250.00")
    ]
    assert detail["debit"]["transactionId"] == debit and detail["debit"]["unpaid"] == "1000.00"
    assert detail["payment"]["mode"] == "CREDIT" and detail["dispatchedBy"] == "api"
    assert [(h["action"], h["toStatus"]) for h in detail["history"]] == [
        ("place", "PLACED"), ("dispatch", "DISPATCHED"), ("deliver", "DELIVERED"),
    ]  # fmt: skip
    # One message, on dispatch, in the retailer's language.
    out = await _outbox(db)
    assert [(m["kind"], m["dedupe_key"], m["language"]) for m in out] == [
        ("order_dispatched", f"order_dispatched:{oid}", "hi")
    ]
    assert "रवाना" in out[0]["body"]
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["ORDER_DISPATCHED", "ORDER_DELIVERED"]
    _error(await api.get(f"{A}/orders/999"), 404, "ORDER_NOT_FOUND")
    _error(await api.post(f"{A}/orders/999/dispatch"), 404, "ORDER_NOT_FOUND")


async def test_a_delivered_order_is_refused_for_fail_and_cancel(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, _ = shop
    oid, _ = await _order(db, rid, atta, 4)
    await api.post(f"{A}/orders/{oid}/dispatch")
    await api.post(f"{A}/orders/{oid}/deliver")
    for action in ("fail", "cancel"):
        r = await api.post(f"{A}/orders/{oid}/{action}", json={"reason": "truck accident"})
        err = _error(r, 409, "ORDER_DELIVERED")
        assert "DELIVERED" in err["message"] and "return" in err["message"]
    profile = (await api.get(f"{A}/credit/{rid}")).json()
    assert profile["outstanding"] == "1000.00"  # the debt did not vanish


async def test_cancel_reverses_credit_credits_the_paid_part_and_notifies_once(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, oil = shop
    older, older_debit = await _order(db, rid, oil, 2, now=NOW - days(3))  # ₹300
    oid, debit = await _order(db, rid, atta, 4)  # ₹1,000
    async with db.acquire() as conn:
        await ledger.record_payment(
            conn, transaction_id=debit, amount=400_00, performed_by="api", now=NOW, tz=TZ
        )
    _error(await api.post(f"{A}/orders/{oid}/cancel", json={}), 422)
    r = await api.post(f"{A}/orders/{oid}/cancel", json={"reason": "out of stock"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["reversedAmount"], body["credited"]) == (
        "CANCELLED", "600.00", "400.00",
    )  # fmt: skip
    # The paid ₹400 clears the other open order (₹300); ₹100 is left over.
    assert body["allocations"] == [{"transactionId": older_debit, "amount": "300.00"}]
    rev = await db.fetchrow("SELECT * FROM credit_transactions WHERE type = 'REVERSAL'")
    assert (rev["amount"], rev["reason"], rev["related_transaction_id"]) == (
        1_000_00, "order_cancelled", debit,
    )  # fmt: skip
    assert await db.fetchval("SELECT outstanding FROM credit_accounts") == 0
    row = await db.fetchrow(
        "SELECT status, cancelled_by, cancel_reason FROM orders WHERE id=$1", oid
    )
    assert tuple(row) == ("CANCELLED", "api", "out of stock")
    _error(await api.post(f"{A}/orders/{oid}/cancel", json={"reason": "again"}), 409,
           "ORDER_ALREADY_CLOSED")  # fmt: skip
    _error(await api.post(f"{A}/orders/{oid}/fail", json={"reason": "x"}), 409)
    out = [m for m in await _outbox(db) if m["kind"] == "order_cancelled"]
    assert [m["dedupe_key"] for m in out] == [f"order_cancelled:{oid}"]
    assert "रद्द" in out[0]["body"] and "₹400" in out[0]["body"]
    audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'ORDER_CANCELLED'")
    assert audit["reference"] == f"txn:{rev['id']}" and audit["new_value"]["credited"] == 400_00
    assert older  # the other order stays as it was
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_fail_of_a_dispatched_order_and_the_old_route_shape(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, _ = shop
    oid, _ = await _order(db, rid, atta, 2)
    await api.post(f"{A}/orders/{oid}/dispatch")
    r = await api.post(f"{A}/orders/{oid}/fail", json={"reason": "shop closed"})
    body = r.json()
    assert (body["status"], body["previousStatus"], body["reversedAmount"]) == (
        "FAILED", "DISPATCHED", "500.00",
    )  # fmt: skip
    assert body["failedAt"] and body["reversalTransactionId"]
    row = await db.fetchrow("SELECT failed_by, failure_reason FROM orders WHERE id = $1", oid)
    assert tuple(row) == ("api", "shop closed")


async def test_cod_order_cancel_moves_no_credit(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, _ = shop
    oid, _ = await _order(db, rid, atta, 2, mode=PaymentMode.COD)
    r = await api.post(f"{A}/orders/{oid}/cancel", json={"reason": "asked to"})
    assert r.json()["reversalTransactionId"] is None and r.json()["reversedAmount"] == "0.00"
    assert await db.fetchval("SELECT count(*) FROM credit_transactions") == 0


# --- returns ----------------------------------------------------------------------------------


async def test_returns_are_limited_to_what_was_delivered(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, oil = shop
    async with db.acquire() as conn:
        placed = await ledger.place_order(
            conn, retailer_id=rid, lines=[ledger_line(atta, 4), ledger_line(oil, 2)],
            mode=PaymentMode.CREDIT, now=NOW, tz=TZ, tolerance=100_00, performed_by="t",
        )  # fmt: skip
    assert placed.order is not None
    oid = placed.order.order_id  # ₹1,000 + ₹300
    r = await api.post(f"{A}/orders/{oid}/return", json={"amount": 100, "reason": "torn"})
    _error(r, 409, "ORDER_NOT_DELIVERED")
    await api.post(f"{A}/orders/{oid}/dispatch")
    await api.post(f"{A}/orders/{oid}/deliver")
    r = await api.post(
        f"{A}/orders/{oid}/return",
        json={"items": [{"sku": "atta-5", "quantity": 3}], "reason": "3 bags torn"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["amount"], r.json()["returnable"]) == ("750.00", "550.00")
    # More atta than is left to come back; more money than the order is worth.
    r = await api.post(
        f"{A}/orders/{oid}/return",
        json={"items": [{"productId": atta, "quantity": 2}], "reason": "again"},
    )
    _error(r, 422, "RETURN_ABOVE_DELIVERED")
    err = _error(
        await api.post(f"{A}/orders/{oid}/return", json={"amount": "550.01", "reason": "x"}),
        422,
        "RETURN_ABOVE_ORDER",
    )
    assert err["amountReturnable"] == "550.00"
    _error(await api.post(f"{A}/orders/{oid}/return", json={"reason": "x"}), 422)
    _error(await api.post(f"{A}/orders/{oid}/return", json={"amount": 10}), 422)
    bad_items = [[], [{"quantity": 1}], [{"sku": "ATTA-5", "quantity": 0}], "x", [1]]
    for items in bad_items:
        r = await api.post(f"{A}/orders/{oid}/return", json={"items": items, "reason": "x"})
        _error(r, 422)
    r = await api.post(f"{A}/orders/{oid}/return", json={"amount": 550, "reason": "the rest"})
    assert r.json()["returnable"] == "0.00"
    # ₹1,300 owed, ₹1,300 returned: nothing owed, nothing left over.
    assert await db.fetchval("SELECT outstanding FROM credit_accounts") == 0
    rows = await db.fetch(
        """SELECT amount, reason, order_id FROM credit_transactions
           WHERE type = 'ADJUSTMENT' ORDER BY id"""
    )
    assert [(r["amount"], r["reason"], r["order_id"]) for r in rows] == [
        (750_00, "return", oid), (550_00, "return", oid),
    ]  # fmt: skip
    detail = (await api.get(f"{A}/orders/{oid}")).json()
    assert detail["returned"] == "1300.00" and detail["returnable"] == "0.00"
    assert [(i["sku"], i["quantity"]) for i in detail["returnedItems"]] == [("ATTA-5", 3)]
    assert [h["action"] for h in detail["history"]][-2:] == ["return", "return"]
    async with db.acquire() as conn:
        await check_invariants(conn)


def ledger_line(pid: int, qty: int) -> Any:
    from bot.orders import OrderLine

    return OrderLine(pid, qty)


# --- the desk's lists -------------------------------------------------------------------------


async def test_orders_list_filters_and_keyset_pages(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, _ = shop
    async with db.acquire() as conn:
        other = await make_retailer(conn, "+919800000077", name="Sunita")
    ids = [(await _order(db, rid, atta, 1, now=NOW - days(n)))[0] for n in (5, 4, 3, 2, 1)]
    mine = (await _order(db, other, atta, 1))[0]
    await api.post(f"{A}/orders/{ids[0]}/dispatch")
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"{A}/orders", params=params)).json()
        seen += [o["id"] for o in page["orders"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [mine, *reversed(ids)]  # newest first, every order once
    r = await api.get(f"{A}/orders", params={"status": "dispatched"})
    assert [o["id"] for o in r.json()["orders"]] == [ids[0]]
    r = await api.get(f"{A}/orders", params={"retailer": "+919800000077"})
    assert [o["id"] for o in r.json()["orders"]] == [mine]
    day = (NOW - days(3)).astimezone(TZ).date().isoformat()
    r = await api.get(f"{A}/orders", params={"from": day, "to": day})
    assert [o["id"] for o in r.json()["orders"]] == [ids[2]]
    assert r.json()["orders"][0]["retailerName"] == "Ramesh"
    _error(await api.get(f"{A}/orders", params={"status": "LOST"}), 422)
    _error(await api.get(f"{A}/orders", params={"cursor": "nope"}), 422, "INVALID_CURSOR")
    _error(await api.get(f"{A}/orders", params={"from": "2026-13-01"}), 422)
    _error(await api.get(f"{A}/orders", params={"limit": "0"}), 422)
    _error(await api.get(f"{A}/orders", params={"retailer": "999"}), 404)


async def test_pending_orders_with_cart_age_and_follow_ups(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int], clock: FixedClock
) -> None:
    rid, _, _ = shop
    cart = [{"product_id": 1, "sku": "ATTA-5", "name": "Atta", "unit_price": 250_00,
             "quantity": 2, "line_total": 500_00}]  # fmt: skip
    for status, hours in (("PENDING", 3), ("EXPIRED", 30), ("PENDING", 1)):
        created = clock.now() - timedelta(hours=hours)
        await db.execute(
            """INSERT INTO pending_orders (retailer_id, cart, total, status, expires_at,
                   follow_up_count, created_at, updated_at)
               VALUES ($1, $2, 50000, $3, $4, 1, $5, $5)""",
            rid, cart, status, created + timedelta(hours=24), created,
        )  # fmt: skip
    r = (await api.get(f"{A}/pending-orders")).json()["pendingOrders"]
    assert [(p["status"], p["ageMinutes"]) for p in r] == [("PENDING", 60), ("PENDING", 180)]
    assert r[0]["cart"][0]["sku"] == "ATTA-5" and r[0]["total"] == "500.00"
    assert r[0]["followUps"] == 1
    expired = (await api.get(f"{A}/pending-orders", params={"status": "expired"})).json()
    assert [p["status"] for p in expired["pendingOrders"]] == ["EXPIRED"]
    every = (await api.get(f"{A}/pending-orders", params={"status": "all"})).json()
    assert len(every["pendingOrders"]) == 3
    _error(await api.get(f"{A}/pending-orders", params={"status": "lost"}), 422)


# --- catalogue and retailers ----------------------------------------------------------------


async def test_products_list_and_patch_audited(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    _, atta, oil = shop
    r = await api.get(f"{A}/products", params={"q": "oil"})
    assert [p["sku"] for p in r.json()["products"]] == ["OIL-1"]
    r = await api.patch(f"{A}/products/{atta}", json={"price": "270", "name": "Atta 5 kg"})
    assert r.status_code == 200, r.text
    assert r.json()["price"] == "270.00"
    assert r.json()["changed"]["price"] == {"from": "250.00", "to": "270.00"}
    r = await api.patch(f"{A}/products/{oil}", json={"active": False})
    assert r.json()["active"] is False
    inactive = (await api.get(f"{A}/products", params={"active": "false"})).json()["products"]
    assert [p["id"] for p in inactive] == [oil]
    audit = await db.fetch("SELECT * FROM audit_log WHERE action = 'PRODUCT_UPDATED' ORDER BY id")
    assert [(a["retailer_id"], a["reference"]) for a in audit] == [
        (None, f"product:{atta}"), (None, f"product:{oil}"),
    ]  # fmt: skip
    assert audit[0]["new_value"] == {"sku": "ATTA-5", "price": 270_00, "name": "Atta 5 kg"}
    # The same values again change nothing and write no audit entry.
    r = await api.patch(f"{A}/products/{oil}", json={"active": False})
    assert r.json()["changed"] == {}
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action='PRODUCT_UPDATED'") == 2
    for bad in ({}, {"price": 0}, {"price": -5}, {"name": " "}, {"active": "no"}, {"colour": 1}):
        _error(await api.patch(f"{A}/products/{atta}", json=bad), 422)
    _error(await api.patch(f"{A}/products/999", json={"price": 1}), 404, "PRODUCT_NOT_FOUND")
    page1 = (await api.get(f"{A}/products", params={"limit": "1"})).json()
    page2 = await api.get(f"{A}/products", params={"limit": "1", "cursor": page1["nextCursor"]})
    assert page1["products"][0]["id"] != page2.json()["products"][0]["id"]


async def test_retailers_search_and_patch(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, _, _ = shop
    async with db.acquire() as conn:
        await make_retailer(conn, "+919800000077", name="Sunita Devi")
        await conn.execute("UPDATE retailers SET shop_name = 'Devi Kirana' WHERE id <> $1", rid)
    for q, names in (("sunita", ["Sunita Devi"]), ("kirana", ["Sunita Devi"]),
                     ("98123", ["Ramesh"]), ("+91 98123 45678", ["Ramesh"]), ("", None)):  # fmt: skip
        r = await api.get(f"{A}/retailers", params={"q": q})
        got = [x["name"] for x in r.json()["retailers"]]
        assert got == (names or ["Ramesh", "Sunita Devi"]), (q, got)
    r = await api.patch(
        f"{A}/retailers/{PHONE}",
        json={"name": "Ramesh Kumar", "language": "en", "phone": "9812300000"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["phone"], r.json()["language"]) == (
        "Ramesh Kumar", "+919812300000", "en",
    )  # fmt: skip
    _error(await api.patch(f"{A}/retailers/{rid}", json={"phone": "+919800000077"}), 409,
           "PHONE_REGISTERED")  # fmt: skip
    _error(
        await api.patch(f"{A}/retailers/{rid}", json={"phone": ADMIN_PHONE}), 409, "ADMIN_NUMBER"
    )
    for bad in ({}, {"language": "fr"}, {"phone": "12"}, {"name": ""}, {"shop": "x"}):
        _error(await api.patch(f"{A}/retailers/{rid}", json=bad), 422)
    audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'RETAILER_UPDATED'")
    assert audit["retailer_id"] == rid
    assert audit["old_value"]["phone"] == PHONE and audit["new_value"]["phone"] == "+919812300000"
    r = await api.get(f"{A}/retailers", params={"status": "PAUSED"})
    assert r.json()["retailers"] == []


# --- statements -------------------------------------------------------------------------------


async def test_statement_json_and_csv(
    api: httpx.AsyncClient, db: asyncpg.Pool, shop: tuple[int, int, int]
) -> None:
    rid, atta, oil = shop
    first, _ = await _order(db, rid, atta, 4, now=NOW - days(10))  # ₹1,000
    second, _ = await _order(db, rid, oil, 2, now=NOW - days(2))  # ₹300
    async with db.acquire() as conn:
        await ledger.record_payment(
            conn, retailer_id=rid, amount=400_00, performed_by="+919900000000",
            reference="UTR-1", now=NOW - days(1), tz=TZ,
        )  # fmt: skip
    await api.post(f"{A}/orders/{second}/cancel", json={"reason": "duplicate"})
    s = (await api.get(f"{A}/credit/{rid}/statement")).json()
    assert [(e["entry"], e["debit"], e["credit"], e["balance"]) for e in s["entries"]] == [
        ("order", "1000.00", "0.00", "1000.00"),
        ("order", "300.00", "0.00", "1300.00"),
        ("payment", "0.00", "400.00", "900.00"),
        ("reversal", "0.00", "300.00", "600.00"),
    ]
    assert s["entries"][2]["performedBy"] == "+919900000000"
    assert s["entries"][2]["source"] == "operator" and s["entries"][0]["source"] is None
    assert (s["openingBalance"], s["closingBalance"], s["outstanding"]) == (
        "0.00", "600.00", "600.00",
    )  # fmt: skip
    since = (NOW - days(2)).astimezone(TZ).date().isoformat()
    part = (await api.get(f"{A}/credit/{PHONE}/statement", params={"from": since})).json()
    assert part["openingBalance"] == "1000.00" and len(part["entries"]) == 3
    r = await api.get(f"{A}/credit/{rid}/statement", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["date", "entry", "transaction_id"]
    assert rows[1][1] == "opening balance" and rows[-1][1:2] == ["closing balance"]
    assert rows[-1][8] == "600.00" and rows[3][6] == "300.00"
    assert first
    _error(await api.get(f"{A}/credit/{rid}/statement", params={"format": "pdf"}), 422)
    _error(await api.get(f"{A}/credit/999/statement"), 404)
    _error(
        await api.get(
            f"{A}/credit/{rid}/statement", params={"from": "2026-02-01", "to": "2026-01-01"}
        ),
        422,
    )
