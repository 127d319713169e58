"""Run a named job and record the run (job, scheduled time, start, end, counts, error).

Used by the cron schedule, the admin API and the admin `run <job>` command alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import jobs.tasks  # noqa: F401 - registers the job functions
from bot.cli.deps import Deps
from bot.clock import business_date
from db import sweeps
from jobs.registry import JOB_NAMES, JOBS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    job: str
    as_of: date
    counts: dict[str, int]
    run_id: int


class UnknownJob(ValueError):
    """No job of that name."""


async def run_job_now(
    deps: Deps, name: str, as_of: date | None = None, *, scheduled_for: datetime | None = None
) -> JobResult:
    """Run job `name` "as of" a business day (default: today in BUSINESS_TZ) and record it.

    `scheduled_for` is the cron slot; a manual run is recorded under the moment it was asked for.
    A retry of the same slot updates the same record (attempts + 1).
    """
    if name not in JOB_NAMES or name not in JOBS:
        raise UnknownJob(name)
    now = deps.clock.now()
    day = as_of or business_date(scheduled_for or now, deps.settings.tz)
    async with deps.pool.acquire() as conn:
        run_id = await sweeps.record_job_start(
            conn, job=name, scheduled_for=scheduled_for or now, as_of=day, now=now
        )
    try:
        counts = await JOBS[name](deps, day)
    except Exception as exc:
        async with deps.pool.acquire() as conn:
            await sweeps.record_job_end(
                conn, run_id, now=deps.clock.now(), counts={}, error=f"{type(exc).__name__}: {exc}"
            )
        raise
    async with deps.pool.acquire() as conn:
        await sweeps.record_job_end(conn, run_id, now=deps.clock.now(), counts=counts)
    log.info("job %s as of %s: %s", name, day, counts)
    return JobResult(job=name, as_of=day, counts=counts, run_id=run_id)
