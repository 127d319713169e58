"""Real processes for the scale-out and fault tests: `python -m bot web` and `python -m bot worker`
started with an environment of the test's own, a fake Twilio Messages API on 127.0.0.1 that can
fail as Twilio fails, and signed webhook posts over real HTTP.

The fake keeps every message it created (a POST it answered 201, and one it created before
failing: a 502 or a timeout after the fact), so a test counts deliveries per recipient and body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

from bot.twilio_edge import compute_signature

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_BASE_URL = "https://bot.example.test"
WEBHOOK = "/webhooks/twilio/whatsapp"
AUTH_TOKEN = "process-test-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "2" * 32
ADMIN_TOKEN = "process-test-admin-token"
FROM = "+14155238886"
# How long a process may take to start on a busy 2-core machine.
START_WITHIN = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- a fake Twilio that counts, and fails when told ---------------------------------------------

# What the fake does with a POST (`FakeTwilio.failures` is a queue of these; "ok" when empty).
OK = "ok"
REFUSE_500 = "500"  # a 500 before anything was created
CREATED_502 = "502 after creating"  # the message was created, then the answer was a 502
DROPPED = "created, connection dropped"  # created, then the connection closed without an answer
HANG = "created, no answer in time"  # created, then no answer before the sender's timeout
HANG_SECONDS = 11.0  # the sender's read timeout is 10 s (jobs.twilio_api.TWILIO_TIMEOUT)


class FakeTwilio:
    """Twilio's Messages API (create and list) on a local port. `delay`: how long each POST takes
    before the message is created (a send in flight, for a test to kill a sender in)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.created: list[dict[str, Any]] = []
        self.posts = 0
        self.failures: list[str] = []  # taken one per POST, first first
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API
            # Headers and body go out in two writes: without this, the body waits for the
            # client's delayed ACK of the headers (40 ms a message).
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake.lock:
                    fake.posts += 1
                    what = fake.failures.pop(0) if fake.failures else OK
                if what == REFUSE_500:
                    self._answer(500, {"code": 20500, "message": "Internal Server Error"})
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                message = fake.create(fields)
                if what == CREATED_502:
                    self._answer(502, {"code": 20500, "message": "Bad Gateway"})
                elif what == DROPPED:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif what == HANG:
                    time.sleep(HANG_SECONDS)
                    self.close_connection = True
                else:
                    self._answer(201, message)

            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                with fake.lock:
                    found = [
                        m
                        for m in reversed(fake.created)
                        if m["to"] == query.get("To") and m["from"] == query.get("From")
                    ]
                self._answer(200, {"messages": found, "next_page_uri": None})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def create(self, fields: dict[str, str]) -> dict[str, Any]:
        message = {
            "sid": "SM" + secrets.token_hex(16),
            "to": fields.get("To", ""),
            "from": fields.get("From", ""),
            "body": fields.get("Body", ""),
            "status": "queued",
            "direction": "outbound-api",
            "date_created": format_datetime(datetime.now(UTC), usegmt=True),
            "_monotonic": time.monotonic(),  # when, for the test (Twilio's own has no such field)
        }
        with self.lock:
            self.created.append(message)
        return message

    def bodies(self) -> Counter[str]:
        """Messages created, by body."""
        with self.lock:
            return Counter(m["body"] for m in self.created)

    def deliveries(self) -> Counter[tuple[str, str]]:
        """Messages created, by (To, Body)."""
        with self.lock:
            return Counter((m["to"], m["body"]) for m in self.created)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- processes ----------------------------------------------------------------------------------


def service_env(
    *, database_url: str, redis_url: str, queue: str, twilio: FakeTwilio | None = None
) -> dict[str, str]:
    """The environment both process types get (as a deployment gives both the same)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "RAZORPAY_", "TEST_", "DATABASE_", "REDIS_"))
    }
    for name in ("PAYMENT_PROVIDER", "WHATSAPP_TEMPLATES", "UPI_ID", "ADMIN_NUMBERS", "PORT"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        ARQ_QUEUE_NAME=queue,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        ADMIN_API_TOKEN=ADMIN_TOKEN,
        SEND_RATE_PER_SECOND="200",
        QUIET_HOURS="off",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        DATA_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / f"kirana-proc-{os.getpid()}"),
    )
    if twilio is not None:
        env.update(
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_WHATSAPP_FROM=FROM,
            TWILIO_API_URL=twilio.url,
        )
    return env


class Processes:
    """The web and worker processes of one test, each logging to a file; stopped at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append((name, proc))
        return proc

    async def web(self, name: str, env: dict[str, str]) -> str:
        """Start `python -m bot web` on a free port; its base URL once it answers."""
        port = free_port()
        proc = self._start(name, ["web", "--host", "127.0.0.1"], {**env, "PORT": str(port)})
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                try:
                    await http.get(
                        f"{url}/health"
                    )  # any answer: it serves (503 when Redis is down)
                    return url
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() - started > START_WITHIN:
                    pytest.fail(f"{name} did not start\n{self.tail()}")
                await asyncio.sleep(0.2)

    def worker(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return self._start(name, ["worker"], env)

    def log_of(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-4000:]
            for p in sorted(self.logs.glob("*.log"))
        )

    def stop_all(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_until(
    what: str, check: Callable[[], Awaitable[bool]], within: float, procs: Processes
) -> float:
    """Poll `check` until true; the seconds it took. Fails (with the processes' logs) after
    `within` seconds, so a test never hangs."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            pytest.fail(f"{what}: not within {within:.0f} s\n{procs.tail()}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


# --- signed webhooks ----------------------------------------------------------------------------


def new_sid() -> str:
    return "SM" + secrets.token_hex(16)


def webhook_form(phone: str, body: str, sid: str | None = None) -> dict[str, str]:
    sid = sid or new_sid()
    return {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Shopkeeper",
        "MessageType": "text",
        "WaId": phone.removeprefix("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": f"whatsapp:{FROM}",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{phone}",
        "ApiVersion": "2010-04-01",
    }


def signed_post(fields: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook as Twilio sends it, signed for PUBLIC_BASE_URL."""
    signature = compute_signature(AUTH_TOKEN, PUBLIC_BASE_URL + WEBHOOK, fields.items())
    return urlencode(fields).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }


async def send_webhook(
    http: httpx.AsyncClient, base_url: str, fields: dict[str, str]
) -> httpx.Response:
    body, headers = signed_post(fields)
    return await http.post(base_url + WEBHOOK, content=body, headers=headers)


class KeepAlive:
    """One keep-alive HTTP/1.1 connection, just enough client for many small posts: httpx
    costs the test process more CPU per request than the server spends on it, on a machine of
    two cores shared with the servers."""

    def __init__(self, base_url: str) -> None:
        parts = urlparse(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """(status, text). A connection the server closed while idle (uvicorn does after 5 s)
        is opened again and the request sent again: it was never read (and a webhook is
        idempotent by its MessageSid anyway)."""
        try:
            return await self._post(path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError):
            await self.close()
            return await self._post(path, body, headers)

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        content = await self.reader.readexactly(length)
        return int(status_line.split()[1]), content.decode()

    async def webhook(self, fields: dict[str, str]) -> tuple[int, str]:
        body, headers = signed_post(fields)
        return await self.post(WEBHOOK, body, headers)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None
