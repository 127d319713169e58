"""Scale-out as users run it: two `python -m bot web` processes and two `python -m bot worker`
processes on one PostgreSQL and one Redis (the session's), a fake Twilio on 127.0.0.1.

- The same signed webhook (one MessageSid) posted to both web processes at once, many times over,
  is handled once: one order, and every answer the same.
- 2,000 credit orders from 100 retailers, spread over both web processes, never take a retailer
  above its limit: each retailer's limit fits only some of its orders, and each confirmation is
  tapped twice, to both processes at once; afterwards the ledger agrees, exactly the orders that
  fit one after another were placed, and placed + refused = 2,000.
- Both workers together send each payment reminder once (and each sends some), the reminders
  job queued twice at once.

Times are printed (`pytest -m slow -s` shows them). Marked `slow`: `.ci/run` runs them.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from bot.settings import Settings
from db.seed import seed_demo
from tests.process_support import (
    FROM,
    FakeTwilio,
    KeepAlive,
    Processes,
    send_webhook,
    service_env,
    wait_until,
    webhook_form,
)
from tests.test_job_kills import add_debits, add_retailers, enqueue_job, today_done

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

RAMESH = "+919800000001"  # a demo retailer: ACTIVE, ₹1,00,000 limit, ₹40,050 owed


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def env(settings: Settings, queue_name: str, twilio: FakeTwilio) -> dict[str, str]:
    assert settings.database_url and settings.redis_url
    return service_env(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        queue=f"{queue_name}:{secrets.token_hex(3)}",  # nothing another test queued runs here
        twilio=twilio,
    )


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
async def two_webs(
    db: asyncpg.Pool, env: dict[str, str], procs: Processes
) -> AsyncIterator[list[str]]:
    urls = await asyncio.gather(procs.web("web1", env), procs.web("web2", env))
    yield list(urls)


def texts(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.text


# --- one MessageSid at both web processes at once -----------------------------------------------


async def test_the_same_message_at_both_web_processes_at_once_is_handled_once(
    db: asyncpg.Pool, two_webs: list[str]
) -> None:
    """A checkout to the end, each message delivered 8 times at once (4 to each process, as
    Twilio retries and a load balancer spreads them), three times over: one order per checkout,
    and the 8 answers to a message are one answer."""
    async with db.acquire() as conn:
        await seed_demo(conn)
    script = ["hi", "atta 2", "checkout", "1", "haan"]
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(3):
            for body in script:
                fields = webhook_form(RAMESH, body)
                answers = await asyncio.gather(
                    *(send_webhook(http, two_webs[i % 2], fields) for i in range(8))
                )
                assert len({texts(a) for a in answers}) == 1, [a.text for a in answers]
            assert "is placed" in answers[0].text
    took = time.monotonic() - started
    orders = await db.fetchval("SELECT count(*) FROM orders WHERE pending_order_id IS NOT NULL")
    assert orders == 3
    assert await db.fetchval("SELECT count(*) FROM inbound_messages") == 3 * len(script)
    # The ledger holds three debits for them, once each.
    debits = await db.fetch(
        "SELECT order_id, count(*) AS n FROM credit_transactions "
        "WHERE order_id IS NOT NULL AND type = 'DEBIT' AND created_at > now() - interval '1 hour' "
        "GROUP BY order_id"
    )
    assert len(debits) == 3 and {d["n"] for d in debits} == {1}
    print(f"\n{3 * len(script)} messages, each 8 times at once over 2 web processes: {took:.1f} s")


# --- 2,000 credit orders over both web processes ------------------------------------------------

RETAILERS = 100
ORDERS_EACH = 20
PRICE = 100_00  # ₹100 a pack
LIMIT = 15_000_00  # ₹15,000: about 11 of a retailer's 20 orders of ₹500 - ₹2,500 fit


async def add_shop(db: asyncpg.Pool) -> list[str]:
    await db.execute(
        """INSERT INTO products (sku, name, category, price, unit)
           VALUES ('ZORBO-1', 'Zorbo Biscuits 1kg', 'Snacks', $1, 'pack')""",
        PRICE,
    )
    phones = [f"+91984{i:07d}" for i in range(RETAILERS)]
    await db.executemany(
        "INSERT INTO retailers (phone, name, shop_name) VALUES ($1, $2, $3)",
        [(p, f"Retailer {i}", f"Shop {i}") for i, p in enumerate(phones)],
    )
    await db.execute(
        "INSERT INTO credit_accounts (retailer_id, credit_limit) SELECT id, $1 FROM retailers",
        LIMIT,
    )
    return phones


async def order_all(urls: list[str], phone: str, quantities: list[int]) -> tuple[int, int]:
    """One retailer's orders, one after another, each message to either web process; (placed,
    refused) as the retailer was told."""
    pick = random.Random(phone)
    connections = [KeepAlive(url) for url in urls]

    async def say(body: str) -> str:
        status, text = await pick.choice(connections).webhook(webhook_form(phone, body))
        assert status == 200, text
        return text

    placed = refused = 0
    try:
        await say("hi")
        for quantity in quantities:
            await say(f"zorbo {quantity}")
            await say("checkout")
            if "more than your available credit" in await say("1"):
                refused += 1
                await say("cancel")
                continue
            # The confirmation tapped twice: "haan" to both web processes at once (two
            # MessageSids): one of them places the order.
            both = await asyncio.gather(
                *(c.webhook(webhook_form(phone, "haan")) for c in connections)
            )
            assert [status for status, _ in both] == [200, 200], both
            assert sum("is placed" in text for _, text in both) == 1, both
            placed += 1
    finally:
        for c in connections:
            await c.close()
    return placed, refused


def expected_placed(quantities: list[int]) -> int:
    """What one retailer's orders come to, one after another, against its limit."""
    owed = placed = 0
    for quantity in quantities:
        if owed + quantity * PRICE <= LIMIT:
            owed += quantity * PRICE
            placed += 1
    return placed


