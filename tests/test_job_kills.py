"""Workers killed (SIGKILL) or stopped (SIGTERM) mid-job and mid-send lose nothing and double
nothing: real `python -m bot worker` processes against the session's PostgreSQL and Redis, and a
fake Twilio on 127.0.0.1 that counts what it is sent.

Each test starts a long job (a data set large enough to take seconds), signals the worker once the
job is under way, starts another worker, and waits (bounded) for the job to finish there. Times
are printed (`pytest -m slow -s` shows them). Marked `slow`: `make test` skips them, `.ci/run`
runs them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bot.clock import business_date
from bot.settings import Settings
from jobs.outbox_sender import LEASE
from jobs.registry import JOBS
from jobs.runner import INTERRUPTED
from jobs.schedule import cron_job_id, slots_on
from jobs.worker import IN_PROGRESS_LEASE
from tests.process_support import FakeTwilio

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "1" * 32
FROM = "+14155238886"
# Start-up of a worker process on a busy 2-core machine, on top of the bounds under test.
START_MARGIN = timedelta(seconds=45)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(delay=0.03)
    try:
        yield fake
    finally:
        fake.close()


# --- worker processes ---------------------------------------------------------------------------


class Workers:
    """Worker processes of one test, each logging to a file; all stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker{len(self.procs) + 1}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.logs.glob("worker*.log"))
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(
    settings: Settings, queue_name: str, tmp_path: Path, twilio: FakeTwilio
) -> Iterator[Workers]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "RAZORPAY_"))}
    for name in ("PAYMENT_PROVIDER", "WHATSAPP_TEMPLATES", "UPI_ID", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    assert settings.database_url and settings.redis_url
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        # a queue of this test's own: nothing another test left queued runs here
        ARQ_QUEUE_NAME=f"{queue_name}:{secrets.token_hex(3)}",
        SEND_RATE_PER_SECOND="100",
        QUIET_HOURS="",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    procs = Workers(env, tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


def with_twilio(workers: Workers, twilio: FakeTwilio) -> None:
    workers.env.update(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN="kill-test-token",
        TWILIO_WHATSAPP_FROM=FROM,
        TWILIO_API_URL=twilio.url,
        PUBLIC_BASE_URL="https://bot.example.test",
    )


async def wait_until(
    what: str, check: Callable[[], Awaitable[bool]], within: timedelta, workers: Workers
) -> float:
    """Poll `check` until true; the seconds it took. Fails (with the workers' logs) after
    `within`, so a test never hangs."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within.total_seconds():
            pytest.fail(f"{what}: not within {within.total_seconds():.0f} s\n{workers.tail()}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def wait_exit(proc: subprocess.Popen[bytes], workers: Workers) -> float:
    started = time.monotonic()
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not stop within 40 s\n{workers.tail()}")
    return time.monotonic() - started


# --- data ---------------------------------------------------------------------------------------


async def today_done(db: asyncpg.Pool, settings: Settings) -> None:
    """Record today's slots so far as run: the workers' start-up catch-up (tested in
    tests/test_job_recovery.py with a clock of its own) queues nothing real-today here."""
    now = datetime.now(UTC)
    today = business_date(now, settings.tz)
    rows = [
        (name, slot, today, slot)
        for name in JOBS
        for slot in slots_on(name, today, settings.tz, settings)
        if slot <= now
    ]
    await db.executemany(
        """INSERT INTO job_runs (job, scheduled_for, as_of, started_at, finished_at)
           VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING""",
        rows,
    )


async def add_retailers(db: asyncpg.Pool, n: int, *, inbound: datetime | None = None) -> None:
    await db.execute(
        """INSERT INTO retailers (phone, name, shop_name, language, last_inbound_at)
           SELECT '+9170' || lpad(g::text, 8, '0'), 'Retailer ' || g, 'Shop ' || g, 'en', $2
           FROM generate_series(1, $1) g""",
        n,
        inbound,
    )
    await db.execute(
        "INSERT INTO credit_accounts (retailer_id, credit_limit) SELECT id, 100000000 FROM retailers"
    )


async def add_debits(db: asyncpg.Pool, days_ago: int) -> None:
    """One open ₹700 debit per retailer, ordered `days_ago` business days ago, due 15 after."""
    ordered = business_date(datetime.now(UTC), ZoneInfo("Asia/Kolkata")) - timedelta(days=days_ago)
    await db.execute(
        """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status, due_date,
               txn_date, created_at)
           SELECT id, 'DEBIT', 'DEBIT', 70000, 'OPEN', $1::date + 15, $1::date,
                  now() - make_interval(days => $2::int)
           FROM retailers""",
        ordered,
        days_ago,
    )
    await db.execute("UPDATE credit_accounts SET outstanding = 70000")


async def add_orders(db: asyncpg.Pool, per_retailer: int) -> None:
    product: int = await db.fetchval(
        """INSERT INTO products (sku, name, category, price)
           VALUES ('ATTA-5', 'Atta 5kg', 'Staples', 25000) RETURNING id"""
    )
    await db.execute(
        """INSERT INTO orders (retailer_id, total, payment_mode, status, created_at)
           SELECT r.id, 50000, 'COD', 'DELIVERED', now() - make_interval(days => g::int * 7)
           FROM retailers r, generate_series(1, $1) g""",
        per_retailer,
    )
    await db.execute(
        """INSERT INTO order_items (order_id, product_id, sku, name, unit_price, quantity,
               line_total)
           SELECT o.id, $1, 'ATTA-5', 'Atta 5kg', 25000, 1, 25000
           FROM orders o, generate_series(1, 2)""",
        product,
    )


async def enqueue_job(db: asyncpg.Pool, settings: Settings, workers: Workers, job: str) -> str:
    """Queue a run of `job` as its cron does, for a slot of now (to the second) no real slot
    shares; return its arq job id."""
    from arq.connections import ArqRedis

    slot = datetime.now(UTC).replace(microsecond=0)
    job_id = cron_job_id(job, slot)[:-3] + f"{secrets.randbelow(1000):03d}"
    assert settings.redis_url
    redis = ArqRedis.from_url(settings.redis_url)
    try:
        queued = await redis.enqueue_job(
            f"cron:{job}", _job_id=job_id, _queue_name=workers.env["ARQ_QUEUE_NAME"]
        )
    finally:
        await redis.aclose()
    assert queued is not None
    return job_id


# --- a job killed or stopped mid-run ------------------------------------------------------------


RETAILERS = 1500


async def reminders_progress(db: asyncpg.Pool) -> int:
    return int(
        await db.fetchval("SELECT count(*) FROM outbox_messages WHERE kind = 'payment_reminder'")
    )


async def pauses_progress(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM retailers WHERE credit_status = 'PAUSED'"))


async def insights_progress(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM retailer_insights"))


async def reminders_once(db: asyncpg.Pool) -> None:
    per = await db.fetch(
        """SELECT retailer_id, count(*) AS n FROM outbox_messages
           WHERE kind = 'payment_reminder' GROUP BY retailer_id"""
    )
    assert len(per) == RETAILERS and {r["n"] for r in per} == {1}
    assert not await db.fetchval(
        "SELECT count(*) FROM credit_transactions WHERE reminder_queued_at IS NULL"
    )


async def pauses_once(db: asyncpg.Pool) -> None:
    assert await pauses_progress(db) == RETAILERS
    audit = await db.fetch(
        """SELECT retailer_id, count(*) AS n FROM audit_log
           WHERE action ILIKE '%PAUSE%' GROUP BY retailer_id"""
    )
    assert len(audit) == RETAILERS and {r["n"] for r in audit} == {1}
    notices = await db.fetch(
        """SELECT retailer_id, count(*) AS n FROM outbox_messages
           WHERE kind = 'credit_paused' GROUP BY retailer_id"""
    )
    assert len(notices) == RETAILERS and {r["n"] for r in notices} == {1}


async def insights_once(db: asyncpg.Pool) -> None:
    rows = await db.fetch("SELECT as_of, count(*) AS n FROM retailer_insights GROUP BY as_of")
    assert [r["n"] for r in rows] == [INSIGHT_RETAILERS]


INSIGHT_RETAILERS = 30_000


async def seed_reminders(db: asyncpg.Pool) -> None:
    await add_retailers(db, RETAILERS)
    await add_debits(db, days_ago=15)  # due today: the due-today reminder point


async def seed_pauses(db: asyncpg.Pool) -> None:
    await add_retailers(db, RETAILERS)
    await add_debits(db, days_ago=40)  # unpaid beyond the 30 allowed days


async def seed_insights(db: asyncpg.Pool) -> None:
    await add_retailers(db, INSIGHT_RETAILERS)
    await add_orders(db, per_retailer=6)


Progress = Callable[[asyncpg.Pool], Awaitable[int]]
Check = Callable[[asyncpg.Pool], Awaitable[None]]
CASES: dict[str, tuple[Callable[[asyncpg.Pool], Awaitable[None]], Progress, Check]] = {
    "payment_reminders": (seed_reminders, reminders_progress, reminders_once),
    "auto_pause": (seed_pauses, pauses_progress, pauses_once),
    "regenerate_insights": (seed_insights, insights_progress, insights_once),
}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("job", list(CASES))
async def test_a_job_interrupted_mid_run_completes_once_on_the_next_worker(
    db: asyncpg.Pool, settings: Settings, workers: Workers, job: str, sig: signal.Signals
) -> None:
    seed, progress, check = CASES[job]
    await seed(db)
    await today_done(db, settings)
    job_id = await enqueue_job(db, settings, workers, job)

    async def run() -> asyncpg.Record | None:
        return await db.fetchrow(
            "SELECT * FROM job_runs WHERE job = $1 ORDER BY scheduled_for DESC LIMIT 1", job
        )

    async def under_way() -> bool:
        record = await run()
        return record is not None and record["finished_at"] is None and await progress(db) > 20

    first = workers.start()
    await wait_until(f"{job} under way", under_way, START_MARGIN + timedelta(seconds=30), workers)
    done_before = await progress(db)
    first.send_signal(sig)
    stopped_in = wait_exit(first, workers)
    interrupted = await run()
    assert interrupted is not None and interrupted["attempts"] == 1
    if sig == signal.SIGKILL:
        assert interrupted["finished_at"] is None  # it died mid-job
    else:
        assert interrupted["error"] == INTERRUPTED  # it was cancelled mid-job, and said so

    started = time.monotonic()
    workers.start()

    async def finished() -> bool:
        record = await run()
        return record is not None and record["error"] is None and record["finished_at"] is not None

    async def restarted() -> bool:
        record = await run()
        return record is not None and record["attempts"] == 2

    # The bound under test: a killed worker's job is started again once its in-progress key
    # ends (IN_PROGRESS_LEASE after the last renewal); a stopped worker's at once.
    bound = IN_PROGRESS_LEASE + START_MARGIN
    restart = await wait_until(f"{job} started on the second worker", restarted, bound, workers)
    took = await wait_until(f"{job} finished on the second worker", finished, bound, workers)
    record = await run()
    assert record is not None and record["attempts"] == 2
    assert job_id.startswith(f"cron:{job}:")
    await check(db)
    print(
        f"\n{job} {sig.name}: {done_before} done when signalled, worker stopped in "
        f"{stopped_in:.1f} s; the second worker started the job {restart:.1f} s after it was "
        f"started itself (bound: in-progress lease {IN_PROGRESS_LEASE.total_seconds():.0f} s "
        f"+ start-up) and finished it {took:.1f} s later ({time.monotonic() - started:.1f} s)"
    )


# --- the outbox sender killed or stopped mid-send -----------------------------------------------


SENDS = 300


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
async def test_a_send_loop_interrupted_sends_each_message_once(
    db: asyncpg.Pool,
    settings: Settings,
    workers: Workers,
    twilio: FakeTwilio,
    sig: signal.Signals,
) -> None:
    with_twilio(workers, twilio)
    now = datetime.now(UTC)
    # in the 24-hour window, so a free-form body goes (each row's body is its own)
    await add_retailers(db, SENDS, inbound=now)
    await db.execute(
        """INSERT INTO outbox_messages (retailer_id, to_phone, kind, language, template, body,
               variables, dedupe_key, next_attempt_at, created_at)
           SELECT id, phone, 'credit_paused', 'en', 'credit_paused', 'Message ' || id,
                  '{}'::jsonb, 'kill-test:' || id, $1, $1
           FROM retailers""",
        now,
    )
    await today_done(db, settings)

    async def all_handed() -> bool:
        left = await db.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE status IN ('QUEUED', 'SENDING')"
        )
        return left == 0

    async def under_way() -> bool:
        return len(twilio.bodies()) >= 30

    first = workers.start()
    await wait_until("sending under way", under_way, START_MARGIN, workers)
    first.send_signal(sig)
    stopped_in = wait_exit(first, workers)
    sent_before = len(twilio.bodies())
    assert sent_before < SENDS

    workers.start()
    # A killed sender's rows wait for its lease to end (the sender's own bound); a stopped
    # sender gives them back as it stops.
    bound = LEASE + START_MARGIN
    took = await wait_until("every row handed to Twilio", all_handed, bound, workers)
    bodies = twilio.bodies()
    assert sorted(bodies) == sorted(f"Message {i}" for i in range(1, SENDS + 1))
    assert set(bodies.values()) == {1}, [b for b, n in bodies.items() if n > 1]
    statuses = await db.fetch("SELECT status, count(*) AS n FROM outbox_messages GROUP BY 1")
    assert {r["status"]: r["n"] for r in statuses} == {"ACCEPTED": SENDS} or all(
        r["status"] in ("ACCEPTED", "SENT") for r in statuses
    )
    print(
        f"\nsend loop {sig.name}: {sent_before} of {SENDS} sent when signalled, worker stopped "
        f"in {stopped_in:.1f} s; the rest sent {took:.1f} s after the second worker started "
        f"(bound: the outbox lease {LEASE.total_seconds():.0f} s + start-up); each sent once"
    )
