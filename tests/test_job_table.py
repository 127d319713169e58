"""The one job table (`jobs.registry.JOBS`), the cron slot taken from arq's ctx, and the checks a
person's run goes through (`jobs.runner.run_job_as_person`), shared by the admin API and chat."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from bot.cli.deps import Deps
from bot.clock import FixedClock
from jobs.registry import JOBS
from jobs.runner import AsOfRefused, UnknownJob, run_job_as_person
from jobs.schedule import cron_jobs, scheduled_time

# 2026-01-15 10:00:00 UTC, in unix milliseconds.
SLOT_MS = 1_768_471_200_000
SLOT = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
CLOCK_NOW = datetime(2026, 1, 15, 6, 30, 42, 123456, tzinfo=UTC)


def test_the_table_names_the_contracts_jobs_and_schedules_each_once() -> None:
    assert list(JOBS) == [
        "payment_reminders",
        "auto_pause",
        "evaluate_guardrails",
        "expire_pending_orders",
        "pending_order_follow_up",
        "regenerate_insights",
        "send_insights",  # issue 13: the weekly insights message
    ]
    assert {n for n, j in JOBS.items() if j.today_only} == {
        "payment_reminders",
        "auto_pause",
        "pending_order_follow_up",
        "send_insights",
    }
    assert all(j.description for j in JOBS.values())
    crons = {c.name: c for c in cron_jobs}
    assert set(crons) == {f"cron:{n}" for n in JOBS}
    for name, job in JOBS.items():
        assert crons[f"cron:{name}"].hour == set(job.schedule.hours)


@pytest.mark.parametrize(
    "ctx, slot",
    [
        pytest.param(
            {"job_id": f"cron:payment_reminders:{SLOT_MS}", "score": SLOT_MS + 95_000},
            SLOT,
            id="cron id wins over a score a retry moved on",
        ),
        pytest.param(
            {"job_id": f"cron:auto_pause:{SLOT_MS + 250}"}, SLOT, id="cron id, to the second"
        ),
        pytest.param(
            {"job_id": "3f9a0c", "score": SLOT_MS + 7_400},
            datetime(2026, 1, 15, 10, 0, 7, tzinfo=UTC),
            id="not a cron id: the score",
        ),
        pytest.param(
            {"job_id": f"probe:{SLOT_MS}", "score": SLOT_MS},
            SLOT,
            id="a number after a colon is not a cron id",
        ),
        pytest.param(
            {"job_id": "cron:auto_pause:soon", "score": SLOT_MS}, SLOT, id="cron id without ms"
        ),
        pytest.param(
            {"job_id": "cron:auto_pause:²", "score": SLOT_MS}, SLOT, id="cron id, not ASCII digits"
        ),
        pytest.param(
            {"job_id": "3f9a0c"},
            datetime(2026, 1, 15, 6, 30, tzinfo=UTC),
            id="no score: the injected clock, to the minute",
        ),
        pytest.param(
            {"job_id": None, "score": None},
            datetime(2026, 1, 15, 6, 30, tzinfo=UTC),
            id="nothing from arq",
        ),
        pytest.param(
            {"score": 0}, datetime(2026, 1, 15, 6, 30, tzinfo=UTC), id="a zero score is none"
        ),
    ],
)
def test_scheduled_time(ctx: dict[str, Any], slot: datetime) -> None:
    deps = SimpleNamespace(clock=FixedClock(CLOCK_NOW))
    assert scheduled_time({**ctx, "deps": deps}) == slot


# The clock's day is 2026-01-15 in Asia/Kolkata.
@pytest.mark.parametrize(
    "job, as_of, refusal, words",
    [
        ("payment_reminders", date(2026, 1, 16), AsOfRefused, "in the future"),
        ("regenerate_insights", date(2025, 12, 1), AsOfRefused, "31 days back"),
        ("auto_pause", date(2026, 1, 14), AsOfRefused, "runs as of today"),
        ("pending_order_follow_up", date(2026, 1, 14), AsOfRefused, "runs as of today"),
        ("make_tea", None, UnknownJob, "no job named make_tea"),
        ("make_tea", date(2026, 1, 14), UnknownJob, "no job named make_tea"),
        # The day is checked before the name, as the admin API always did.
        ("make_tea", date(2026, 1, 16), AsOfRefused, "in the future"),
    ],
)
async def test_a_person_is_refused_before_anything_runs(
    deps: Deps, db: asyncpg.Pool, job: str, as_of: date | None, refusal: type, words: str
) -> None:
    with pytest.raises(refusal) as caught:
        await run_job_as_person(deps, job, as_of)
    code = {AsOfRefused: "INVALID_DATE", UnknownJob: "UNKNOWN_JOB"}[refusal]
    assert caught.value.code == code and words in caught.value.message
    assert await db.fetchval("SELECT count(*) FROM job_runs") == 0


@pytest.mark.parametrize(
    "job, as_of",
    [
        ("expire_pending_orders", None),
        ("auto_pause", date(2026, 1, 15)),
        ("regenerate_insights", date(2025, 12, 15)),
    ],
)
async def test_a_person_runs_a_job(
    deps: Deps, db: asyncpg.Pool, job: str, as_of: date | None
) -> None:
    result = await run_job_as_person(deps, job, as_of)
    assert result.job == job and result.as_of == (as_of or date(2026, 1, 15))
    run = await db.fetchrow("SELECT job, as_of, error FROM job_runs")
    assert tuple(run) == (job, result.as_of, None)
