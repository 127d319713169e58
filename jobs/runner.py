"""Run a named job and record the run (job, scheduled time, start, end, counts, error).

`run_job_now` is the cron schedule's way in; `run_job_as_person` is the admin API's
(`POST /jobs/{job}/run`) and the admin chat's (`run <job> [date]`), with the checks a person's
run needs, so both answer alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime

from bot.cli import metrics
from bot.cli.deps import Deps
from bot.clock import as_of_problem, business_date
from db import sweeps
from db.errors import NotFound, Unprocessable
from jobs.registry import JOBS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    job: str
    as_of: date
    counts: dict[str, int]
    run_id: int


class UnknownJob(NotFound):
    """No job of that name in `JOBS`."""

    def __init__(self, name: str) -> None:
        super().__init__("UNKNOWN_JOB", f"no job named {name}")
        self.name = name


class AsOfRefused(Unprocessable):
    """A person asked for a run as of a day it may not run as of; `problem` says why."""

    def __init__(self, problem: str) -> None:
        super().__init__("INVALID_DATE", problem)
        self.problem = problem


async def run_job_now(
    deps: Deps, name: str, as_of: date | None = None, *, scheduled_for: datetime | None = None
) -> JobResult:
    """Run job `name` "as of" a business day (default: today in BUSINESS_TZ) and record it.

    `scheduled_for` is the cron slot; a manual run is recorded under the moment it was asked for.
    A retry of the same slot updates the same record (attempts + 1).
    """
    job = JOBS.get(name)
    if job is None:
        raise UnknownJob(name)
    now = deps.clock.now()
    day = as_of or business_date(scheduled_for or now, deps.settings.tz)
    async with deps.pool.acquire() as conn:
        run_id = await sweeps.record_job_start(
            conn, job=name, scheduled_for=scheduled_for or now, as_of=day, now=now
        )
    started = time.perf_counter()
    try:
        counts = await job.run(deps, day)
    except asyncio.CancelledError:
        _observe(name, day, "interrupted", started, {})
        # The worker is stopping (SIGTERM): arq queues the job again; the record says so until
        # the next attempt re-records it. Shielded, so the cancellation cannot cut it short.
        await asyncio.shield(_record_interrupted(deps, run_id))
        raise
    except Exception as exc:
        _observe(name, day, "error", started, {}, error=f"{type(exc).__name__}: {exc}")
        async with deps.pool.acquire() as conn:
            await sweeps.record_job_end(
                conn, run_id, now=deps.clock.now(), counts={}, error=f"{type(exc).__name__}: {exc}"
            )
        raise
    async with deps.pool.acquire() as conn:
        await sweeps.record_job_end(conn, run_id, now=deps.clock.now(), counts=counts)
    _observe(name, day, "ok", started, counts)
    return JobResult(job=name, as_of=day, counts=counts, run_id=run_id)


def _observe(
    name: str,
    day: date,
    outcome: str,
    started: float,
    counts: dict[str, int],
    *,
    error: str | None = None,
) -> None:
    """One log line and the metrics of a job run: ok, error or interrupted."""
    seconds = time.perf_counter() - started
    metrics.JOB_RUNS.labels(name, outcome).inc()
    metrics.JOB_DURATION.labels(name, outcome).observe(seconds)
    if outcome == "ok":
        metrics.JOB_LAST_SUCCESS.labels(name).set_to_current_time()
    log.log(
        logging.ERROR if outcome == "error" else logging.INFO,
        "job %s as of %s: %s in %.2f s %s%s",
        name,
        day,
        outcome,
        seconds,
        counts,
        f" ({error})" if error else "",
        extra={
            "job": name,
            "as_of": day.isoformat(),
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 1),
            "counts": counts,
            **({"error": error} if error else {}),
        },
    )


INTERRUPTED = "interrupted: the worker stopped mid-run; it runs again"


async def _record_interrupted(deps: Deps, run_id: int) -> None:
    try:
        async with deps.pool.acquire() as conn:
            await sweeps.record_job_end(
                conn, run_id, now=deps.clock.now(), counts={}, error=INTERRUPTED
            )
    except Exception:  # the database may be what is going away; the retry re-records anyway
        log.warning("job run %d: could not record the interruption", run_id, exc_info=True)


async def run_job_as_person(deps: Deps, name: str, as_of: date | None) -> JobResult:
    """A person runs job `name` now, as of `as_of` (None: today in BUSINESS_TZ).

    Refused, before anything runs or is recorded, with `AsOfRefused` (422 INVALID_DATE, the
    sentence of `bot.clock.as_of_problem`: not a future day, not more than 31 days back, today
    only for a job that changes credit or messages retailers) or `UnknownJob` (404 UNKNOWN_JOB).
    The day is checked first, as the admin API always has.
    """
    if as_of is not None:
        job = JOBS.get(name)
        today = business_date(deps.clock.now(), deps.settings.tz)
        problem = as_of_problem(as_of, today, today_only=job is not None and job.today_only)
        if problem:
            raise AsOfRefused(problem)
    return await run_job_now(deps, name, as_of)
