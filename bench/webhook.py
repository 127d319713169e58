"""Benchmark: the WhatsApp webhook under load, next to the same server's /health as the ceiling.

    python bench/webhook.py                      # own database + server, then cleaned up
    python bench/webhook.py --url http://127.0.0.1:8000 --token "$(cat .data/local_auth_token)"

By default it creates a throwaway database on BENCH_DATABASE_URL (default the machine's
PostgreSQL), applies the migrations, loads the demo catalogue and one retailer per virtual user,
starts `python -m bot web` on a free port (one uvicorn process, as in production) and drops the
database at the end. With `--url` it drives a running service instead (its retailers must exist:
by default the demo ones from `python -m bot run`).

Each virtual user is one retailer going round a realistic checkout: greeting, a category page,
items by number and by name, cart, checkout, payment (credit or COD), confirm, which places an
order. Every request is signed as Twilio signs it. Requests go over keep-alive connections
through a minimal HTTP/1.1 client, so the load generator's own cost stays small next to the
server's on a 2-core machine. It prints requests/s, p50 and p99 per concurrency level.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import asyncpg
from benchlib import (
    Figures,
    create_database,
    database_name,
    drop_database,
    pct,
    rss_mb,
    server_url,
    web_server,
)

from bot.twilio_edge import compute_signature
from db.migrate import migrate
from db.seed import PRODUCTS

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
PATH = "/webhooks/twilio/whatsapp"
LEVELS = (1, 16, 64)
# A whole checkout: add items, checkout, credit or COD, confirm (places an order).
SCRIPT = ("hi", "5", "1 x 2", "atta 2", "salt 5", "cart", "checkout", "{pay}", "confirm")
# Messages that read and answer but place nothing (a page of the menu, the cart, help, balance).
READ_SCRIPT = ("menu", "5", "cart", "help", "balance", "hi")
MIXES = {"read-only": READ_SCRIPT, "checkout": SCRIPT}
TARGET_P99_MS = 50.0
TARGET_LEVEL = 16


class Connection:
    """One keep-alive HTTP/1.1 connection: just enough client for a benchmark."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


def signed_form(base_url: str, token: str, phone: str, text: str) -> tuple[bytes, dict[str, str]]:
    sid = "SM" + secrets.token_hex(16)
    fields = {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Bench",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": phone.removeprefix("+"),
        "SmsStatus": "received",
        "Body": text,
        "To": "whatsapp:+14155238886",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{phone}",
        "ApiVersion": "2010-04-01",
    }
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": compute_signature(token, base_url + PATH, fields.items()),
    }
    return urlencode(fields).encode(), headers


def messages(phone: str, user: int, script: tuple[str, ...] = SCRIPT) -> Iterator[str]:
    """One retailer's endless round of `script`; checkouts alternately on credit and cash."""
    round_no = 0
    while True:
        pay = "credit" if (round_no + user) % 2 == 0 else "cod"
        for text in script:
            yield text.format(pay=pay)
        round_no += 1


async def drive(
    host: str,
    port: int,
    concurrency: int,
    total: int,
    make: Callable[[int], tuple[str, bytes, dict[str, str], str]],
    by_label: dict[str, list[float]] | None = None,
) -> tuple[float, list[float], int]:
    """`concurrency` users each sending one request at a time until `total` were sent."""
    latencies: list[float] = []
    errors = 0
    sent = 0

    async def user(i: int) -> None:
        nonlocal sent, errors
        conn = Connection(host, port)
        try:
            while sent < total:
                sent += 1
                path, body, headers, label = make(i)
                started = time.perf_counter()
                status = await conn.request("POST" if body else "GET", path, body, headers)
                latencies.append(took := time.perf_counter() - started)
                if by_label is not None:
                    by_label.setdefault(label, []).append(took)
                if status != 200:
                    errors += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(user(i) for i in range(concurrency)))
    return time.perf_counter() - started, latencies, errors


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc), in seconds."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by the server process and by its database's backends (own-server mode only)."""

    def __init__(self, server_pid: int, database_url: str, database: str) -> None:
        self.server_pid = server_pid
        self.database_url = database_url
        self.database = database

    async def sample(self) -> tuple[float, float]:
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                self.database,
            )
        finally:
            await conn.close()
        return cpu_seconds([self.server_pid]), cpu_seconds(r["pid"] for r in rows)


