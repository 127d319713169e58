"""The cron list, one entry per row of `jobs.registry.JOBS` (DESIGN section 7). Times are in
BUSINESS_TZ, never the host's zone: arq's worker evaluates them in `WorkerSettings.timezone`, and
`next_run` computes the same explicitly."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from arq.cron import CronJob, cron, next_cron
from arq.typing import WorkerCoroutine
from arq.worker import Retry

from bot.settings import Settings
from bot.text import is_digits
from jobs.registry import JOBS
from jobs.runner import run_job_now

log = logging.getLogger(__name__)

# A cron run that fails (database restart, network blip) is retried this many times in all;
# a worker killed mid-job leaves the job in the queue and arq retries it too.
MAX_TRIES = 5
RETRY_DELAY = timedelta(seconds=30)


# The weekday of a weekly job when no settings are given (INSIGHTS_WEEKDAY's default, Monday).
DEFAULT_WEEKDAY = 0


def weekday_of(job: str, settings: Settings | None = None) -> int | None:
    """The day of the week `job` runs on (0 = Monday), or None for every day."""
    name = JOBS[job].schedule.weekday_setting
    if name is None:
        return None
    if settings is None:
        return DEFAULT_WEEKDAY
    day: int = getattr(settings, name)
    return day


def next_run(job: str, after: datetime, tz: tzinfo, settings: Settings | None = None) -> datetime:
    """The next slot of `job` strictly after `after`, computed in `tz`, returned in UTC."""
    s = JOBS[job].schedule
    local = after.astimezone(tz)
    nxt = next_cron(
        local,
        weekday=weekday_of(job, settings),
        hour=set(s.hours),
        minute=set(s.minutes),
        second=0,
        microsecond=0,
    )
    return nxt.astimezone(UTC)


def scheduled_time(ctx: Mapping[str, Any]) -> datetime:
    """The slot this run belongs to, so a retry of the slot updates the same `job_runs` record.

    Taken from arq's `ctx`: the job id `cron:<job>:<unix ms>` (arq names a unique cron run by its
    slot, and a retry keeps the id), else `score` (the unix ms arq queued the run for; a retry
    moves it on), else the injected clock (`ctx["deps"].clock`) to the minute; never the host's
    clock, which a test cannot set.
    """
    prefix, _, millis = str(ctx.get("job_id") or "").rpartition(":")
    if prefix.startswith("cron:") and is_digits(millis):
        return _from_millis(int(millis))
    score = ctx.get("score")
    if isinstance(score, int) and not isinstance(score, bool) and score > 0:
        return _from_millis(score)
    now: datetime = ctx["deps"].clock.now()
    return now.replace(second=0, microsecond=0)


def _from_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC).replace(microsecond=0)


def _cron_task(name: str) -> WorkerCoroutine:
    async def task(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> dict[str, int]:
        deps = ctx["deps"]
        try:
            result = await run_job_now(deps, name, scheduled_for=scheduled_time(ctx))
        except Exception:
            tries = int(ctx.get("job_try", 1))
            if tries < MAX_TRIES:
                log.exception("job %s failed (try %s of %s); retrying", name, tries, MAX_TRIES)
                raise Retry(defer=RETRY_DELAY * tries) from None
            raise
        return result.counts

    task.__qualname__ = task.__name__ = f"cron_{name}"
    return task


CRON_TASKS = {name: _cron_task(name) for name in JOBS}


def cron_jobs_for(settings: Settings | None = None) -> list[CronJob]:
    """arq's cron list, one entry per row of `JOBS` (a weekly job on its setting's weekday)."""
    return [
        cron(
            CRON_TASKS[name],
            name=f"cron:{name}",
            weekday=weekday_of(name, settings),
            hour=set(job.schedule.hours),
            minute=set(job.schedule.minutes),
            second=0,
            microsecond=0,
            max_tries=MAX_TRIES,
            timeout=timedelta(minutes=30),
            unique=True,
        )
        for name, job in JOBS.items()
    ]


cron_jobs: list[CronJob] = cron_jobs_for()
