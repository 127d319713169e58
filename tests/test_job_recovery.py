"""Missed cron slots caught up once; in-progress keys short and renewed; `python -m bot jobs`.

The kill tests with real worker processes are in tests/test_job_kills.py (marked slow)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from arq.constants import in_progress_key_prefix
from arq.worker import func

from bot.cli.deps import Deps
from bot.cli.jobs import describe_outcome, describe_schedule
from bot.cli.main import main
from bot.clock import FixedClock
from bot.settings import Settings
from db.sweeps import JobRun
from jobs.registry import JOBS
from jobs.runner import INTERRUPTED, run_job_now
from jobs.schedule import cron_job_id, cron_jobs_for, enqueue_missed, missed_slot, slots_on
from jobs.worker import IN_PROGRESS_LEASE, JobsWorker, schedule_line

IST = ZoneInfo("Asia/Kolkata")


def ist(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST).astimezone(UTC)


DAY = date(2026, 3, 2)


# --- which slot is missed (pure) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "job, now_ist, last_run_ist, missed_ist",
    [
        pytest.param("payment_reminders", (10, 30), None, (10, 0), id="deploy across 10:00"),
        pytest.param("payment_reminders", (9, 59), None, None, id="not yet due today"),
        pytest.param("payment_reminders", (10, 0), None, (10, 0), id="at the slot itself"),
        pytest.param("payment_reminders", (23, 59), None, (10, 0), id="late the same day"),
        pytest.param("payment_reminders", (10, 30), (10, 0), None, id="the slot ran"),
        pytest.param("payment_reminders", (12, 0), (10, 45), None, id="a person ran it later"),
        pytest.param("expire_pending_orders", (13, 0), None, (12, 0), id="the latest slot only"),
        pytest.param("expire_pending_orders", (13, 0), (6, 0), (12, 0), id="ran at 6, missed 12"),
        pytest.param("expire_pending_orders", (0, 5), None, (0, 0), id="midnight slot"),
        pytest.param("regenerate_insights", (2, 0), None, None, id="yesterday's is not caught up"),
    ],
)
def test_missed_slot(
    job: str,
    now_ist: tuple[int, int],
    last_run_ist: tuple[int, int] | None,
    missed_ist: tuple[int, int] | None,
) -> None:
    last = ist(DAY, *last_run_ist) if last_run_ist else None
    expected = ist(DAY, *missed_ist) if missed_ist else None
    assert missed_slot(job, ist(DAY, *now_ist), IST, last) == expected


def test_slots_of_a_day_in_business_time() -> None:
    assert slots_on("expire_pending_orders", DAY, IST) == [ist(DAY, h) for h in (0, 6, 12, 18)]
    assert slots_on("payment_reminders", DAY, IST) == [ist(DAY, 10)]
    # arq names a unique cron run `<cron name>:<unix ms of the slot>`
    assert cron_job_id("auto_pause", ist(DAY, 11)) == (
        f"cron:auto_pause:{int(ist(DAY, 11).timestamp()) * 1000}"
    )


# --- catch-up through a real worker -------------------------------------------------------------


def a_day_of_its_own() -> date:
    """arq keys job ids across queues: a day no other run of the suite uses keeps slots apart."""
    return date(2040, 1, 1) + timedelta(days=secrets.randbelow(20_000))


async def burst(deps: Deps, queue_name: str) -> JobsWorker:
    async def startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = deps

    worker = JobsWorker(
        cron_jobs=cron_jobs_for(deps.settings),
        redis_pool=deps.redis,
        queue_name=queue_name,
        burst=True,
        poll_delay=0.05,
        on_startup=startup,
        handle_signals=False,
        timezone=IST,
    )
    await worker.main()
    return worker


async def test_missed_slots_run_once_when_workers_start_together(
    deps: Deps, clock: FixedClock, queue_name: str
) -> None:
    day = a_day_of_its_own()
    clock.current = ist(day, 10, 30)
    # Three workers start at once after a deploy across 10:00.
    found = await asyncio.gather(*(enqueue_missed(deps, deps.redis, queue_name) for _ in range(3)))
    due = {
        name: slot
        for name in JOBS
        if (slot := missed_slot(name, clock.current, IST, None, deps.settings)) is not None
    }
    assert {
        "regenerate_insights": ist(day, 3),
        "evaluate_guardrails": ist(day, 4),
        "expire_pending_orders": ist(day, 6),
        "payment_reminders": ist(day, 10),
    }.items() <= due.items()
    assert "auto_pause" not in due  # 11:00: not yet
    for each in found:
        assert {c.job: c.slot for c in each} == due
    queued = [c.job for each in found for c in each if c.queued]
    assert sorted(queued) == sorted(due)  # each slot queued by exactly one of them

    worker = await burst(deps, queue_name)
    assert worker.jobs_complete == len(due) and worker.jobs_failed == 0
    runs = await deps.pool.fetch("SELECT job, scheduled_for, as_of, attempts FROM job_runs")
    assert {r["job"]: r["scheduled_for"] for r in runs} == due
    assert all(r["as_of"] == day and r["attempts"] == 1 for r in runs)

    # A worker starting later that day finds them run; only the slots that came since are due.
    clock.current = ist(day, 11, 5)
    later = {c.job: c.slot for c in await enqueue_missed(deps, deps.redis, queue_name)}
    assert later["auto_pause"] == ist(day, 11)
    assert not {"payment_reminders", "regenerate_insights", "evaluate_guardrails"} & set(later)


async def test_a_run_of_another_day_does_not_count(
    deps: Deps, clock: FixedClock, queue_name: str
) -> None:
    day = a_day_of_its_own()
    clock.current = ist(day, 4, 30)
    # A person re-ran yesterday's insights this morning: today's 03:00 slot still runs.
    await run_job_now(deps, "regenerate_insights", day - timedelta(days=1))
    found = {c.job: c.slot for c in await enqueue_missed(deps, deps.redis, queue_name)}
    assert found["regenerate_insights"] == ist(day, 3)
    assert found["expire_pending_orders"] == ist(day, 0)


# --- in-progress keys ---------------------------------------------------------------------------


async def test_in_progress_keys_are_short_and_renewed(deps: Deps, queue_name: str) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def long_job(ctx: dict[str, Any]) -> str:
        started.set()
        await release.wait()
        return "done"

    job_id = f"long:{queue_name}:{secrets.token_hex(4)}"
    await deps.redis.enqueue_job("long_job", _job_id=job_id, _queue_name=queue_name)
    worker = JobsWorker(
        functions=[func(long_job, name="long_job")],
        redis_pool=deps.redis,
        queue_name=queue_name,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    run = asyncio.create_task(worker.main())
    await asyncio.wait_for(started.wait(), 10)
    key = in_progress_key_prefix + job_id
    lease_ms = IN_PROGRESS_LEASE.total_seconds() * 1000
    # arq's own default would be the longest timeout (300 s here) + 10 s.
    assert 0 < await deps.redis.pttl(key) <= lease_ms
    await deps.redis.pexpire(key, 1_000)
    worker._renewed_at = 0.0  # the next heartbeat renews
    for _ in range(100):
        if await deps.redis.pttl(key) > 1_000:
            break
        await asyncio.sleep(0.05)
    assert 1_000 < await deps.redis.pttl(key) <= lease_ms
    release.set()
    await asyncio.wait_for(run, 10)
    assert worker.jobs_complete == 1
    assert not await deps.redis.exists(key)


# --- what the worker and the CLI show -----------------------------------------------------------


def test_the_start_line_names_every_job_and_its_next_run(deps: Deps, clock: FixedClock) -> None:
    clock.current = ist(DAY, 10, 30)
    line = schedule_line(deps)
    assert line.startswith("jobs (Asia/Kolkata), next runs: ")
    assert "payment_reminders 2026-03-03 10:00" in line
    assert "expire_pending_orders 2026-03-02 12:00" in line
    assert all(name in line for name in JOBS)


@pytest.mark.parametrize(
    "job, text",
    [
        ("payment_reminders", "daily 10:00"),
        ("expire_pending_orders", "daily 00:00, 06:00, 12:00, 18:00"),
    ],
)
def test_schedules_read_as_words(job: str, text: str) -> None:
    assert describe_schedule(job, DAY, IST) == text


def _run(**kw: Any) -> JobRun:
    base: dict[str, Any] = {
        "job": "payment_reminders",
        "scheduled_for": ist(DAY, 10),
        "as_of": DAY,
        "started_at": ist(DAY, 10),
        "finished_at": ist(DAY, 10) + timedelta(seconds=2.5),
        "counts": {"queued": 3},
        "error": None,
        "attempts": 1,
    }
    return JobRun(**(base | kw))


@pytest.mark.parametrize(
    "run, outcome",
    [
        (None, ""),
        (_run(), "ok in 2.5 s: queued=3"),
        (_run(attempts=2), "ok in 2.5 s (try 2): queued=3"),
        (_run(finished_at=None), "running"),
        (_run(error=INTERRUPTED, counts={}), f"error: {INTERRUPTED}"),
    ],
)
def test_outcomes_read_as_words(run: JobRun | None, outcome: str) -> None:
    assert describe_outcome(run, IST)[1] == outcome


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    assert settings.database_url and settings.redis_url
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("ARQ_QUEUE_NAME", settings.arq_queue_name)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PAYMENT_PROVIDER"):
        monkeypatch.delenv(name, raising=False)


async def _main(argv: list[str]) -> int:
    # main() runs its own event loop, as `python -m bot` does: in a thread of its own here.
    return await asyncio.to_thread(main, argv)


async def test_jobs_run_and_list(
    db: asyncpg.Pool, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _main(["jobs", "run", "expire_pending_orders"]) == 0
    assert "expire_pending_orders as of " in capsys.readouterr().out
    assert await _main(["jobs", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "times in Asia/Kolkata"
    assert out[1].split() == ["JOB", "SCHEDULE", "NEXT", "RUN", "LAST", "RUN", "OUTCOME"]
    rows = {line.split()[0]: line for line in out[2:]}
    assert list(rows) == list(JOBS)
    assert (
        "ok in " in rows["expire_pending_orders"] and "expired=0" in rows["expire_pending_orders"]
    )
    assert "daily 10:00" in rows["payment_reminders"] and " never" in rows["payment_reminders"]


async def test_jobs_run_is_refused_as_the_admin_api_refuses(
    db: asyncpg.Pool, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    yesterday = (datetime.now(IST).date() - timedelta(days=1)).isoformat()
    assert await _main(["jobs", "run", "payment_reminders", "--as-of", yesterday]) == 1
    assert "runs as of today" in capsys.readouterr().err
    assert await _main(["jobs", "run", "make_tea"]) == 1
    assert "no job named make_tea" in capsys.readouterr().err
    assert await db.fetchval("SELECT count(*) FROM job_runs") == 0
