"""Run a named job now and record the run (admin API, `run <job>`, cron). Filled in with the jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.deps import Deps
from jobs.registry import JOB_NAMES, JOBS


@dataclass(frozen=True)
class JobResult:
    job: str
    as_of: date
    counts: dict[str, int]
    skipped: bool = False  # True when this job already ran for that day


class UnknownJob(ValueError):
    pass


async def run_job_now(deps: Deps, name: str, as_of: date | None = None) -> JobResult:
    """Run job `name` inline "as of" a business day (default: today in BUSINESS_TZ)."""
    from bot.clock import business_date

    if name not in JOB_NAMES:
        raise UnknownJob(name)
    day = as_of or business_date(deps.clock.now(), deps.settings.tz)
    func = JOBS.get(name)
    counts = await func(deps, day) if func else {}
    return JobResult(job=name, as_of=day, counts=counts)
