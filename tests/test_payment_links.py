"""Payment links through Razorpay (respx for its API): the exact request, reuse, cancel when the
amount changes, failures falling back to UPI, and the messages that carry them."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta

import asyncpg
import httpx
import pytest
import respx

from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.payments.pay import upi_url
from bot.settings import Settings
from bot.twilio_edge import compute_signature
from db import ledger
from jobs.payment_links import create_payment_link, pay_for
from jobs.runner import run_job_now
from tests.conftest import AUTH_TOKEN, PUBLIC_BASE_URL
from tests.ledger_support import NOW, TZ, credit_order, days, make_product, make_retailer
from tests.payments_support import API_URL, KEY_ID, KEY_SECRET, app_client, link_json, with_payments

PHONE = "+919812345678"
UPI = "sharma.traders@okhdfcbank"


@pytest.fixture
def gw_settings(settings: Settings) -> Settings:
    return with_payments(settings)


@pytest.fixture
def gw_deps(deps: Deps, gw_settings: Settings) -> Deps:
    return dataclasses.replace(deps, settings=gw_settings)


@pytest.fixture
def razorpay() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API_URL, assert_all_called=False) as mock:
        yield mock


def _created(n: int, amount: int, request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json=link_json(
            f"plink_Link{n:010d}", amount, reference_id=body["reference_id"],
            expire_by=body["expire_by"],
        ),
    )  # fmt: skip


def _creates(razorpay: respx.MockRouter) -> respx.Route:
    """POST /v1/payment_links answering with a new link each time, for the amount asked."""
    made = iter(range(1, 100))

    def answer(request: httpx.Request) -> httpx.Response:
        return _created(next(made), json.loads(request.content)["amount"], request)

    return razorpay.post("/v1/payment_links").mock(side_effect=answer)


async def _owing(db: asyncpg.Pool, *quantities: int, ago: float = 13) -> int:
    """A retailer owing these debits (paise), placed `ago` days before NOW."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, name="Ramesh")
        pid = await make_product(conn)
        for q in quantities:
            await credit_order(conn, rid, pid, q, now=NOW - days(ago))
    return rid


async def test_a_link_is_made_with_razorpays_documented_request(
    gw_deps: Deps, db: asyncpg.Pool, razorpay: respx.MockRouter
) -> None:
    rid = await _owing(db, 1_250_000)
    route = _creates(razorpay)
    pay = await pay_for(gw_deps, rid, 1_250_000)
    assert route.call_count == 1
    request = route.calls.last.request
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
    )
    assert request.headers["content-type"] == "application/json"
    link_id = await db.fetchval("SELECT id FROM payment_links")
    assert json.loads(request.content) == {
        "amount": 1_250_000,
        "currency": "INR",
        "accept_partial": False,
        "reference_id": f"link-{link_id}",
        "description": "Dues of Ramesh",
        "customer": {"name": "Ramesh", "contact": PHONE},
        "notify": {"sms": False, "email": False},
        "reminder_enable": False,
        "expire_by": int((NOW + timedelta(days=7)).timestamp()),
        "notes": {"retailer_id": str(rid), "reference": f"link-{link_id}"},
    }
    assert pay is not None and pay["link"] == "https://rzp.io/i/Link0000000001"
    assert pay["amount"] == 1_250_000 and pay["upi_url"] is None
    row = await db.fetchrow("SELECT * FROM payment_links")
    assert (row["status"], row["provider_link_id"], row["amount"]) == (
        "ACTIVE",
        "plink_Link0000000001",
        1_250_000,
    )


async def test_the_same_amount_reuses_the_link(
    gw_deps: Deps, db: asyncpg.Pool, razorpay: respx.MockRouter, clock: FixedClock
) -> None:
    rid = await _owing(db, 1_250_000)
    route = _creates(razorpay)
    first = await pay_for(gw_deps, rid, 1_250_000)
    clock.advance(days=1)  # the next day, still the same amount: the same link
    second = await pay_for(gw_deps, rid, 1_250_000)
    assert route.call_count == 1
    assert first is not None and second is not None and first["link"] == second["link"]
    assert await db.fetchval("SELECT count(*) FROM payment_links") == 1


async def test_a_changed_amount_cancels_the_link_that_would_overpay(
    gw_deps: Deps, db: asyncpg.Pool, razorpay: respx.MockRouter
) -> None:
    rid = await _owing(db, 1_250_000)
    creates = _creates(razorpay)
    cancel = razorpay.post("/v1/payment_links/plink_Link0000000001/cancel").mock(
        return_value=httpx.Response(200, json={"id": "plink_Link0000000001", "status": "cancelled"})
    )
    await pay_for(gw_deps, rid, 1_250_000)
    async with db.acquire() as conn:  # the retailer pays part by cash: ₹7,500 left
        await ledger.record_payment(
            conn, retailer_id=rid, amount=500_000, performed_by="test", now=NOW, tz=TZ
        )
    pay = await pay_for(gw_deps, rid, 750_000)
    assert cancel.call_count == 1 and creates.call_count == 2
    assert cancel.calls.last.request.headers["authorization"].startswith("Basic ")
    assert json.loads(creates.calls.last.request.content)["amount"] == 750_000
    assert pay is not None and pay["link"] == "https://rzp.io/i/Link0000000002"
    rows = await db.fetch("SELECT amount, status FROM payment_links ORDER BY id")
    assert [tuple(r) for r in rows] == [(1_250_000, "CANCELLED"), (750_000, "ACTIVE")]


