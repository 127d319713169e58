"""`python -m bot chat --as +91...` / `--admin`: talk to the local bot from a terminal.

Each line you type is posted to the webhook exactly as Twilio would post it (form fields, a fresh
`SM...` MessageSid, `X-Twilio-Signature` from the auth token), and the TwiML reply is printed.
Messages the service queues for you in the outbox (reminders, pause notices, follow-ups: what the
worker "sends") are printed as they appear. Where the service is comes from `.data/run.json`,
written by `python -m bot run`, or from flags and the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import asyncpg
import httpx

from bot.cli.local import load_run_info
from bot.messages import format_when
from bot.phone import InvalidPhone, mask_phone, normalize_phone
from bot.settings import Settings
from bot.twilio_edge import compute_signature

WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
DEFAULT_TO = "whatsapp:+14155238886"
POLL_SECONDS = 1.0


class ChatError(Exception):
    """Something the person running the chat must fix; printed as one line."""


@dataclass(frozen=True)
class ChatConfig:
    base_url: str
    auth_token: str
    phone: str
    database_url: str | None
    account_sid: str
    to: str
    admin: bool
    tz: tzinfo = UTC  # BUSINESS_TZ: when a message held for quiet hours goes


def resolve_config(args: argparse.Namespace, settings: Settings) -> ChatConfig:
    """Flags first, then run.json, then the environment's settings."""
    info = load_run_info(Path(args.data_dir or settings.data_dir))
    base_url = (
        args.url
        or info.get("base_url")
        or settings.public_base_url
        or f"http://127.0.0.1:{settings.port}"
    ).rstrip("/")
    token = args.token or info.get("auth_token") or settings.twilio_auth_token
    if not token:
        raise ChatError(
            "no auth token to sign with: start the service with `python -m bot run`, "
            "or pass --token / set TWILIO_AUTH_TOKEN"
        )
    if args.admin:
        numbers = [n for n in str(info.get("admin_numbers") or "").split(",") if n.strip()]
        numbers = numbers or list(settings.admin_numbers)
        if not numbers:
            raise ChatError("no admin number configured (ADMIN_NUMBERS)")
        raw = numbers[0]
    else:
        raw = args.as_phone
    try:
        phone = normalize_phone(raw)
    except InvalidPhone:
        raise ChatError(f"not a phone number: {raw!r}") from None
    return ChatConfig(
        base_url=base_url,
        auth_token=token,
        phone=phone,
        database_url=args.database_url or info.get("database_url") or settings.database_url,
        account_sid=settings.twilio_account_sid or "AC" + "0" * 32,
        to=settings.twilio_whatsapp_from or DEFAULT_TO,
        admin=bool(args.admin),
        tz=settings.tz,
    )


def new_message_sid() -> str:
    return "SM" + secrets.token_hex(16)


