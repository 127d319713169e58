"""Admin commands end to end: signed WhatsApp webhooks from the whitelisted number and others."""

from __future__ import annotations

import secrets
from xml.etree import ElementTree

import asyncpg
import httpx
import pytest

from bot.cli.deps import Deps
from bot.twilio_edge import compute_signature
from tests.conftest import ACCOUNT_SID, ADMIN_PHONE, AUTH_TOKEN, PUBLIC_BASE_URL, WHATSAPP_FROM
from tests.test_admin_commands_chat import CHANGES, RETAILER_PHONE, World, world  # noqa: F401

PATH = "/webhooks/twilio/whatsapp"
UNREGISTERED = "+919811111111"
# Phrases only admin replies contain.
ADMIN_MARKERS = (
    "Credit paused for", "Payment of", "Adjustment for", "largest order", "marked failed",
    "Usage:", "Admin commands", "Credit risk", "at risk", "Owes", "Unknown command", " as of ",
    "No retailer", "Not done",
)  # fmt: skip


async def send(client: httpx.AsyncClient, phone: str, text: str) -> tuple[int, str]:
    """Post one message as Twilio would; return the status and the reply text."""
    fields = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{phone}",
        "To": WHATSAPP_FROM,
        "Body": text,
        "NumMedia": "0",
        "ProfileName": "Tester",
        "WaId": phone.removeprefix("+"),
    }
    signature = compute_signature(AUTH_TOKEN, PUBLIC_BASE_URL + PATH, fields.items())
    response = await client.post(PATH, data=fields, headers={"X-Twilio-Signature": signature})
    if response.status_code != 200:
        return response.status_code, response.text
    root = ElementTree.fromstring(response.text)
    return 200, "\n".join(m.text or "" for m in root.iter("Message"))


async def credit_state(db: asyncpg.Pool) -> tuple[object, ...]:
    """What an admin command could change (not last_inbound_at or conversations)."""
    return (
        tuple(
            await db.fetch(
                """SELECT id, credit_status, credit_paused_at, credit_pause_reason, paused_by
                   FROM retailers ORDER BY id"""
            )
        ),
        tuple(await db.fetch("SELECT * FROM credit_accounts ORDER BY retailer_id")),
        tuple(await db.fetch("SELECT * FROM credit_transactions ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM orders ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM audit_log ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM outbox_messages ORDER BY id")),
    )


@pytest.mark.parametrize("template, action, words", CHANGES)
async def test_change_from_admin_number(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    world: World,  # noqa: F811
    template: str,
    action: str | None,
    words: list[str],
) -> None:
    text = template.format(rid=world.retailer_id, phone=RETAILER_PHONE, order=world.order_id)
    status, reply = await send(client, ADMIN_PHONE, text)
    assert status == 200
    for word in words:
        assert word in reply, reply
    entry = await db.fetchrow("SELECT action, performed_by FROM audit_log ORDER BY id DESC LIMIT 1")
    assert tuple(entry) == (action, ADMIN_PHONE)


@pytest.mark.parametrize("phone", [RETAILER_PHONE, UNREGISTERED])
@pytest.mark.parametrize("template, action, words", CHANGES)
async def test_same_text_from_other_numbers_does_nothing_admin_like(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    world: World,  # noqa: F811
    template: str,
    action: str | None,
    words: list[str],
    phone: str,
) -> None:
    text = template.format(rid=world.retailer_id, phone=RETAILER_PHONE, order=world.order_id)
    before = await credit_state(db)
    status, reply = await send(client, phone, text)
    assert status == 200
    assert await credit_state(db) == before
    assert not [m for m in ADMIN_MARKERS if m in reply], reply


@pytest.mark.parametrize(
    "text, words",
    [
        ("help", ["Admin commands"]),
        ("risk", ["Credit risk", "Outstanding ₹9,000"]),
        ("atrisk", ["at risk"]),
        ("profile {rid}", ["Ramesh Kumar", "Owes ₹9,000"]),
        ("run expire_pending_orders", ["expire_pending_orders as of 15 Jan 2026"]),
        ("paid {rid} -5", ["Usage: paid"]),
        ("bonjour", ['Unknown command "bonjour"']),
    ],
)
async def test_reading_commands_from_admin_and_not_from_others(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    world: World,  # noqa: F811
    text: str,
    words: list[str],
) -> None:
    text = text.format(rid=world.retailer_id)
    status, reply = await send(client, ADMIN_PHONE, text)
    assert status == 200
    for word in words:
        assert word in reply, reply
    for phone in (RETAILER_PHONE, UNREGISTERED):
        status, reply = await send(client, phone, text)
        assert status == 200
        assert not [m for m in ADMIN_MARKERS if m in reply], reply


async def test_admin_pause_notice_is_delivered_by_the_sender(
    client: httpx.AsyncClient,
    deps: Deps,
    db: asyncpg.Pool,
    world: World,  # noqa: F811
) -> None:
    import dataclasses

    from jobs.outbox_sender import deliver_due

    status, reply = await send(client, ADMIN_PHONE, f"pause {RETAILER_PHONE} cheque bounced")
    assert status == 200 and "Credit paused" in reply
    local = dataclasses.replace(
        deps, settings=deps.settings.model_copy(update={"twilio_account_sid": None})
    )
    assert (await deliver_due(local))["sent"] == 1
    sent = await db.fetchrow("SELECT kind, to_phone, status, body FROM outbox_messages")
    assert (sent["kind"], sent["to_phone"], sent["status"]) == (
        "credit_paused", RETAILER_PHONE, "SENT",
    )  # fmt: skip
    assert "cheque bounced" in sent["body"]


@pytest.mark.parametrize(
    "text, words",
    [
        ("profile ²", ["Usage:"]),
        ("days 1 ²", ["Usage:"]),
        ("fail ² wrong goods", ["Usage:"]),
        ("paid 1 10\x00", ["Payment of"]),  # the NUL is dropped, the rest is read as usual
        ("run payment_reminders 2030-01-01", ["Not done", "in the future", "INVALID_DATE"]),
        ("run regenerate_insights 2020-01-01", ["Not done", "31 days back"]),
        ("run auto_pause 2026-01-10", ["Not done", "runs as of today"]),
        ("run payment_reminders 2026-01-14", ["Not done", "runs as of today"]),
    ],
)
async def test_odd_admin_input_gets_a_clear_line_and_changes_nothing_it_should_not(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    world: World,  # noqa: F811
    text: str,
    words: list[str],
) -> None:
    before = await db.fetchval("SELECT count(*) FROM job_runs")
    status, reply = await send(client, ADMIN_PHONE, text)
    assert status == 200
    for word in words:
        assert word in reply, reply
    assert await db.fetchval("SELECT count(*) FROM job_runs") == before