async def test_two_thousand_credit_orders_over_two_web_processes_stay_within_each_limit(
    db: asyncpg.Pool, two_webs: list[str]
) -> None:
    phones = await add_shop(db)
    plan = random.Random(17)
    quantities = {p: [plan.randint(5, 25) for _ in range(ORDERS_EACH)] for p in phones}
    started = time.monotonic()
    told = await asyncio.gather(*(order_all(two_webs, p, quantities[p]) for p in phones))
    took = time.monotonic() - started
    placed = sum(p for p, _ in told)
    refused = sum(r for _, r in told)
    assert placed + refused == RETAILERS * ORDERS_EACH
    assert refused > 0 and placed > 0

    accounts = await db.fetch(
        """SELECT r.phone, a.credit_limit, a.outstanding,
                  (SELECT coalesce(sum(o.total), 0) FROM orders o
                    WHERE o.retailer_id = r.id AND o.payment_mode = 'CREDIT') AS ordered,
                  (SELECT count(*) FROM orders o WHERE o.retailer_id = r.id) AS orders,
                  (SELECT coalesce(sum(t.amount), 0) FROM credit_transactions t
                    WHERE t.retailer_id = r.id AND t.type = 'DEBIT') AS debited
           FROM retailers r JOIN credit_accounts a ON a.retailer_id = r.id"""
    )
    assert len(accounts) == RETAILERS
    for a, (said_placed, _) in zip(
        sorted(accounts, key=lambda a: phones.index(a["phone"])), told, strict=True
    ):
        assert a["outstanding"] <= a["credit_limit"], a
        assert a["outstanding"] == a["ordered"] == a["debited"], a
        assert a["orders"] == said_placed == expected_placed(quantities[a["phone"]]), a
    assert await db.fetchval("SELECT count(*) FROM orders") == placed
    requests = RETAILERS + 4 * RETAILERS * ORDERS_EACH + placed
    print(
        f"\n{RETAILERS * ORDERS_EACH} credit orders ({placed} placed, {refused} refused at the "
        f"limit) in {requests} webhooks over 2 web processes: {took:.1f} s "
        f"({requests / took:.0f} requests/s); no account above its limit"
    )


# --- two workers send each reminder once --------------------------------------------------------

REMINDED = 300


async def test_two_workers_together_send_each_reminder_once(
    db: asyncpg.Pool,
    settings: Settings,
    env: dict[str, str],
    procs: Processes,
    twilio: FakeTwilio,
) -> None:
    """300 retailers with a debit due today: the 10:00 reminders job queued twice at once (the
    cron's slot and a person's run), two workers running; each reminder is created once at
    Twilio, and both workers' senders took part."""
    await add_retailers(db, REMINDED, inbound=datetime.now(UTC))  # in the window: free-form
    await add_debits(db, days_ago=15)  # due today
    await today_done(db, settings)
    procs.worker("worker1", env)
    procs.worker("worker2", env)

    queue: Any = SimpleNamespace(env=env)  # what enqueue_job reads of the kill tests' Workers
    await enqueue_job(db, settings, queue, "payment_reminders")
    await enqueue_job(db, settings, queue, "payment_reminders")

    async def all_sent() -> bool:
        left = await db.fetchval(
            """SELECT count(*) FROM outbox_messages
               WHERE kind = 'payment_reminder' AND status NOT IN ('ACCEPTED', 'SENT')"""
        )
        queued = await db.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE kind = 'payment_reminder'"
        )
        return queued == REMINDED and left == 0

    took = await wait_until("every reminder sent", all_sent, 120, procs)
    await asyncio.sleep(2)  # anything sent twice would have been sent by now
    deliveries = twilio.deliveries()
    assert len(deliveries) == REMINDED
    assert set(deliveries.values()) == {1}, [k for k, n in deliveries.items() if n > 1]
    assert {to for to, _ in deliveries} == {
        f"whatsapp:+9170{i:08d}" for i in range(1, REMINDED + 1)
    }
    assert all(to.startswith("whatsapp:") for to, _ in deliveries)
    assert all(f"whatsapp:{FROM}" == m["from"] for m in twilio.created)
    per_worker = [
        len(re.findall(r"accepted by Twilio", procs.log_of(name)))
        for name in ("worker1", "worker2")
    ]
    assert sum(per_worker) == REMINDED and all(per_worker), per_worker
    runs = await db.fetch("SELECT attempts, error FROM job_runs WHERE job = 'payment_reminders'")
    times = sorted(m["_monotonic"] for m in twilio.created)
    print(
        f"\n{REMINDED} reminders sent once each by two workers ({per_worker[0]} + "
        f"{per_worker[1]}), the last {took:.1f} s after the job was queued twice (the workers "
        f"starting meanwhile), the first to the last in {times[-1] - times[0]:.1f} s; job runs "
        f"(attempts, error): {[(r['attempts'], r['error']) for r in runs]}"
    )