async def bench(
    base_url: str,
    token: str,
    phones: list[str],
    count: int,
    levels: tuple[int, ...] = LEVELS,
    meter: CpuMeter | None = None,
    by_message: bool = False,
    mixes: tuple[str, ...] = tuple(MIXES),
    figures: Figures | None = None,
) -> None:
    """Each mix of messages at each level, then /health at that level; each mix has its own
    retailers (`phones` holds max(levels) per mix), so a reader never lands in a checkout."""
    split = urlsplit(base_url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    users = max(levels)
    makers: dict[str, Callable[[int], tuple[str, bytes, dict[str, str], str]]] = {}
    for m, mix in enumerate(mixes):
        own = [phones[(m * users + i) % len(phones)] for i in range(users)]
        scripts = {i: messages(own[i], i, MIXES[mix]) for i in range(users)}

        def webhook(
            i: int, own: list[str] = own, scripts: dict[int, Iterator[str]] = scripts
        ) -> tuple[str, bytes, dict[str, str], str]:
            text = next(scripts[i])
            body, headers = signed_form(base_url, token, own[i], text)
            return PATH, body, headers, text

        makers[f"webhook, {mix}"] = webhook

    def health(i: int) -> tuple[str, bytes, dict[str, str], str]:
        return "/health", b"", {}, "health"

    # Warm up at the highest level, one round per user: every pool connection opened (with its
    # type introspection), every retailer's conversation row made, templates compiled. Otherwise
    # the first level above the warm-up's pays for opening connections, a cost of start-up.
    for mix, make in zip(mixes, makers.values(), strict=True):
        await drive(host, port, users, users * len(MIXES[mix]), make)
    cpu_head = f"{'app cpu':>9}{'db cpu':>8}" if meter else ""
    print(
        f"{'target':<22}{'in flight':>10}{'requests':>9}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}"
        + cpu_head
    )
    by_label: dict[str, list[float]] = {}
    for level in levels:
        for name, make in (*makers.items(), ("/health (ceiling)", health)):
            before = await meter.sample() if meter else (0.0, 0.0)
            elapsed, lat, errors = await drive(host, port, level, count, make, by_label)
            cpu = ""
            if meter:
                # Milliseconds of CPU per request: the web process, and its PostgreSQL backends.
                after = await meter.sample()
                app, dbs = ((a - b) * 1000 / len(lat) for a, b in zip(after, before, strict=True))
                cpu = f"{app:>9.2f}{dbs:>8.2f}"
            note = f"  {errors} errors" if errors else ""
            rate, p50, p99 = len(lat) / elapsed, pct(lat, 50), pct(lat, 99)
            print(
                f"{name:<22}{level:>10}{len(lat):>9}{rate:>7.0f}{p50:>8.1f}{p99:>8.1f}{cpu}{note}",
                flush=True,
            )
            if figures is not None:
                figure = f"{rate:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                if errors:
                    figure += f", {errors} non-200"
                gated = level == TARGET_LEVEL and name.startswith("webhook")
                figures.add(
                    f"{name}, {level} in flight ({len(lat):,} requests)",
                    figure,
                    f"p99 < {TARGET_P99_MS:.0f} ms, no errors" if gated else "",
                    (p99 < TARGET_P99_MS and not errors) if gated else None,
                )
    if by_message:
        print("\nby message, all levels together:")
        for label, lat in sorted(by_label.items(), key=lambda kv: -pct(kv[1], 50)):
            print(f"  {label:<12}{len(lat):>6}{pct(lat, 50):>8.1f}{pct(lat, 99):>8.1f}")


async def prepare_database(name: str, users: int) -> tuple[str, list[str]]:
    url = await create_database(name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await conn.executemany(
            "INSERT INTO products (sku, name, category, price, unit) VALUES ($1, $2, $3, $4, $5)",
            PRODUCTS,
        )
        phones = [f"+9170{i:08d}" for i in range(1, users + 1)]
        ids = await conn.fetch(
            """INSERT INTO retailers (phone, name, shop_name)
               SELECT p, 'Bench ' || p, 'Shop ' || p FROM unnest($1::text[]) AS p RETURNING id""",
            phones,
        )
        # Limits far above what the run orders, so credit is always offered.
        await conn.executemany(
            """INSERT INTO credit_accounts (retailer_id, credit_limit, max_order_value)
               VALUES ($1, 100000000000, 100000000000)""",
            [(r["id"],) for r in ids],
        )
    finally:
        await conn.close()
    return url, phones


async def wait_healthy(base_url: str, seconds: float = 30) -> None:
    split = urlsplit(base_url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn = Connection(split.hostname or "127.0.0.1", split.port or 80)
        try:
            if await conn.request("GET", "/health", b"", {}) == 200:
                return
        except OSError:
            pass
        finally:
            await conn.close()
        await asyncio.sleep(0.2)
    raise SystemExit(f"the service at {base_url} did not become healthy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="drive a running service instead of starting one")
    parser.add_argument("--token", help="its TWILIO_AUTH_TOKEN (with --url)")
    parser.add_argument(
        "--phones",
        default=",".join(f"+9198000000{i:02d}" for i in range(1, 7)),
        help="registered retailers to chat as (with --url)",
    )
    parser.add_argument("--count", type=int, default=2000, help="requests per level and target")
    parser.add_argument(
        "--mixes", default=",".join(MIXES), help=f"message mixes, of {', '.join(MIXES)}"
    )
    parser.add_argument("--json", help="also write the figures to this file (bench/run_all.py)")
    parser.add_argument("--by-message", action="store_true", help="p50/p99 per message too")
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="concurrency levels (comma-separated)"
    )
    args = parser.parse_args()
    levels = tuple(int(n) for n in args.levels.split(","))

    if args.url:
        if not args.token:
            parser.error("--token is required with --url")
        asyncio.run(wait_healthy(args.url))
        asyncio.run(
            bench(
                args.url.rstrip("/"),
                args.token,
                args.phones.split(","),
                args.count,
                levels,
                by_message=args.by_message,
            )
        )
        return 0

    figures = Figures("webhook", args.json, "python bench/webhook.py " + " ".join(sys.argv[1:]))
    mixes = tuple(m for m in args.mixes.split(",") if m)
    name = database_name()
    db_url, phones = asyncio.run(prepare_database(name, max(levels) * len(mixes)))
    token = secrets.token_hex(16)
    try:
        with web_server(db_url, TWILIO_AUTH_TOKEN=token) as (base_url, pid):
            idle = rss_mb(pid)
            print(f"server: one uvicorn process on {base_url}, {len(phones)} retailers, "
                  f"{idle:.0f} MB resident\n")  # fmt: skip
            meter = CpuMeter(pid, server_url(), name)
            asyncio.run(
                bench(
                    base_url, token, phones, args.count, levels, meter,
                    by_message=args.by_message, mixes=mixes, figures=figures,
                )
            )  # fmt: skip
            loaded = rss_mb(pid)
            print(f"\nweb process resident memory: {idle:.0f} MB idle, {loaded:.0f} MB after")
            figures.add("web process resident memory, idle / after the load",
                        f"{idle:.0f} MB / {loaded:.0f} MB")  # fmt: skip
    finally:
        asyncio.run(drop_database(name))
    figures.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
