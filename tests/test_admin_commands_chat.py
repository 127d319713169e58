"""Admin commands executed by `handle_admin_text`, inside a transaction as the webhook runs it.

Every command from the whitelisted number, every change audited with the admin's number; every
command from an unlisted number refused; wrong arguments and ledger refusals change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.credit import Direction, PaymentMode
from bot.orders import OrderLine
from db.ledger import adjust, place_order
from db.onboarding import NewProduct, NewRetailer, create_product, create_retailer
from handlers.admin_chat import NotAnAdmin, handle_admin_text
from tests.conftest import ADMIN_PHONE

RETAILER_PHONE = "+919812345678"
STRANGER = "+919811111111"


@dataclass(frozen=True)
class World:
    retailer_id: int
    order_id: int
    debit_id: int


@pytest.fixture
async def world(deps: Deps, db: asyncpg.Pool, clock: FixedClock) -> World:
    """A retailer (limit ₹1,00,000) with one credit order of ₹9,000 placed 40 days ago."""
    now = clock.now()
    async with db.acquire() as conn:
        rid = await create_retailer(
            conn,
            NewRetailer(
                phone=RETAILER_PHONE, name="Ramesh Kumar", shop_name="Ramesh Store",
                credit_limit=100_000_00,
            ),
            performed_by="test",
            now=now - timedelta(days=60),
        )  # fmt: skip
        pid = await create_product(
            conn, NewProduct(sku="ATTA", name="Atta 10kg", category="Staples", price=450_00),
            now=now,
        )  # fmt: skip
        placed = await place_order(
            conn, retailer_id=rid, lines=[OrderLine(pid, 20)], mode=PaymentMode.CREDIT,
            now=now - timedelta(days=40), tz=deps.settings.tz, tolerance=100_00,
            performed_by=RETAILER_PHONE,
        )  # fmt: skip
    assert placed.order is not None and placed.order.transaction_id is not None
    return World(rid, placed.order.order_id, placed.order.transaction_id)


async def say(deps: Deps, text: str, phone: str = ADMIN_PHONE) -> str:
    """Send one admin text as the webhook does: inside a transaction that then commits."""
    async with deps.pool.acquire() as conn, conn.transaction():
        return await handle_admin_text(deps, conn, phone, text, deps.clock.now())


async def snapshot(db: asyncpg.Pool) -> tuple[object, ...]:
    """Everything an admin command could change."""
    return (
        tuple(await db.fetch("SELECT * FROM retailers ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM credit_accounts ORDER BY retailer_id")),
        tuple(await db.fetch("SELECT * FROM credit_transactions ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM orders ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM audit_log ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM outbox_messages ORDER BY id")),
    )


async def latest_audit(db: asyncpg.Pool) -> asyncpg.Record:
    record = await db.fetchrow("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1")
    assert record is not None
    return record


# --- changes: each through the ledger, audited with the admin's number -----------------------

CHANGES = [
    # (command with {rid}/{phone}/{order}, audit action, words in the reply)
    ("pause {rid} cheque bounced", "PAUSE", ["Credit paused", "cheque bounced"]),
    ("pause {phone} cheque bounced", "PAUSE", ["Credit paused", "Ramesh Kumar"]),
    ("paid {rid} 5000 UTR1", "PAYMENT", ["₹5,000", "UTR1", "₹9,000 → ₹4,000"]),
    ("paid 98123 45678 1000", "PAYMENT", ["₹1,000", "₹9,000 → ₹8,000"]),  # phone in groups
    ("adjust {rid} +300 correction", "ADJUSTMENT", ["+₹300", "₹9,000 → ₹9,300"]),
    ("adjust {rid} -250.50 return 2 bags torn", "ADJUSTMENT", ["-₹250.50", "→ ₹8,749.50"]),
    ("limit {rid} 150000", "LIMIT_CHANGE", ["limit ₹1,50,000"]),
    ("maxorder {rid} 20000", "GUARDRAILS_CHANGE", ["largest order ₹20,000"]),
    ("days {rid} 45", "GUARDRAILS_CHANGE", ["stops after 45 days"]),
    ("fail {order} truck broke down", "ORDER_FAILED", ["marked failed", "₹9,000 taken off"]),
]


@pytest.mark.parametrize("template, action, words", CHANGES)
async def test_change_from_admin_is_audited_with_admin_number(
    deps: Deps, db: asyncpg.Pool, world: World, template: str, action: str | None, words: list[str]
) -> None:
    text = template.format(rid=world.retailer_id, phone=RETAILER_PHONE, order=world.order_id)
    before = await snapshot(db)
    reply = await say(deps, text)
    for word in words:
        assert word in reply, reply
    if action is None:
        assert await snapshot(db) == before
        return
    entry = await latest_audit(db)
    assert (entry["action"], entry["performed_by"]) == (action, ADMIN_PHONE)
    assert entry["retailer_id"] == world.retailer_id


@pytest.mark.parametrize("template, action, words", CHANGES)
async def test_same_command_from_unlisted_number_does_nothing(
    deps: Deps, db: asyncpg.Pool, world: World, template: str, action: str | None, words: list[str]
) -> None:
    text = template.format(rid=world.retailer_id, phone=RETAILER_PHONE, order=world.order_id)
    before = await snapshot(db)
    with pytest.raises(NotAnAdmin):
        await say(deps, text, phone=STRANGER)
    assert await snapshot(db) == before


async def test_pause_then_unpause_queue_the_notices(
    deps: Deps, db: asyncpg.Pool, world: World
) -> None:
    reply = await say(deps, f"pause {world.retailer_id} cheque bounced")
    assert "pause notice is queued" in reply
    retailer = await db.fetchrow("SELECT * FROM retailers WHERE id = $1", world.retailer_id)
    assert (retailer["credit_status"], retailer["paused_by"]) == ("PAUSED", ADMIN_PHONE)

    # Still owing beyond 30 days: an override lets the unpause go ahead (issue 11).
    reply = await say(deps, f"unpause {RETAILER_PHONE} until 7d")
    assert "Credit active again" in reply and "₹91,000 available" in reply
    entry = await latest_audit(db)
    assert (entry["action"], entry["performed_by"]) == ("UNPAUSE", ADMIN_PHONE)
    kinds = [r["kind"] for r in await db.fetch("SELECT kind FROM outbox_messages ORDER BY id")]
    assert kinds == ["credit_paused", "credit_resumed"]
    to = {r["to_phone"] for r in await db.fetch("SELECT to_phone FROM outbox_messages")}
    assert to == {RETAILER_PHONE}


# --- reading commands -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, words",
    [
        ("help", ["Admin commands", "paid <retailer> <amount> [ref]", "payment_reminders"]),
        ("HELP", ["Admin commands"]),
        ("risk", ["Credit risk", "1–30 days late: ₹9,000 (1 retailer)", "Outstanding ₹9,000"]),
        ("atrisk", ["1 retailer at risk", "Ramesh Kumar", "overdue too long"]),
        ("profile {rid}", ["Ramesh Kumar", "Credit: ACTIVE", "Owes ₹9,000 of ₹1,00,000",
                           "Order #{order}", "25 days late"]),
        ("profile {phone}", ["Ramesh Kumar"]),
        ("profile 9812345678", ["Ramesh Kumar"]),
    ],
)  # fmt: skip
async def test_reading_commands(
    deps: Deps, db: asyncpg.Pool, world: World, text: str, words: list[str]
) -> None:
    text = text.format(rid=world.retailer_id, phone=RETAILER_PHONE)
    before = await snapshot(db)
    reply = await say(deps, text)
    for word in words:
        assert word.format(order=world.order_id) in reply, reply
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    "text", ["help", "risk", "atrisk", "profile 1", "run expire_pending_orders"]
)
async def test_reading_commands_from_unlisted_number_are_refused(
    deps: Deps, db: asyncpg.Pool, world: World, text: str
) -> None:
    with pytest.raises(NotAnAdmin):
        await say(deps, text, phone=STRANGER)


async def test_profile_shows_a_recorded_payment(deps: Deps, db: asyncpg.Pool, world: World) -> None:
    await say(deps, f"paid {world.retailer_id} 4000 CASH-1")
    reply = await say(deps, f"profile {world.retailer_id}")
    assert "Owes ₹5,000 of ₹1,00,000" in reply
    assert "Last payment: ₹4,000 on 15 Jan 2026 (CASH-1)" in reply


async def test_profile_names_an_open_adjustment_s_reason(
    deps: Deps, db: asyncpg.Pool, world: World
) -> None:
    async with db.acquire() as conn:
        await adjust(
            conn, world.retailer_id, direction=Direction.DEBIT, amount=150_000,
            reason="correction", notes="short-billed on #1", performed_by=ADMIN_PHONE,
            now=deps.clock.now(), tz=deps.settings.tz,
        )  # fmt: skip
    reply = await say(deps, f"profile {world.retailer_id}")
    assert "• Adjustment (correction: short-billed on #1; txn " in reply


async def test_run_job_replies_with_counts(deps: Deps, db: asyncpg.Pool, world: World) -> None:
    reply = await say(deps, "run expire_pending_orders 2026-01-15")
    assert reply.startswith("⚙️ expire_pending_orders as of 15 Jan 2026")
    run = await db.fetchrow("SELECT job, as_of FROM job_runs")
    assert tuple(run) == ("expire_pending_orders", deps.clock.now().date())


# --- wrong arguments and refusals: a one-line reply, nothing changed ---------------------------


@pytest.mark.parametrize(
    "text, reply_start",
    [
        ("pause {rid}", "Usage: pause <retailer> <reason> (an argument is missing)"),
        (
            "paid {rid} -500",
            "Usage: paid <retailer> <amount> [ref] [advance] (the amount must be positive",
        ),
        ("paid {rid} 12.345", "Usage: paid"),
        ("adjust {rid} 300 correction", "Usage: adjust"),
        ("adjust {rid} +300 gift", "Usage: adjust"),
        ("limit {rid} lots", "Usage: limit"),
        ("maxorder {rid} 0", "Usage: maxorder"),
        ("days {rid} 0", "Usage: days"),
        ("fail x broken", "Usage: fail"),
        ("run everything", "Usage: run <job> [YYYY-MM-DD] (unknown job)"),
        ("run expire_pending_orders 15/01/2026", "Usage: run"),
        ("profile ramesh", "Usage: profile"),
        ("hello", 'Unknown command "hello"'),
        ("pause 999 late", "No retailer 999."),
        ("paid +919800009999 100", "No retailer +919800009999."),
        ("unpause {rid}", "Not done: credit is already active"),
        ("paid {rid} 100000", "Not done: "),
        ("paid {rid} 10 UTR-DUP", None),  # see below: the reference is used once
        ("fail 424242 lost", "Not done: no order 424242"),
    ],
)
async def test_wrong_arguments_and_refusals_change_nothing(
    deps: Deps, db: asyncpg.Pool, world: World, text: str, reply_start: str | None
) -> None:
    text = text.format(rid=world.retailer_id)
    if reply_start is None:
        await say(deps, text)
        reply_start = "Not done: payment reference UTR-DUP was already recorded"
    before = await snapshot(db)
    reply = await say(deps, text)
    assert reply.startswith(reply_start), reply
    assert "\n" not in reply
    assert await snapshot(db) == before


async def test_refusal_inside_the_webhook_transaction_keeps_it_usable(
    deps: Deps, db: asyncpg.Pool, world: World
) -> None:
    # The webhook stores the inbound message and its reply in the same transaction as the
    # command; a refused command must roll back only itself.
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO inbound_messages (message_sid, phone, body) VALUES ('SM1', $1, 'x')",
            ADMIN_PHONE,
        )
        await handle_admin_text(
            deps, conn, ADMIN_PHONE, f"pause {world.retailer_id} late", deps.clock.now()
        )
        reply = await handle_admin_text(
            deps, conn, ADMIN_PHONE, f"pause {world.retailer_id} again", deps.clock.now()
        )
        assert reply.startswith("Not done: credit is already paused")
        await conn.execute(
            "UPDATE inbound_messages SET reply = $1 WHERE message_sid = 'SM1'", reply
        )
    assert await db.fetchval("SELECT reply FROM inbound_messages") == reply
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'PAUSE'") == 1