class ChatClient:
    """Posts signed webhook requests as one WhatsApp number."""

    def __init__(self, config: ChatConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    def fields(self, text: str, sid: str) -> dict[str, str]:
        """The form Twilio posts for an inbound WhatsApp text."""
        c = self.config
        return {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": "Local chat",
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": c.phone.removeprefix("+"),
            "SmsStatus": "received",
            "Body": text,
            "To": c.to,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": c.account_sid,
            "From": f"whatsapp:{c.phone}",
            "ApiVersion": "2010-04-01",
        }

    async def send(self, text: str) -> list[str]:
        """Send one message; the bot's reply messages."""
        url = self.config.base_url + WEBHOOK_PATH
        fields = self.fields(text, new_message_sid())
        signature = compute_signature(self.config.auth_token, url, fields.items())
        try:
            response = await self.http.post(
                url, data=fields, headers={"X-Twilio-Signature": signature}
            )
        except httpx.TransportError as exc:
            raise ChatError(
                f"cannot reach the service at {self.config.base_url} ({type(exc).__name__}); "
                "is `python -m bot run` running?"
            ) from None
        if response.status_code != 200:
            raise ChatError(f"the webhook answered {response.status_code}: {response.text[:200]}")
        return parse_twiml(response.text)


def parse_twiml(xml: str) -> list[str]:
    """The bodies of the `<Message>` elements of a TwiML answer (our own local server's)."""
    root = ET.fromstring(xml)  # noqa: S314 - TwiML from the service this tool is pointed at
    return [m.text or "" for m in root.iter("Message")]


@dataclass(frozen=True)
class Queued:
    id: int
    to_phone: str
    kind: str
    body: str
    status: str
    created_at: datetime
    quiet_until: datetime | None = None


class OutboxWatcher:
    """Business-initiated messages queued after the chat started: for one phone, or all (admin)."""

    def __init__(self, conn: asyncpg.Connection, phone: str | None) -> None:
        self.conn = conn
        self.phone = phone
        self.last_id = 0

    async def start(self) -> None:
        self.last_id = await self.conn.fetchval("SELECT COALESCE(max(id), 0) FROM outbox_messages")

    async def poll(self) -> list[Queued]:
        rows = await self.conn.fetch(
            """SELECT id, to_phone, kind, body, status, created_at, quiet_until
               FROM outbox_messages
               WHERE id > $1 AND ($2::text IS NULL OR to_phone = $2) ORDER BY id""",
            self.last_id,
            self.phone,
        )
        if rows:
            self.last_id = rows[-1]["id"]
        return [Queued(**dict(r)) for r in rows]


def format_reply(texts: list[str]) -> str:
    return "\n".join("bot> " + line for t in texts for line in t.splitlines() or [""])


def format_queued(q: Queued, *, show_recipient: bool, tz: tzinfo = UTC) -> str:
    to = f" to {mask_phone(q.to_phone)}" if show_recipient else ""
    state = q.status.lower()
    if q.quiet_until is not None and q.status == "QUEUED":
        state += f", held for quiet hours: goes {format_when(q.quiet_until.astimezone(tz))}"
    head = f"📣 [{q.kind}{to}, {state}]"
    return head + "\n" + "\n".join("   | " + line for line in q.body.splitlines())


async def converse(
    client: ChatClient,
    lines: AsyncIterator[str],
    out: Callable[[str], None],
    watcher: OutboxWatcher | None = None,
    *,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Send each line, print each reply; meanwhile print what the outbox queues."""
    stop = asyncio.Event()

    async def watch() -> None:
        assert watcher is not None
        while not stop.is_set():
            for q in await watcher.poll():
                out(format_queued(q, show_recipient=client.config.admin, tz=client.config.tz))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)

    task = asyncio.create_task(watch()) if watcher else None
    try:
        async for line in lines:
            text = line.rstrip("\n")
            if text.strip() in ("/quit", "/exit"):
                break
            out(format_reply(await client.send(text)))
    finally:
        stop.set()
        if task:
            await task
    if watcher:  # what the last message caused
        for q in await watcher.poll():
            out(format_queued(q, show_recipient=client.config.admin, tz=client.config.tz))


async def _stdin_lines(prompt: str) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while True:
        print(prompt, end="", flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


async def _scripted(lines: list[str]) -> AsyncIterator[str]:
    for line in lines:
        print(f"you> {line}")
        yield line


def _print(text: str) -> None:
    print(text, flush=True)


async def run_chat(config: ChatConfig, say: list[str] | None = None) -> None:
    conn: asyncpg.Connection | None = None
    watcher: OutboxWatcher | None = None
    if config.database_url:
        try:
            conn = await asyncpg.connect(config.database_url, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            _print(f"(outbox not shown: cannot connect to the database: {type(exc).__name__})")
        else:
            watcher = OutboxWatcher(conn, None if config.admin else config.phone)
            await watcher.start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            client = ChatClient(config, http)
            lines = _scripted(say) if say else _stdin_lines("you> ")
            await converse(client, lines, _print, watcher)
    finally:
        if conn is not None:
            await conn.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--as", dest="as_phone", metavar="PHONE", help="chat as this retailer")
    who.add_argument("--admin", action="store_true", help="chat as the (first) admin number")
    parser.add_argument("--url", help="the service's public base URL (default: run.json)")
    parser.add_argument("--token", help="Twilio auth token to sign with (default: run.json)")
    parser.add_argument("--database-url", help="to show queued outbox messages (default: run.json)")
    parser.add_argument("--data-dir", help="where run.json is (default: DATA_DIR or .data)")
    parser.add_argument(
        "--say", action="append", metavar="TEXT", help="send these messages and exit (repeatable)"
    )


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = resolve_config(args, settings)
        who = f"admin {mask_phone(config.phone)}" if config.admin else mask_phone(config.phone)
        if not args.say:
            print(f"Chatting as {who} with {config.base_url}. Type /quit or Ctrl+D to leave.")
        asyncio.run(run_chat(config, args.say))
    except ChatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print()
    return 0