async def test_a_cancel_that_fails_for_now_is_tried_again_later(
    gw_deps: Deps, db: asyncpg.Pool, razorpay: respx.MockRouter
) -> None:
    rid = await _owing(db, 1_250_000)
    _creates(razorpay)
    cancel = razorpay.post("/v1/payment_links/plink_Link0000000001/cancel").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"status": "cancelled"})]
    )
    await pay_for(gw_deps, rid, 1_250_000)
    async with db.acquire() as conn:
        await ledger.record_payment(
            conn, retailer_id=rid, amount=500_000, performed_by="test", now=NOW, tz=TZ
        )
    await pay_for(gw_deps, rid, 750_000)
    assert await db.fetchval("SELECT status FROM payment_links WHERE id = 1") == "ACTIVE"
    await pay_for(gw_deps, rid, 750_000)
    assert cancel.call_count == 2
    assert await db.fetchval("SELECT status FROM payment_links WHERE id = 1") == "CANCELLED"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": {"code": "BAD_REQUEST_ERROR", "description": "no"}}),
        httpx.Response(500),
        httpx.ConnectError("refused"),
    ],
)
async def test_a_gateway_failure_falls_back_to_the_upi_line(
    gw_deps: Deps, db: asyncpg.Pool, razorpay: respx.MockRouter, answer: object
) -> None:
    rid = await _owing(db, 1_250_000)
    razorpay.post("/v1/payment_links").mock(side_effect=[answer])
    pay = await pay_for(gw_deps, rid, 1_250_000)
    assert pay is not None and pay["link"] is None
    assert pay["upi_url"] == upi_url(UPI, "Sharma Traders", 1_250_000, "Ramesh 9812345678")
    row = await db.fetchrow("SELECT status, error FROM payment_links")
    assert row["status"] == "FAILED" and row["error"]


async def test_without_a_gateway_the_upi_line_is_offered(
    deps: Deps, settings: Settings, db: asyncpg.Pool
) -> None:
    rid = await _owing(db, 1_250_000)
    upi_only = dataclasses.replace(deps, settings=with_payments(settings, gateway=False))
    pay = await pay_for(upi_only, rid, 1_250_000)
    assert pay is not None and pay["link"] is None and pay["upi_id"] == UPI
    assert await pay_for(deps, rid, 1_250_000) is None  # neither: nothing changes


async def test_the_reminder_carries_the_link(
    gw_deps: Deps, db: asyncpg.Pool, razorpay: respx.MockRouter
) -> None:
    await _owing(db, 1_250_000, ago=13)  # due in 2 days: reminded today
    route = _creates(razorpay)
    result = await run_job_now(gw_deps, "payment_reminders")
    assert result.counts["queued"] == 1 and route.call_count == 1
    body = await db.fetchval("SELECT body FROM outbox_messages WHERE kind = 'payment_reminder'")
    assert "💳 Pay ₹12,500 online: https://rzp.io/i/Link0000000001" in body
    # A rerun the same day queues nothing and makes no second link.
    await run_job_now(gw_deps, "payment_reminders")
    assert route.call_count == 1


async def test_the_reminder_carries_the_upi_line_without_a_gateway(
    deps: Deps, settings: Settings, db: asyncpg.Pool
) -> None:
    await _owing(db, 1_250_000, ago=13)
    upi_only = dataclasses.replace(deps, settings=with_payments(settings, gateway=False))
    await run_job_now(upi_only, "payment_reminders")
    body = await db.fetchval("SELECT body FROM outbox_messages WHERE kind = 'payment_reminder'")
    assert (
        "💳 Pay ₹12,500 by UPI: upi://pay?pa=sharma.traders@okhdfcbank&pn=Sharma%20Traders" in body
    )
    assert "UPI ID: sharma.traders@okhdfcbank" in body


def _form(body: str, sid: str) -> dict[str, str]:
    return {"From": f"whatsapp:{PHONE}", "To": "whatsapp:+14155238886", "Body": body,
            "MessageSid": sid, "NumMedia": "0"}  # fmt: skip


async def _say(client: httpx.AsyncClient, text: str, sid: str) -> str:
    url = f"{PUBLIC_BASE_URL}/webhooks/twilio/whatsapp"
    form = _form(text, sid)
    signature = compute_signature(AUTH_TOKEN, url, form.items())
    r = await client.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 200, r.text
    return r.text


async def test_balance_offers_upi_then_the_link_the_worker_made(
    gw_settings: Settings, gw_deps: Deps, db: asyncpg.Pool, razorpay: respx.MockRouter
) -> None:
    rid = await _owing(db, 1_250_000, ago=2)
    route = _creates(razorpay)
    job = f"payment_link:{rid}:1250000:2026-01-15"
    await gw_deps.redis.delete(f"arq:job:{job}", f"arq:result:{job}", gw_settings.arq_queue_name)
    async with app_client(gw_settings, gw_deps) as client:
        first = await _say(client, "balance", "SM" + "1" * 32)
        assert "₹12,500 by UPI" in first and "rzp.io" not in first
        assert route.call_count == 0  # never inside the message's transaction
        queued = await gw_deps.redis.queued_jobs(queue_name=gw_settings.arq_queue_name)
        assert [(j.function, j.args) for j in queued] == [("create_payment_link", (rid,))]
        # The worker runs the job; the next balance carries the link.
        assert await create_payment_link({"deps": gw_deps}, rid) == "link 1"
        second = await _say(client, "balance", "SM" + "2" * 32)
        assert "💳 Pay ₹12,500 online: https://rzp.io/i/Link0000000001" in second
    await gw_deps.redis.delete(f"arq:job:{job}", gw_settings.arq_queue_name)
