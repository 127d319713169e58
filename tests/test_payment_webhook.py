"""POST /webhooks/payments/razorpay through the app, with payloads shaped as Razorpay documents
them: signature first, exactly once however events arrive, an overpayment kept as advance,
refunds (from the advance first), and a SYSTEM pause lifted by the payment (with the configured
tolerance) in its transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from bot.cli.deps import Deps
from bot.content import content_variables
from bot.settings import Settings
from db import ledger
from db.payments.refunds import refund_detail
from jobs.runner import run_job_now
from tests.ledger_support import (
    NOW,
    TZ,
    check_invariants,
    credit_order,
    days,
    make_product,
    make_retailer,
)
from tests.payments_support import (
    app_client,
    body_of,
    payment_captured,
    payment_link_paid,
    refund_processed,
    sign,
    with_payments,
)

PATH = "/webhooks/payments/razorpay"
PHONE = "+919812345678"
LINK = "plink_FOGqq3O6E5bkml"


@pytest.fixture
def gw_settings(settings: Settings) -> Settings:
    return with_payments(settings, upi=False)


@pytest.fixture
def gw_deps(deps: Deps, gw_settings: Settings) -> Deps:
    return dataclasses.replace(deps, settings=gw_settings)


@pytest.fixture
async def gw(gw_settings: Settings, gw_deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(gw_settings, gw_deps) as client:
        yield client


@pytest.fixture
async def retailer(db: asyncpg.Pool) -> int:
    """Ramesh owes ₹12,500 on two debits, with a live ₹12,500 link (link-1, plink_FOG...)."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, name="Ramesh")
        pid = await make_product(conn)
        await credit_order(conn, rid, pid, 1_000_000, now=NOW - days(20))
        await credit_order(conn, rid, pid, 250_000, now=NOW - days(5))
        await conn.execute(
            """INSERT INTO payment_links (id, retailer_id, provider, amount, business_day, status,
                   provider_link_id, short_url, expires_at, created_at, updated_at)
               VALUES (1, $1, 'razorpay', 1250000, '2026-01-15', 'ACTIVE', $2,
                   'https://rzp.io/i/FOGqq3O', $3, $4, $4)""",
            rid,
            LINK,
            NOW + days(7),
            NOW,
        )
    return rid


async def _post(
    client: httpx.AsyncClient, event: dict[str, Any], event_id: str, *, signature: str | None = None
) -> httpx.Response:
    body = body_of(event)
    headers = {
        "Content-Type": "application/json",
        "X-Razorpay-Event-Id": event_id,
        "X-Razorpay-Signature": sign(body) if signature is None else signature,
    }
    return await client.post(PATH, content=body, headers=headers)


async def _payments(db: asyncpg.Pool) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        """SELECT amount, reference, performed_by, payment_source(id) AS source
           FROM credit_transactions WHERE type = 'PAYMENT' ORDER BY id"""
    )
    return [tuple(r) for r in rows]


async def _outstanding(db: asyncpg.Pool, rid: int) -> int:
    value: int = await db.fetchval(
        "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", rid
    )
    return value


async def _balance(db: asyncpg.Pool, rid: int) -> tuple[int, int]:
    """The account's (outstanding, advance)."""
    row = await db.fetchrow(
        "SELECT outstanding, advance FROM credit_accounts WHERE retailer_id = $1", rid
    )
    return row["outstanding"], row["advance"]


def _link_paid(payment_id: str, amount: int, rid: int) -> dict[str, Any]:
    return payment_link_paid(payment_id, LINK, amount, reference_id="link-1", retailer_id=rid)


