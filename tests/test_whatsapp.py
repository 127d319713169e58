"""The WhatsApp webhook end to end: signed form posts, as Twilio sends them, to orders in the
database (real PostgreSQL), with dedupe, serialisation, refusals and bad requests."""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from twilio.twiml.messaging_response import MessagingResponse

from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.messages import MAX_MESSAGE_CHARS, utf16_len
from bot.settings import Settings
from bot.twilio_edge import compute_signature
from db.pool import create_pool
from db.seed import seed_demo
from handlers.whatsapp import PATH, pack, twiml
from tests.conftest import (
    ACCOUNT_SID,
    ADMIN_PHONE,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    WHATSAPP_FROM,
    make_app,
)

RAMESH = "+919800000001"  # ACTIVE, ₹1,00,000 limit, ₹40,050 outstanding
RAHMAN = "+919800000003"  # ACTIVE but ₹14,850 unpaid for 40 days
PRIYA = "+919800000004"  # PAUSED (language hi)
LAKSHMI = "+919800000006"  # ACTIVE, nothing owed
STRANGER = "+919811111111"


def new_sid() -> str:
    return "SM" + secrets.token_hex(16)


def signed(fields: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": compute_signature(token, PUBLIC_BASE_URL + PATH, fields.items())}


def form(phone: str, body: str, sid: str | None = None, **extra: str) -> dict[str, str]:
    return {
        "SmsMessageSid": sid or "",
        "NumMedia": "0",
        "ProfileName": "Shopkeeper",
        "MessageType": "text",
        "WaId": phone.removeprefix("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": WHATSAPP_FROM,
        "NumSegments": "1",
        "MessageSid": sid or new_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{phone}",
        "ApiVersion": "2010-04-01",
        **extra,
    }


async def post(client: httpx.AsyncClient, fields: dict[str, str]) -> httpx.Response:
    return await client.post(PATH, data=fields, headers=signed(fields))


def texts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]


async def say(client: httpx.AsyncClient, phone: str, body: str, **extra: str) -> str:
    fields = form(phone, body, **extra)
    return "\n\n".join(texts(await post(client, fields)))


@pytest.fixture
async def shop(db: asyncpg.Pool, clock: FixedClock) -> asyncpg.Pool:
    """The demo retailers (various credit states) and catalogue."""
    async with db.acquire() as conn:
        await seed_demo(conn, now=clock.now())
    return db


async def product_number(db: asyncpg.Pool, sku: str) -> int:
    """The number a retailer sees for `sku` in the catalogue (category, name order)."""
    ids = [
        r["sku"]
        for r in await db.fetch("SELECT sku FROM products WHERE active ORDER BY category, name, id")
    ]
    return ids.index(sku) + 1


async def count(db: asyncpg.Pool, table: str) -> int:
    n: int = await db.fetchval(f"SELECT count(*) FROM {table}")
    return n


async def placed(db: asyncpg.Pool) -> int:
    """Orders placed through the chat (the seeded ones have no pending order)."""
    n: int = await db.fetchval("SELECT count(*) FROM orders WHERE pending_order_id IS NOT NULL")
    return n


# --- the whole flow ----------------------------------------------------------------------------


async def test_credit_order_through_the_whole_flow(
    client: httpx.AsyncClient, shop: asyncpg.Pool, clock: FixedClock
) -> None:
    greeting = await say(client, RAMESH, "hi")
    assert "Namaste Ramesh Kumar" in greeting and "₹59,950" in greeting
    assert "1. Beverages" in greeting  # the menu follows the greeting

    page = await say(client, RAMESH, "5")  # Staples
    atta = await product_number(shop, "ATTA-10")
    assert f"{atta}. Aashirvaad Atta 10kg – ₹450/bag" in page

    added = await say(client, RAMESH, f"{atta} x 2\nsalt 10")
    assert "Aashirvaad Atta 10kg × 2 = ₹900" in added and "₹1,180" in added

    options = await say(client, RAMESH, "checkout")
    assert "1. *Credit* – available ₹59,950, due 30 Jan 2026" in options
    pending = await shop.fetchrow("SELECT * FROM pending_orders")
    assert pending["status"] == "PENDING" and pending["total"] == 1_180_00
    assert pending["expires_at"] == clock.now() + timedelta(hours=24)
    assert [line["sku"] for line in pending["cart"]] == ["ATTA-10", "SALT-1"]

    confirm = await say(client, RAMESH, "1")
    assert "paid by *credit*, due 30 Jan 2026" in confirm
    placed = await say(client, RAMESH, "haan")
    order = await shop.fetchrow("SELECT * FROM orders WHERE pending_order_id = $1", pending["id"])
    assert order is not None
    assert f"Order *#{order['id']}* is placed" in placed
    assert "Total: *₹1,180*" in placed and "due *30 Jan 2026*" in placed

    assert order["payment_mode"] == "CREDIT" and order["total"] == 1_180_00
    assert order["due_date"] == date(2026, 1, 30)
    debit = await shop.fetchrow(
        "SELECT * FROM credit_transactions WHERE order_id = $1", order["id"]
    )
    assert debit["type"] == "DEBIT" and debit["amount"] == 1_180_00
    assert debit["due_date"] == date(2026, 1, 30) and debit["performed_by"] == RAMESH
    audit = await shop.fetchrow(
        "SELECT * FROM audit_log WHERE reference = $1", f"txn:{debit['id']}"
    )
    assert audit["action"] == "DEBIT" and audit["performed_by"] == RAMESH
    items = await shop.fetch(
        "SELECT sku, quantity, line_total FROM order_items WHERE order_id = $1 ORDER BY id",
        order["id"],
    )
    assert [tuple(i) for i in items] == [("ATTA-10", 2, 900_00), ("SALT-1", 10, 280_00)]
    assert (
        await shop.fetchval(
            "SELECT outstanding FROM credit_accounts ca JOIN retailers r ON r.id = ca.retailer_id "
            "WHERE r.phone = $1",
            RAMESH,
        )
        == 40_050_00 + 1_180_00
    )
    assert await shop.fetchval("SELECT status FROM pending_orders") == "COMPLETED"
    conv = await shop.fetchrow("SELECT stage, data FROM conversations WHERE phone = $1", RAMESH)
    assert conv["stage"] == "MENU" and conv["data"]["cart"] == []
    last_inbound = await shop.fetchval(
        "SELECT last_inbound_at FROM retailers WHERE phone = $1", RAMESH
    )
    assert last_inbound == clock.now()
    assert await shop.fetchval("SELECT count(*) FROM inbound_messages WHERE reply IS NULL") == 0

    # The next day's "reorder" offers the same items at today's prices.
    clock.advance(days=1)
    again = await say(client, RAMESH, "reorder")
    assert "last order at today's prices" in again and "₹1,180" in again


async def test_cod_order_takes_no_credit(client: httpx.AsyncClient, shop: asyncpg.Pool) -> None:
    before = await shop.fetchval("SELECT outstanding FROM credit_accounts WHERE retailer_id = 6")
    await say(client, LAKSHMI, "hi")
    await say(client, LAKSHMI, "maggi 4")
    await say(client, LAKSHMI, "checkout")
    assert "cash on delivery" in await say(client, LAKSHMI, "cod")
    placed = await say(client, LAKSHMI, "confirm")
    assert "Payment: cash on delivery" in placed
    order = await shop.fetchrow("SELECT * FROM orders WHERE retailer_id = 6")
    assert order["payment_mode"] == "COD" and order["due_date"] is None
    assert order["total"] == 4 * 168_00
    assert (
        await shop.fetchval("SELECT count(*) FROM credit_transactions WHERE retailer_id = 6") == 0
    )
    after = await shop.fetchval("SELECT outstanding FROM credit_accounts WHERE retailer_id = 6")
    assert before == after == 0


async def test_paused_retailer_is_not_offered_credit_and_can_order_cod(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    greeting = await say(client, PRIYA, "namaste")
    assert "उधार रुका हुआ है" in greeting  # Priya reads Hindi
    await say(client, PRIYA, "atta 1")
    options = await say(client, PRIYA, "checkout")
    assert "उधार (credit)" not in options and "*2* या *COD* लिखें" in options
    assert "उधार रुका हुआ है" in options  # the reason, in words
    refused = await say(client, PRIYA, "1")
    assert "उधार रुका हुआ है" in refused
    assert await placed(shop) == 0  # only the seeded ones
    await say(client, PRIYA, "2")
    done = await say(client, PRIYA, "haan")
    assert "डिलीवरी पर नकद" in done
    order = await shop.fetchrow("SELECT * FROM orders WHERE pending_order_id IS NOT NULL")
    assert order["payment_mode"] == "COD" and order["retailer_id"] == 4


async def test_overdue_retailer_is_told_why_credit_stops(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    # Before any pause, the greeting and the balance already say that credit is on hold.
    greeting = await say(client, RAHMAN, "hi")
    assert "Credit on hold: ₹14,850 is unpaid for over 30 days" in greeting
    assert "Credit available" not in greeting
    assert "Status: on hold until the old dues are paid" in await say(client, RAHMAN, "balance")
    await say(client, RAHMAN, "atta 1")
    options = await say(client, RAHMAN, "checkout")
    assert "₹14,850 has been unpaid for more than 30 days" in options
    assert "1. *Credit*" not in options


async def test_over_limit_is_refused_and_cod_offered(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    # ₹59,950 available and ₹50,000 largest credit order: 45 x ₹1,350 = ₹60,750.
    await shop.execute(
        "UPDATE credit_accounts SET max_order_value = 10000000 WHERE retailer_id = 1"
    )
    await say(client, RAMESH, "hi")
    rice = await product_number(shop, "RICE-SON-25")
    await say(client, RAMESH, f"{rice} x 45")
    options = await say(client, RAMESH, "checkout")
    assert "more than your available credit of ₹59,950" in options
    await shop.execute("UPDATE credit_accounts SET max_order_value = 5000000 WHERE retailer_id = 1")
    await say(client, RAMESH, "change 1 40")
    options = await say(client, RAMESH, "checkout")
    assert "Credit orders can be at most ₹50,000; this one is ₹54,000" in options


async def test_credit_refused_at_placement_when_paused_meanwhile(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, LAKSHMI, "hi")
    await say(client, LAKSHMI, "atta 1")
    await say(client, LAKSHMI, "checkout")
    await say(client, LAKSHMI, "credit")
    await shop.execute(
        "UPDATE retailers SET credit_status = 'PAUSED', credit_paused_at = now(), "
        "paused_by = 'SYSTEM' WHERE id = 6"
    )
    refused = await say(client, LAKSHMI, "confirm")
    assert "Credit is paused" in refused and "COD" in refused
    assert await placed(shop) == 0
    await say(client, LAKSHMI, "cod")
    assert "is placed" in await say(client, LAKSHMI, "confirm")


async def test_expired_pending_order_cannot_be_confirmed(
    client: httpx.AsyncClient, shop: asyncpg.Pool, clock: FixedClock
) -> None:
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, "atta 1")
    await say(client, RAMESH, "checkout")
    await say(client, RAMESH, "cod")
    clock.advance(hours=24, seconds=1)
    lapsed = await say(client, RAMESH, "confirm")
    assert "was cancelled, so nothing was placed" in lapsed
    assert await shop.fetchval("SELECT status FROM pending_orders") == "EXPIRED"
    assert await placed(shop) == 0
    # The cart is still there: a new checkout opens a new pending order.
    await say(client, RAMESH, "checkout")
    assert await shop.fetchval("SELECT count(*) FROM pending_orders WHERE status = 'PENDING'") == 1


async def test_cancel_cancels_the_pending_order(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, "atta 1")
    await say(client, RAMESH, "checkout")
    assert "cancelled" in await say(client, RAMESH, "cancel")
    assert await shop.fetchval("SELECT status FROM pending_orders") == "CANCELLED"
    assert "didn't understand" not in await say(client, RAMESH, "confirm")
    assert await placed(shop) == 0


async def test_product_retired_before_confirm(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, "atta 1\nharpic 2")
    await say(client, RAMESH, "checkout")
    await say(client, RAMESH, "cod")
    await shop.execute("UPDATE products SET active = false WHERE sku = 'CLEAN-HAR-1'")
    answer = await say(client, RAMESH, "confirm")
    assert "Harpic 1L" in answer and "no longer available" in answer.lower()
    assert "total *₹450*" in answer  # the new total, to choose payment again
    assert await placed(shop) == 0
    await say(client, RAMESH, "2")
    assert "is placed" in await say(client, RAMESH, "confirm")


async def test_commands_anywhere(client: httpx.AsyncClient, shop: asyncpg.Pool) -> None:
    await say(client, RAMESH, "hi")
    assert "How to order" in await say(client, RAMESH, "help")
    assert "You owe: ₹40,050" in await say(client, RAMESH, "balance")
    assert "No orders yet" not in await say(client, RAMESH, "insights")
    assert "हिंदी" in await say(client, RAMESH, "language hi")
    assert await shop.fetchval("SELECT language FROM retailers WHERE id = 1") == "hi"
    assert "श्रेणी" in await say(client, RAMESH, "menu")
    assert "English" in await say(client, RAMESH, "language en")
    stop = await say(client, RAMESH, "STOP")
    assert "no more payment reminders" in stop
    row = await shop.fetchrow("SELECT opted_out, opted_out_at FROM retailers WHERE id = 1")
    assert row["opted_out"] is True and row["opted_out_at"] is not None
    assert "Reminders are on again" in await say(client, RAMESH, "START")
    row = await shop.fetchrow("SELECT opted_out, opted_out_at FROM retailers WHERE id = 1")
    assert row["opted_out"] is False and row["opted_out_at"] is None


async def test_odd_input_always_gets_an_answer(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, RAMESH, "hi")
    assert "only read text" in await say(client, RAMESH, "", NumMedia="1", MediaUrl0="https://x")
    assert "empty message" in await say(client, RAMESH, "")
    assert "too long" in await say(client, RAMESH, "x" * 4000)
    assert 'didn\'t understand "<b>kal aana</b>"' in await say(client, RAMESH, "<b>kal aana</b>")
    assert "*help*" in await say(client, RAMESH, "🙂🙂")
    assert "at least 1" in await say(client, RAMESH, "2 x 0")
    assert "most 999 of one item" in await say(client, RAMESH, "2 x 1000000000")
    await shop.execute("UPDATE products SET active = false WHERE sku = 'MATCH-10'")
    # The numbering shown before still maps to the retired product: it is refused, by name.
    match = await product_number(shop, "CLEAN-HAR-1") + 1
    assert "Matchbox (10 pack) is no longer available" in await say(client, RAMESH, f"{match} x 1")


async def test_nul_characters_are_dropped_not_a_500(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, LAKSHMI, "hi")
    reply = await say(client, LAKSHMI, "atta\x00 2")
    assert "Aashirvaad Atta" in reply
    assert await shop.fetchval("SELECT count(*) FROM inbound_messages WHERE body = 'atta 2'") == 1


async def test_button_payload_counts_as_the_text(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await say(client, RAMESH, "hi")
    await say(client, RAMESH, "atta 1")
    await say(client, RAMESH, "checkout")
    assert "cash on delivery" in await say(
        client, RAMESH, "Cash", ButtonPayload="cod", ButtonText="Cash"
    )


# --- the edge ----------------------------------------------------------------------------------


async def test_unknown_number_gets_polite_reply_and_nothing_is_created(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    tables = ("inbound_messages", "conversations", "pending_orders", "retailers", "audit_log")
    before = {t: await count(shop, t) for t in tables}
    reply = await say(client, STRANGER, "hi")
    assert "not registered" in reply and "रजिस्टर" in reply
    assert {t: await count(shop, t) for t in tables} == before


@pytest.mark.parametrize(
    "change",
    ["wrong token", "tampered", "no signature", "other url", "extra field"],
)
async def test_bad_signature_is_403_and_nothing_stored(
    client: httpx.AsyncClient, shop: asyncpg.Pool, change: str
) -> None:
    fields = form(RAMESH, "hi")
    headers = signed(fields, "not-the-token" if change == "wrong token" else AUTH_TOKEN)
    if change == "tampered":
        fields["Body"] = "confirm"
    if change == "no signature":
        headers = {}
    if change == "other url":
        headers = {
            "X-Twilio-Signature": compute_signature(
                AUTH_TOKEN, "https://evil.example" + PATH, fields.items()
            )
        }
    if change == "extra field":
        fields["NewTwilioField"] = "x"  # every posted field is signed, new ones too
    response = await client.post(PATH, data=fields, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert await count(shop, "inbound_messages") == 0
    assert await count(shop, "conversations") == 0


async def test_new_twilio_fields_are_signed_and_accepted(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    fields = form(RAMESH, "hi", ReferralNumMedia="0", ChannelMetadata='{"type":"whatsapp"}')
    assert texts(await post(client, fields))


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"From=whatsapp%3A%2B919800000001&Body=%ff", "application/x-www-form-urlencoded"),
        (b"From=whatsapp%3A%2B919800000001&Body", "application/x-www-form-urlencoded"),
        (b'{"From": "whatsapp:+919800000001"}', "application/json"),
        (b"MessageSid=SM1&Body=hi", "application/x-www-form-urlencoded"),  # no From
        (
            b"MessageSid=SM1&Body=hi&From=whatsapp%3Anot-a-number",
            "application/x-www-form-urlencoded",
        ),
        (b"Body=hi&From=whatsapp%3A%2B919800000001", "application/x-www-form-urlencoded"),  # no sid
        (b"", "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_request_is_400_and_nothing_stored(
    client: httpx.AsyncClient, shop: asyncpg.Pool, body: bytes, content_type: str
) -> None:
    fields: list[tuple[str, str]] = []
    response = await client.post(
        PATH,
        content=body,
        headers={
            "content-type": content_type,
            "X-Twilio-Signature": compute_signature(AUTH_TOKEN, PUBLIC_BASE_URL + PATH, fields),
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert await count(shop, "inbound_messages") == 0


async def test_no_auth_token_configured_refuses_everything(deps: Deps, shop: asyncpg.Pool) -> None:
    from asgi_lifespan import LifespanManager

    unset = deps.settings.model_copy(update={"twilio_auth_token": None})
    app = make_app(unset, replace(deps, settings=unset))
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
        ) as http,
    ):
        response = await post(http, form(RAMESH, "hi"))
    assert response.status_code == 403
    assert await count(shop, "inbound_messages") == 0


async def test_oversized_body_is_413(client: httpx.AsyncClient, shop: asyncpg.Pool) -> None:
    fields = form(RAMESH, "x" * 70_000)
    response = await post(client, fields)
    assert response.status_code == 413


# --- dedupe and serialisation ------------------------------------------------------------------


async def _to_confirm(client: httpx.AsyncClient, phone: str) -> None:
    await say(client, phone, "hi")
    await say(client, phone, "atta 2")
    await say(client, phone, "checkout")
    await say(client, phone, "credit")


async def test_twenty_concurrent_confirms_place_one_order(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await _to_confirm(client, RAMESH)
    outstanding = await shop.fetchval(
        "SELECT outstanding FROM credit_accounts WHERE retailer_id = 1"
    )
    responses = await asyncio.gather(*(post(client, form(RAMESH, "confirm")) for _ in range(20)))
    replies = ["\n".join(texts(r)) for r in responses]
    assert sum("is placed" in r for r in replies) == 1
    # The other 19, served one at a time after it, are told that the order is already placed.
    assert sum("is already placed" in r for r in replies) == 19
    assert (
        await shop.fetchval("SELECT count(*) FROM orders WHERE pending_order_id IS NOT NULL") == 1
    )
    assert (
        await shop.fetchval("SELECT outstanding FROM credit_accounts WHERE retailer_id = 1")
        == outstanding + 2 * 450_00
    )
    assert (
        await shop.fetchval(
            "SELECT count(*) FROM credit_transactions WHERE retailer_id = 1 AND order_id IN "
            "(SELECT id FROM orders WHERE pending_order_id IS NOT NULL)"
        )
        == 1
    )
    assert await count(shop, "inbound_messages") == 24


async def test_same_message_sid_ten_times_places_one_order_and_same_reply(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    await _to_confirm(client, RAMESH)
    fields = form(RAMESH, "confirm")
    responses = await asyncio.gather(*(post(client, fields) for _ in range(10)))
    bodies = {r.text for r in responses}
    assert len(bodies) == 1
    assert all(r.status_code == 200 for r in responses)
    assert "is placed" in "".join(texts(responses[0]))
    assert (
        await shop.fetchval("SELECT count(*) FROM orders WHERE pending_order_id IS NOT NULL") == 1
    )
    # And later, sequentially: still the same stored answer, nothing changes.
    again = await post(client, fields)
    assert again.text == responses[0].text
    assert (
        await shop.fetchval("SELECT count(*) FROM orders WHERE pending_order_id IS NOT NULL") == 1
    )


async def test_redelivery_does_not_move_the_conversation(
    client: httpx.AsyncClient, shop: asyncpg.Pool, clock: FixedClock
) -> None:
    first = form(RAMESH, "hi")
    reply = await post(client, first)
    stage = await shop.fetchval("SELECT stage FROM conversations")
    seen = await shop.fetchval("SELECT last_inbound_at FROM retailers WHERE id = 1")
    clock.advance(minutes=5)
    again = await post(client, first)
    assert again.text == reply.text
    assert await shop.fetchval("SELECT stage FROM conversations") == stage
    assert await shop.fetchval("SELECT last_inbound_at FROM retailers WHERE id = 1") == seen


async def test_messages_from_separate_connections_are_serialised(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    # Ten different items at once: each message sees the cart the previous one left.
    await say(client, LAKSHMI, "hi")
    lines = ["atta", "salt", "sugar", "maggi", "surf", "vim", "harpic", "frooti", "bru", "lux"]
    await asyncio.gather(*(say(client, LAKSHMI, f"{name} 1") for name in lines))
    data = await shop.fetchval("SELECT data FROM conversations WHERE phone = $1", LAKSHMI)
    assert len(data["cart"]) == 10


# --- cost --------------------------------------------------------------------------------------


def _ours(query: str) -> bool:
    """Not one of asyncpg's own reads of type information (once per connection and type)."""
    return "typeinfo_tree" not in query and "current_setting('jit')" not in query


async def test_round_trips_per_message(
    settings: Settings, deps: Deps, shop: asyncpg.Pool, database_url: str
) -> None:
    """On a small machine the round trips to PostgreSQL are most of a message's cost
    (docs/checkout.md): a message is BEGIN, three statements and COMMIT; a confirm adds the
    ledger's lock, read and write, and a credit one its aging refresh."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    statements: list[str] = []
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: statements.append(record.query))
        app = make_app(settings, replace(deps, pool=pool))
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
            ) as client,
        ):
            counts: dict[str, int] = {}
            for pay in ("credit", "cod"):
                for text in ("hi", "atta 2", "cart", "checkout", pay, "confirm"):
                    statements.clear()
                    await say(client, LAKSHMI, text)
                    await asyncio.sleep(0)  # the query logger is called soon, not at once
                    counts[f"{text} ({pay})"] = sum(map(_ours, statements))
    finally:
        await pool.close()
    assert counts["confirm (credit)"] == 9
    assert counts["confirm (cod)"] == 8
    assert counts["hi (cod)"] == counts["atta 2 (cod)"] == counts["cart (cod)"] == 5
    assert counts["checkout (cod)"] == counts["cod (cod)"] == 6  # + the pending order's write
    assert await placed(shop) == 2


# --- admins ------------------------------------------------------------------------------------


async def test_admin_number_reaches_admin_commands(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    fields = form(ADMIN_PHONE, "help")
    first = await post(client, fields)
    assert texts(first) and texts(first)[0].strip()
    row = await shop.fetchrow("SELECT retailer_id, reply FROM inbound_messages")
    assert row["retailer_id"] is None and row["reply"] == first.text
    assert (await post(client, fields)).text == first.text
    assert await count(shop, "conversations") == 0


# --- TwiML -------------------------------------------------------------------------------------


def test_twiml_escapes_and_strips_what_xml_cannot_carry() -> None:
    xml = twiml(["a < b & c > d", "bell\x07 ok"])
    root = ET.fromstring(xml)
    assert [m.text for m in root.findall("Message")] == ["a < b & c > d", "bell ok"]


@pytest.mark.parametrize(
    "messages",
    [["hello"], ["a < b & c > d", "नमस्ते 🙏", "line\nbreak"], ["x", "", "y"], ["\"quoted\" 'it'"]],
)
def test_twiml_is_what_twilios_messaging_response_writes(messages: list[str]) -> None:
    """Ours is kept for its cost (docs/decisions.md): the same document, byte for byte."""
    expected = MessagingResponse()
    for text in messages:
        if text:
            expected.message(text)
    assert twiml(messages) == expected.to_xml()


def test_pack_joins_short_replies_and_splits_long_ones() -> None:
    assert pack(["one", "two"]) == ["one\n\ntwo"]
    long = "\n".join(f"line {i:04d} " + "x" * 40 for i in range(80))
    parts = pack(["hello", long])
    assert all(len(p) <= 1600 for p in parts)
    assert "".join(parts).count("line") == 80


async def test_conversation_facts_read_credit_exactly_as_the_ledger_does(
    shop: asyncpg.Pool, clock: FixedClock
) -> None:
    from bot.clock import business_date
    from db.catalogue import CatalogueCache
    from db.conversations import get_conversation_facts
    from db.ledger import get_credit_facts

    today = business_date(clock.now(), ZoneInfo("Asia/Kolkata"))
    await shop.execute("DELETE FROM credit_accounts WHERE retailer_id = 6")
    async with shop.acquire() as conn:
        for rid in range(1, 7):
            facts = await get_conversation_facts(conn, rid, today, None, CatalogueCache())
            assert facts.credit == await get_credit_facts(conn, rid, today)
    assert facts.credit is None  # no account: no credit line


# --- the signed URL, with and without the default port ------------------------------------------


@pytest.mark.parametrize(
    "signed_url, status",
    [
        (PUBLIC_BASE_URL + PATH, 200),
        ("https://bot.example.test:443" + PATH, 200),  # Twilio signed with the default port
        ("https://bot.example.test:8443" + PATH, 403),  # another port is another URL
        ("http://bot.example.test" + PATH, 403),
    ],
)
async def test_signature_with_or_without_the_default_port(
    client: httpx.AsyncClient, shop: asyncpg.Pool, signed_url: str, status: int
) -> None:
    fields = form(RAMESH, "hi")
    signature = compute_signature(AUTH_TOKEN, signed_url, fields.items())
    response = await client.post(PATH, data=fields, headers={"X-Twilio-Signature": signature})
    assert response.status_code == status
    assert await count(shop, "inbound_messages") == (1 if status == 200 else 0)


async def test_public_base_url_with_a_port_and_a_port_in_the_signature(
    deps: Deps, shop: asyncpg.Pool
) -> None:
    """PUBLIC_BASE_URL names the port Twilio calls; Twilio may sign with the default port too."""
    for base, signed_base in (
        ("https://bot.example.test:8443", "https://bot.example.test:8443"),
        ("https://bot.example.test:443", "https://bot.example.test"),
    ):
        settings = deps.settings.model_copy(update={"public_base_url": base})
        app = make_app(settings, replace(deps, settings=settings))
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url=base
            ) as http,
        ):
            fields = form(RAMESH, "hi")
            signature = compute_signature(AUTH_TOKEN, signed_base + PATH, fields.items())
            response = await http.post(PATH, data=fields, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, base


# --- lengths as Twilio counts them ---------------------------------------------------------------


def test_pack_counts_utf16_units_and_never_splits_an_emoji() -> None:
    line = "🙏" * 39 + "\n"  # 79 UTF-16 units a line: 40 code points
    long = line * 60
    parts = pack([long])
    assert all(utf16_len(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert len(parts) == 4 and "".join(parts).count("🙏") == 39 * 60
    assert all(not ("\ud800" <= ch <= "\udfff") for p in parts for ch in p)
    one_line = "😀" * 1000  # no newline to cut at: cut between emoji, never inside one
    parts = pack([one_line])
    assert [utf16_len(p) for p in parts] == [MAX_MESSAGE_CHARS, 2000 - MAX_MESSAGE_CHARS]
    assert "".join(parts) == one_line
