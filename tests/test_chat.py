"""`python -m bot chat`: configuration, signed posts to the webhook, and outbox messages shown."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from bot.cli.chat import (
    ChatClient,
    ChatConfig,
    ChatError,
    OutboxWatcher,
    converse,
    parse_twiml,
    resolve_config,
)
from bot.clock import FixedClock
from bot.messages import Reply
from bot.settings import Settings
from db.outbox import enqueue
from db.seed import seed_demo
from tests.conftest import ACCOUNT_SID, ADMIN_PHONE, AUTH_TOKEN, PUBLIC_BASE_URL, WHATSAPP_FROM

RAMESH = "+919800000001"


def chat_args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "as_phone": None,
        "admin": False,
        "url": None,
        "token": None,
        "database_url": None,
        "data_dir": None,
        "say": None,
    }
    base.update(kw)
    return argparse.Namespace(**base)


def test_config_comes_from_run_json(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(
        json.dumps(
            {
                "base_url": "http://127.0.0.1:8123/",
                "database_url": "postgresql://x/y",
                "redis_url": "redis://127.0.0.1:6379/0",
                "auth_token": "local-token",
                "admin_numbers": "+919900000000,+919900000001",
                "admin_api_token": "t",
            }
        )
    )
    settings = Settings(data_dir=str(tmp_path))
    config = resolve_config(chat_args(as_phone="98000 00001"), settings)
    assert config.base_url == "http://127.0.0.1:8123"
    assert config.auth_token == "local-token"
    assert config.phone == RAMESH
    assert config.database_url == "postgresql://x/y"
    admin = resolve_config(chat_args(admin=True), settings)
    assert admin.phone == "+919900000000" and admin.admin
    # Flags win over run.json.
    flagged = resolve_config(chat_args(as_phone=RAMESH, url="http://h:1", token="f"), settings)
    assert (flagged.base_url, flagged.auth_token) == ("http://h:1", "f")


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    bare = Settings(data_dir=str(tmp_path))
    with pytest.raises(ChatError, match="no auth token"):
        resolve_config(chat_args(as_phone=RAMESH), bare)
    with pytest.raises(ChatError, match="not a phone number"):
        resolve_config(chat_args(as_phone="hello", token="t"), bare)
    with pytest.raises(ChatError, match="no admin number"):
        resolve_config(chat_args(admin=True, token="t"), bare)


def test_cli_help_and_bad_phone() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--help"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0 and "--as PHONE" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--as", "nope", "--token", "t"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: not a phone number")


async def test_unreachable_service_is_a_clear_error() -> None:
    config = _config(RAMESH, base_url="http://127.0.0.1:1")
    async with httpx.AsyncClient() as http:
        with pytest.raises(ChatError, match="cannot reach the service"):
            await ChatClient(config, http).send("hi")


def test_parse_twiml() -> None:
    xml = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>a &amp; b</Message><Message>c</Message></Response>'
    assert parse_twiml(xml) == ["a & b", "c"]


def _config(phone: str, *, admin: bool = False, base_url: str = PUBLIC_BASE_URL) -> ChatConfig:
    return ChatConfig(
        base_url=base_url,
        auth_token=AUTH_TOKEN,
        phone=phone,
        database_url=None,
        account_sid=ACCOUNT_SID,
        to=WHATSAPP_FROM,
        admin=admin,
    )


@pytest.fixture
async def shop(db: asyncpg.Pool, clock: FixedClock) -> asyncpg.Pool:
    async with db.acquire() as conn:
        await seed_demo(conn, now=clock.now())
    return db


async def _lines(*texts: str) -> AsyncIterator[str]:
    for t in texts:
        yield t + "\n"


async def test_chat_as_retailer_orders_and_sees_queued_messages(
    client: httpx.AsyncClient, shop: asyncpg.Pool, clock: FixedClock
) -> None:
    out: list[str] = []
    async with shop.acquire() as conn:
        # Something queued before the chat started is not shown.
        await enqueue(
            conn,
            kind="test_message",
            reply=Reply("test_message", {"message": "old news"}),
            to_phone=RAMESH,
            language="en",
            dedupe_key="old",
            now=clock.now(),
        )
        watcher = OutboxWatcher(conn, RAMESH)
        await watcher.start()
        chat = ChatClient(_config(RAMESH), client)
        await converse(chat, _lines("hi", "atta 2", "checkout", "cod", "haan"), out.append, watcher)
        # What the worker queues for this number shows up.
        await enqueue(
            conn,
            kind="test_message",
            reply=Reply("test_message", {"message": "Your order is on its way"}),
            to_phone=RAMESH,
            language="en",
            dedupe_key="new",
            now=clock.now(),
        )
        queued = await watcher.poll()
    transcript = "\n".join(out)
    assert "bot> 🙏 Namaste Ramesh Kumar" in transcript
    assert "is placed" in transcript
    assert "old news" not in transcript
    assert [q.kind for q in queued] == ["test_message"]
    assert "Your order is on its way" in queued[0].body
    inbound = await shop.fetch(
        "SELECT message_sid, payload FROM inbound_messages ORDER BY received_at"
    )
    assert len(inbound) == 5
    for row in inbound:
        assert row["message_sid"].startswith("SM") and len(row["message_sid"]) == 34
        assert row["payload"]["From"] == f"whatsapp:{RAMESH}"
        assert row["payload"]["AccountSid"] == ACCOUNT_SID


async def test_chat_as_admin_shows_what_the_command_queued(
    client: httpx.AsyncClient, shop: asyncpg.Pool
) -> None:
    out: list[str] = []
    async with shop.acquire() as conn:
        watcher = OutboxWatcher(conn, None)
        await watcher.start()
        chat = ChatClient(_config(ADMIN_PHONE, admin=True), client)
        await converse(
            chat, _lines("pause 1 cheque bounced", "/quit", "never sent"), out.append, watcher
        )
    transcript = "\n".join(out)
    assert "bot> " in transcript
    assert "📣 [credit_paused to +91*******001" in transcript
    assert await shop.fetchval("SELECT credit_status FROM retailers WHERE id = 1") == "PAUSED"
    assert await shop.fetchval("SELECT count(*) FROM inbound_messages") == 1


def test_a_message_held_for_quiet_hours_says_when_it_goes() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.cli.chat import Queued, format_queued

    held = Queued(
        id=1, to_phone=RAMESH, kind="payment_reminder", body="Total due: ₹1,250",
        status="QUEUED", created_at=datetime(2026, 11, 29, 18, 30, tzinfo=UTC),
        quiet_until=datetime(2026, 11, 30, 2, 30, tzinfo=UTC),
    )  # fmt: skip
    shown = format_queued(held, show_recipient=False, tz=ZoneInfo("Asia/Kolkata"))
    assert shown.splitlines()[0] == (
        "📣 [payment_reminder, queued, held for quiet hours: goes 30 Nov, 8 am]"
    )
