"""POST /webhooks/twilio/status: signed as Twilio signs it; statuses never move backwards."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from bot.twilio_edge import compute_signature
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, WHATSAPP_FROM

PATH = "/webhooks/twilio/status"
SID = "SM" + "b" * 32


def callback(status: str, sid: str = SID, **extra: str) -> dict[str, str]:
    fields = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": ACCOUNT_SID,
        "To": "whatsapp:+919812345678",
        "From": WHATSAPP_FROM,
        "ApiVersion": "2010-04-01",
        "ChannelPrefix": "whatsapp",
    }
    fields.update(extra)
    return fields


async def post_signed(
    client: httpx.AsyncClient, fields: dict[str, str], *, token: str = AUTH_TOKEN
) -> httpx.Response:
    signature = compute_signature(token, PUBLIC_BASE_URL + PATH, fields.items())
    return await client.post(PATH, data=fields, headers={"X-Twilio-Signature": signature})


async def sent_row(db: asyncpg.Pool, sid: str = SID, status: str = "ACCEPTED") -> int:
    row_id: int = await db.fetchval(
        """INSERT INTO outbox_messages (to_phone, kind, template, body, dedupe_key, status,
               twilio_sid, attempts)
           VALUES ('+919812345678', 'credit_paused', 'credit_paused', 'paused', $1, $2, $1, 1)
           RETURNING id""",
        sid,
        status,
    )
    return row_id


async def state(db: asyncpg.Pool, sid: str = SID) -> tuple[str, str | None]:
    r = await db.fetchrow("SELECT status, error_code FROM outbox_messages WHERE twilio_sid=$1", sid)
    assert r is not None
    return r["status"], r["error_code"]


# Callbacks in the order they arrive -> where the row ends (the furthest status; failures keep
# their first ErrorCode; a late failure never undoes a delivery).
@pytest.mark.parametrize(
    "events, final",
    [
        (["sent", "delivered", "read"], ("READ", None)),
        (["read", "delivered", "sent"], ("READ", None)),
        (["delivered", "sent"], ("DELIVERED", None)),
        (["delivered", "queued", "sending", "sent"], ("DELIVERED", None)),
        (["sent", "sent", "sent"], ("SENT", None)),
        (["sent", "failed:30003"], ("FAILED", "30003")),
        (["failed:30003", "sent"], ("FAILED", "30003")),
        (["sent", "undelivered:30008", "failed:30003"], ("UNDELIVERED", "30008")),
        (["delivered", "failed:30008"], ("DELIVERED", None)),
        (["read", "undelivered:30008"], ("READ", None)),
        (["undelivered:30008", "delivered"], ("DELIVERED", "30008")),
        (["canceled"], ("FAILED", None)),
        (["received", "sent"], ("SENT", None)),
    ],
)
async def test_out_of_order_events_end_at_the_furthest_status(
    client: httpx.AsyncClient, db: asyncpg.Pool, events: list[str], final: tuple[str, str | None]
) -> None:
    await sent_row(db)
    for event in events:
        status, _, code = event.partition(":")
        extra = {"ErrorCode": code} if code else {}
        response = await post_signed(client, callback(status, **extra))
        assert response.status_code == 204, response.text
    assert await state(db) == final


async def test_repeated_callback_is_harmless(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    await sent_row(db)
    fields = callback("delivered")
    assert (await post_signed(client, fields)).status_code == 204
    before = await db.fetchrow("SELECT * FROM outbox_messages")
    assert (await post_signed(client, fields)).status_code == 204
    assert await db.fetchrow("SELECT * FROM outbox_messages") == before


async def test_failure_keeps_error_code_and_message(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    await sent_row(db)
    fields = callback("undelivered", ErrorCode="63024", ErrorMessage="Invalid message recipient")
    assert (await post_signed(client, fields)).status_code == 204
    r = await db.fetchrow("SELECT status, error_code, error_message FROM outbox_messages")
    assert tuple(r) == ("UNDELIVERED", "63024", "Invalid message recipient")


async def test_racing_callbacks_end_at_the_furthest(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    await sent_row(db)
    order = ["sent", "read", "delivered", "sent", "delivered", "queued"] * 3
    responses = await asyncio.gather(*(post_signed(client, callback(s)) for s in order))
    assert {r.status_code for r in responses} == {204}
    assert await state(db) == ("READ", None)


@pytest.mark.parametrize(
    "signature",
    ["", "not-a-signature", compute_signature("wrong-token", PUBLIC_BASE_URL + PATH, [])],
)
async def test_bad_signature_is_403_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, signature: str
) -> None:
    await sent_row(db)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = await client.post(PATH, data=callback("delivered"), headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert await state(db) == ("ACCEPTED", None)


async def test_signature_over_tampered_fields_is_403(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    await sent_row(db)
    fields = callback("sent")
    signature = compute_signature(AUTH_TOKEN, PUBLIC_BASE_URL + PATH, fields.items())
    fields["MessageStatus"] = "read"
    response = await client.post(PATH, data=fields, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert await state(db) == ("ACCEPTED", None)


async def test_signature_for_another_url_is_403(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    await sent_row(db)
    fields = callback("read")
    signature = compute_signature(AUTH_TOKEN, "http://internal:8000" + PATH, fields.items())
    response = await client.post(PATH, data=fields, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


async def test_unknown_message_sid_changes_nothing_and_is_kept(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    await sent_row(db)
    response = await post_signed(client, callback("delivered", sid="SM" + "f" * 32))
    assert response.status_code == 204
    assert await state(db) == ("ACCEPTED", None)
    # Kept for the sender, in case the SID is being written (tests/test_outbox_sender.py).
    kept = await db.fetchrow("SELECT twilio_sid, status FROM early_status_callbacks")
    assert tuple(kept) == ("SM" + "f" * 32, "DELIVERED")


async def test_missing_fields_is_400(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    fields = {"AccountSid": ACCOUNT_SID, "MessageStatus": "sent"}
    response = await post_signed(client, fields)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"


async def test_message_sid_not_shaped_like_one_is_400(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    response = await post_signed(client, callback("delivered", sid="SM" + "x" * 500))
    assert response.status_code == 400
    assert await db.fetchval("SELECT count(*) FROM early_status_callbacks") == 0


async def test_malformed_body_is_4xx_not_500(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    response = await client.post(
        PATH,
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=x", "X-Twilio-Signature": "x"},
    )
    assert 400 <= response.status_code < 500


async def test_get_is_not_allowed(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    assert (await client.get(PATH)).status_code == 405


async def test_nul_in_a_field_is_dropped_not_a_500(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    await sent_row(db)
    response = await post_signed(client, callback("failed", ErrorCode="300\x0003"))
    assert response.status_code == 204
    assert await state(db) == ("FAILED", "30003")


@pytest.mark.parametrize(
    "signed_url, status",
    [
        (PUBLIC_BASE_URL + PATH, 204),
        ("https://bot.example.test:443" + PATH, 204),  # Twilio signed with the default port
        ("https://bot.example.test:8443" + PATH, 403),
    ],
)
async def test_signature_with_or_without_the_default_port(
    client: httpx.AsyncClient, db: asyncpg.Pool, signed_url: str, status: int
) -> None:
    await sent_row(db)
    fields = callback("delivered")
    signature = compute_signature(AUTH_TOKEN, signed_url, fields.items())
    response = await client.post(PATH, data=fields, headers={"X-Twilio-Signature": signature})
    assert response.status_code == status
    assert await state(db) == (("DELIVERED", None) if status == 204 else ("ACCEPTED", None))


async def test_a_long_error_code_and_message_are_cut(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    """A signed callback may still carry a long field: it is stored cut (as the sender cuts its
    own messages), for a row and for a callback kept until its row has the SID."""
    await sent_row(db)
    long = {"ErrorCode": "6" * 500, "ErrorMessage": "x" * 5000}
    assert (await post_signed(client, callback("failed", **long))).status_code == 204
    stored = await db.fetchrow("SELECT error_code, error_message FROM outbox_messages")
    assert (len(stored["error_code"]), len(stored["error_message"])) == (50, 1000)

    early = "SM" + "c" * 32
    assert (await post_signed(client, callback("failed", sid=early, **long))).status_code == 204
    kept = await db.fetchrow("SELECT error_code, error_message FROM early_status_callbacks")
    assert (len(kept["error_code"]), len(kept["error_message"])) == (50, 1000)