async def test_a_paid_link_records_the_payment_once_with_its_audit_and_receipt(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    r = await _post(gw, _link_paid("pay_FOGsH8uHkF2FbR", 1_250_000, retailer), "evt_1")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "recorded" and r.json()["retailerId"] == retailer
    assert await _payments(db) == [(1_250_000, "pay_FOGsH8uHkF2FbR", "gateway:razorpay", "gateway")]
    assert await _outstanding(db, retailer) == 0
    audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'PAYMENT'")
    assert audit["performed_by"] == "gateway:razorpay"
    assert audit["new_value"]["paymentReference"] == "pay_FOGsH8uHkF2FbR"
    receipt = await db.fetchrow("SELECT * FROM outbox_messages WHERE kind = 'payment_received'")
    assert receipt["to_phone"] == PHONE
    assert "we received your payment of *₹12,500*" in receipt["body"]
    assert "You owe nothing now." in receipt["body"]
    assert await db.fetchval("SELECT status FROM payment_links WHERE id = 1") == "PAID"
    row = await db.fetchrow("SELECT status, matched_by FROM received_payments")
    assert tuple(row) == ("RECORDED", "link")
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_a_bad_signature_is_401_and_stores_nothing(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    event = _link_paid("pay_A", 1_250_000, retailer)
    for signature in ("", "0" * 64, sign(body_of(event), "not-the-secret")):
        r = await _post(gw, event, "evt_1", signature=signature)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "BAD_SIGNATURE"
    r = await gw.post(PATH, content=body_of(event))  # no signature header at all
    assert r.status_code == 401
    for table in ("gateway_events", "received_payments", "outbox_messages"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await _payments(db) == []


async def test_the_same_event_ten_times_at_once_records_one_payment(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    event = _link_paid("pay_A", 500_000, retailer)
    answers = await asyncio.gather(*(_post(gw, event, "evt_same") for _ in range(10)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["duplicate"] * 9 + ["recorded"]
    assert await _payments(db) == [(500_000, "pay_A", "gateway:razorpay", "gateway")]
    assert await db.fetchval("SELECT count(*) FROM outbox_messages") == 1


async def test_ten_different_events_of_one_payment_at_once_record_it_once(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    events = [(_link_paid("pay_A", 500_000, retailer), f"evt_paid_{i}") for i in range(5)] + [
        (payment_captured("pay_A", 500_000, link_id=LINK), f"evt_cap_{i}") for i in range(5)
    ]
    answers = await asyncio.gather(*(_post(gw, e, eid) for e, eid in events))
    assert sorted(a.json()["status"] for a in answers) == ["duplicate"] * 9 + ["recorded"]
    assert await _payments(db) == [(500_000, "pay_A", "gateway:razorpay", "gateway")]


@pytest.mark.parametrize("order", ["captured first", "link paid first"])
async def test_events_in_either_order_record_one_payment(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, order: str
) -> None:
    captured = (payment_captured("pay_A", 500_000, link_id=LINK, contact="+15550001111"), "e1")
    paid = (_link_paid("pay_A", 500_000, retailer), "e2")
    first, second = (captured, paid) if order == "captured first" else (paid, captured)
    r1 = await _post(gw, *first)
    r2 = await _post(gw, *second)
    assert (r1.json()["status"], r2.json()["status"]) == ("recorded", "duplicate")
    assert await _payments(db) == [(500_000, "pay_A", "gateway:razorpay", "gateway")]
    # The payment alone (notes empty) was traced to the link by its description.
    assert await db.fetchval("SELECT matched_by FROM received_payments") == "link"
    assert await db.fetchval("SELECT status FROM payment_links WHERE id = 1") == "PAID"


async def test_a_payment_without_a_link_is_found_by_the_payers_number(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    r = await _post(gw, payment_captured("pay_B", 300_000, contact="9812345678"), "e1")
    assert r.json()["status"] == "recorded"
    assert await db.fetchval("SELECT matched_by FROM received_payments") == "contact"
    assert await _outstanding(db, retailer) == 950_000


async def test_an_overpayment_is_recorded_whole_and_the_rest_becomes_advance(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    r = await _post(gw, _link_paid("pay_A", 1_500_000, retailer), "e1")
    assert r.json()["status"] == "recorded"
    assert "₹2,500 of it became advance" in r.json()["detail"]
    assert await _payments(db) == [(1_500_000, "pay_A", "gateway:razorpay", "gateway")]
    row = await db.fetchrow("SELECT status, recorded_amount, excess FROM received_payments")
    assert tuple(row) == ("RECORDED", 1_500_000, 0)
    assert await _balance(db, retailer) == (0, 250_000)
    body = await db.fetchval("SELECT body FROM outbox_messages WHERE kind = 'payment_received'")
    assert "*₹15,000*" in body
    assert "₹12,500 of it cleared what you owed; ₹2,500 kept as advance for your next orders." in (
        body
    )
    assert "You owe nothing now." in body and "active again" not in body
    # A second payment when nothing is owed becomes advance whole.
    r = await _post(gw, payment_captured("pay_C", 100_000), "e2")
    assert r.json()["status"] == "recorded"
    assert len(await _payments(db)) == 2
    assert await _balance(db, retailer) == (0, 350_000)
    body = await db.fetchval(
        """SELECT body FROM outbox_messages WHERE kind = 'payment_received'
           ORDER BY id DESC LIMIT 1"""
    )
    assert "₹1,000 kept as advance for your next orders (your advance is now ₹3,500)." in body
    assert "cleared" not in body
    # Import and webhook never write EXCESS now.
    assert await db.fetchval("SELECT count(*) FROM received_payments WHERE status = 'EXCESS'") == 0
    async with db.acquire() as conn:
        await check_invariants(conn)


async def _paused_retailer(db: asyncpg.Pool, deps: Deps) -> int:
    """Ramesh owes ₹5,000 for 40 days and ₹2,000 for 5, so the 11:00 run paused his credit."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, name="Ramesh", now=NOW - days(90))
        pid = await make_product(conn)
        # The newer first: placed after it, the older would be refused as overdue already.
        await credit_order(conn, rid, pid, 200_000, now=NOW - days(5))
        await credit_order(conn, rid, pid, 500_000, now=NOW - days(40))
    assert (await run_job_now(deps, "auto_pause")).counts["paused"] == 1
    return rid


async def _status(db: asyncpg.Pool, rid: int) -> tuple[str, str | None]:
    row = await db.fetchrow("SELECT credit_status, paused_by FROM retailers WHERE id = $1", rid)
    return row["credit_status"], row["paused_by"]


async def test_an_overpayment_on_a_system_paused_account_resumes_credit_and_the_receipt_says_so(
    gw: httpx.AsyncClient, db: asyncpg.Pool, gw_deps: Deps
) -> None:
    rid = await _paused_retailer(db, gw_deps)
    assert await _status(db, rid) == ("PAUSED", "SYSTEM")
    # Queuing the receipt fails: the webhook's one transaction takes the payment and the resume
    # back with it (the gateway delivers the event again).
    await db.execute(
        """CREATE FUNCTION refuse_receipt() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'receipt refused'; END $$;
           CREATE TRIGGER refuse_receipt BEFORE INSERT ON outbox_messages FOR EACH ROW
           WHEN (NEW.kind = 'payment_received') EXECUTE FUNCTION refuse_receipt();"""
    )
    with pytest.raises(asyncpg.RaiseError, match="receipt refused"):
        await _post(gw, payment_captured("pay_A", 900_000), "e1")
    assert await _status(db, rid) == ("PAUSED", "SYSTEM")
    assert await _payments(db) == [] and await _balance(db, rid) == (700_000, 0)
    assert await db.fetchval("SELECT count(*) FROM outbox_messages") == 1  # credit_paused
    await db.execute("DROP TRIGGER refuse_receipt ON outbox_messages")
    r = await _post(gw, payment_captured("pay_A", 900_000), "e1")
    assert r.json()["status"] == "recorded", r.text
    assert r.json()["detail"] == "matched by contact; ₹2,000 of it became advance; credit resumed"
    assert await _status(db, rid) == ("ACTIVE", None)
    assert await _balance(db, rid) == (0, 200_000)
    receipt = await db.fetchrow(
        "SELECT body, variables FROM outbox_messages WHERE kind = 'payment_received'"
    )
    assert receipt["body"] == (
        "✅ Namaste Ramesh, we received your payment of *₹9,000* (ref pay_A). Thank you!\n"
        "₹7,000 of it cleared what you owed; ₹2,000 kept as advance for your next orders.\n"
        "Credit on your account is active again.\n"
        "You owe nothing now."
    )
    assert content_variables("payment_received", receipt["variables"], "en") == {
        "1": "Ramesh", "2": "₹9,000", "3": "₹0", "4": "₹2,000",
    }  # fmt: skip
    # The resume was written with the payment (one savepoint of the webhook's transaction).
    xids = await db.fetch(
        """SELECT xmin::text AS x FROM credit_transactions WHERE type = 'PAYMENT'
           UNION ALL SELECT xmin::text FROM audit_log WHERE action IN ('PAYMENT', 'UNPAUSE')
           UNION ALL SELECT xmin::text FROM retailers WHERE id = $1""",
        rid,
    )
    assert len(xids) == 4 and len({x["x"] for x in xids}) == 1
    # The receipt says credit is active again: no credit_resumed beside it, also after the 11:00
    # run.
    assert (await run_job_now(gw_deps, "auto_pause")).counts["resumed"] == 0
    kinds = await db.fetch("SELECT kind FROM outbox_messages ORDER BY id")
    assert [k["kind"] for k in kinds] == ["credit_paused", "payment_received"]
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_the_configured_tolerance_decides_whether_a_payment_resumes_credit(
    db: asyncpg.Pool, gw_settings: Settings, gw_deps: Deps
) -> None:
    # ₹1,000 tolerated (the default is ₹100): ₹500 left overdue no longer stops credit.
    settings = gw_settings.model_copy(update={"overdue_tolerance_paise": 100_000})
    deps = dataclasses.replace(gw_deps, settings=settings)
    rid = await _paused_retailer(db, deps)
    async with app_client(settings, deps) as client:
        r = await _post(client, payment_captured("pay_A", 450_000), "e1")
    assert r.json()["detail"] == "matched by contact; credit resumed"
    assert await _status(db, rid) == ("ACTIVE", None)
    body = await db.fetchval("SELECT body FROM outbox_messages WHERE kind = 'payment_received'")
    assert "Credit on your account is active again.\nYou still owe ₹2,500." in body


async def test_a_refund_is_owed_again_once(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    await _post(gw, _link_paid("pay_A", 1_250_000, retailer), "e1")
    refund = refund_processed("rfnd_1", "pay_A", 400_000, payment_amount=1_250_000)
    r = await _post(gw, refund, "e2")
    assert r.json()["status"] == "refunded"
    r = await _post(gw, refund, "e3")  # the same refund under another event id
    assert r.json()["status"] == "duplicate"
    adj = await db.fetch(
        """SELECT direction, amount, reason, notes, performed_by FROM credit_transactions
           WHERE type = 'ADJUSTMENT'"""
    )
    assert [tuple(a) for a in adj] == [
        ("DEBIT", 400_000, "correction", "refund rfnd_1 of razorpay payment pay_A",
         "gateway:razorpay"),
    ]  # fmt: skip
    assert await _outstanding(db, retailer) == 400_000
    assert await db.fetchval("SELECT refunded FROM received_payments") == 400_000
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_a_refund_of_an_overpayment_takes_back_the_advance_first(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    await _post(gw, _link_paid("pay_A", 1_500_000, retailer), "e1")
    r = await _post(
        gw, refund_processed("rfnd_1", "pay_A", 300_000, payment_amount=1_500_000), "e2"
    )
    assert r.json()["status"] == "refunded"
    row = await db.fetchrow("SELECT status, excess, refunded FROM received_payments")
    assert tuple(row) == ("RECORDED", 0, 300_000)
    # ₹2,500 became advance, so only ₹500 is owed again.
    assert await _outstanding(db, retailer) == 50_000
    assert await _balance(db, retailer) == (50_000, 0)


async def test_a_refund_takes_back_the_advance_then_is_owed_again(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    await _post(gw, _link_paid("pay_A", 1_500_000, retailer), "e1")
    assert await _balance(db, retailer) == (0, 250_000)
    # Part of it: the advance shrinks, nothing is owed.
    r = await _post(
        gw, refund_processed("rfnd_1", "pay_A", 100_000, payment_amount=1_500_000), "e2"
    )
    assert r.json()["status"] == "refunded"
    assert r.json()["detail"] == "₹1,000 from the advance"
    assert await _balance(db, retailer) == (0, 150_000)
    # More: the rest of the advance, then owed again.
    r = await _post(
        gw, refund_processed("rfnd_2", "pay_A", 400_000, payment_amount=1_500_000), "e3"
    )
    assert r.json()["detail"] == ("₹1,500 from the advance, ₹2,500 owed again")
    assert await _balance(db, retailer) == (250_000, 0)
    adj = await db.fetch(
        """SELECT amount, cleared_amount, status FROM credit_transactions
           WHERE type = 'ADJUSTMENT' ORDER BY id"""
    )
    assert [tuple(a) for a in adj] == [(100_000, 100_000, "CLEARED"), (400_000, 150_000, "PARTIAL")]
    applied = await db.fetch(
        """SELECT new_value->>'advanceApplied' AS a FROM audit_log
           WHERE action = 'ADJUSTMENT' ORDER BY id"""
    )
    assert [a["a"] for a in applied] == ["100000", "150000"]
    assert await db.fetchval("SELECT refunded FROM received_payments") == 500_000
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_a_row_held_as_excess_before_advances_is_listed_and_refunded_from_what_was_held(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, admin_headers: dict[str, str]
) -> None:
    # As stored before the ledger kept advances: ₹12,500 recorded, ₹2,500 held, not on the ledger.
    await _post(gw, _link_paid("pay_A", 1_250_000, retailer), "e1")
    await db.execute(
        "UPDATE received_payments SET amount = 1500000, excess = 250000, status = 'EXCESS'"
    )
    listed = await gw.get("/api/v1/admin/bank/unmatched?status=EXCESS", headers=admin_headers)
    [item] = listed.json()["items"]
    assert (item["status"], item["recordedAmount"], item["excess"]) == (
        "EXCESS", "12500.00", "2500.00",
    )  # fmt: skip
    r = await _post(
        gw, refund_processed("rfnd_1", "pay_A", 300_000, payment_amount=1_500_000), "e2"
    )
    assert r.json()["detail"] == ("₹2,500 of what was never recorded, ₹500 owed again")
    row = await db.fetchrow("SELECT status, excess, refunded FROM received_payments")
    assert tuple(row) == ("RECORDED", 0, 300_000)
    assert await _balance(db, retailer) == (50_000, 0)


async def test_a_refund_delivered_before_its_payment_records_both(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    r = await _post(gw, refund_processed("rfnd_1", "pay_A", 200_000, payment_amount=500_000), "e1")
    assert r.json()["status"] == "refunded"
    r = await _post(gw, payment_captured("pay_A", 500_000, link_id=LINK), "e2")
    assert r.json()["status"] == "duplicate"
    assert await _payments(db) == [(500_000, "pay_A", "gateway:razorpay", "gateway")]
    assert await _outstanding(db, retailer) == 1_250_000 - 500_000 + 200_000


async def test_an_unknown_payer_is_left_for_an_operator_who_assigns_it(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, admin_headers: dict[str, str]
) -> None:
    r = await _post(gw, payment_captured("pay_Z", 200_000, contact="+15550001111", vpa=None), "e")
    assert r.json()["status"] == "unmatched"
    assert await _payments(db) == []
    listed = await gw.get("/api/v1/admin/bank/unmatched?source=gateway", headers=admin_headers)
    [item] = listed.json()["items"]
    assert (item["source"], item["amount"], item["reference"]) == ("gateway", "2000.00", "pay_Z")
    r = await gw.post(
        f"/api/v1/admin/bank/unmatched/{item['id']}/assign",
        json={"retailer": PHONE},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["matchedBy"], r.json()["outstanding"]) == (
        "RECORDED",
        "operator",
        "10500.00",
    )
    assert await _payments(db) == [(200_000, "pay_Z", "api", "gateway")]
    # A later event for the same payment records nothing more.
    r = await _post(gw, payment_captured("pay_Z", 200_000, contact="+15550001111"), "e2")
    assert r.json()["status"] == "duplicate"


async def test_a_payment_recorded_by_hand_first_is_not_recorded_again(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    async with db.acquire() as conn:
        await ledger.record_payment(
            conn, retailer_id=retailer, amount=500_000, reference="pay_A",
            performed_by="+919900000000", now=NOW, tz=TZ,
        )  # fmt: skip
    r = await _post(gw, _link_paid("pay_A", 500_000, retailer), "e1")
    assert r.json()["status"] == "duplicate"
    assert await _payments(db) == [(500_000, "pay_A", "+919900000000", "operator")]
    assert await db.fetchval("SELECT count(*) FROM outbox_messages") == 0
    # Refunded later: what the operator recorded is owed again.
    await _post(gw, refund_processed("rfnd_1", "pay_A", 500_000, payment_amount=500_000), "e2")
    assert await _outstanding(db, retailer) == 1_250_000


async def test_a_partly_refunded_unmatched_payment_is_assigned_for_what_is_left(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int, admin_headers: dict[str, str]
) -> None:
    payer = {"contact": "+15550001111", "vpa": None}
    await _post(gw, payment_captured("pay_Z", 300_000, **payer), "e1")
    refund = refund_processed("rfnd_1", "pay_Z", 100_000, payment_amount=300_000, **payer)
    assert (await _post(gw, refund, "e2")).json()["status"] == "refunded"
    assert await _outstanding(db, retailer) == 1_250_000  # nothing was recorded: nothing owed
    item = await db.fetchval("SELECT id FROM received_payments")
    r = await gw.post(
        f"/api/v1/admin/bank/unmatched/{item}/assign", json={"retailer": retailer},
        headers=admin_headers,
    )  # fmt: skip
    assert r.json()["recordedAmount"] == "2000.00"
    assert await _outstanding(db, retailer) == 1_050_000


async def test_events_not_acted_on_are_acknowledged(
    gw: httpx.AsyncClient, db: asyncpg.Pool, retailer: int
) -> None:
    r = await _post(gw, payment_captured("pay_A", 500_000, status="authorized"), "e1")
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    assert await _payments(db) == []


@pytest.mark.parametrize("body", [b"not json", b'{"event": "payment.captured", "payload": {}}'])
async def test_a_signed_body_that_is_no_event_is_400(
    gw: httpx.AsyncClient, db: asyncpg.Pool, body: bytes
) -> None:
    r = await gw.post(PATH, content=body, headers={"X-Razorpay-Signature": sign(body)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_EVENT"
    assert await db.fetchval("SELECT count(*) FROM gateway_events") == 0


async def test_the_body_size_limit_applies(gw: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    body = b"{" + b" " * (64 * 1024) + b"}"
    r = await gw.post(PATH, content=body, headers={"X-Razorpay-Signature": sign(body)})
    assert r.status_code == 413


async def test_without_a_gateway_the_webhook_is_closed(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    body = body_of(payment_captured("pay_A", 500))
    r = await client.post(PATH, content=body, headers={"X-Razorpay-Signature": sign(body)})
    assert r.status_code == 503 and r.json()["error"]["code"] == "PAYMENTS_DISABLED"
    r = await client.post("/webhooks/payments/stripe", content=body)
    assert r.status_code == 503


def test_payload_helpers_are_json() -> None:
    assert json.loads(body_of(payment_captured("pay_A", 5)))["event"] == "payment.captured"


@pytest.mark.parametrize(
    ("unrecorded", "advance", "owed", "detail"),
    [
        (0, 100_000, 0, "₹1,000 from the advance"),
        (250_000, 0, 50_000, "₹2,500 of what was never recorded, ₹500 owed again"),
        (100, 200, 300, "₹1 of what was never recorded, ₹2 from the advance, ₹3 owed again"),
        (0, 0, 0, "nothing recorded to take back"),
    ],
)
def test_a_refund_names_only_the_parts_it_took_from(
    unrecorded: int, advance: int, owed: int, detail: str
) -> None:
    assert refund_detail(unrecorded, advance, owed) == detail
