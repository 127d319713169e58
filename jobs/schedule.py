"""The cron list, one entry per row of `jobs.registry.JOBS` (DESIGN section 7). Times are in
BUSINESS_TZ, never the host's zone: arq's worker evaluates them in `WorkerSettings.timezone`, and
`next_run` computes the same explicitly.

arq enqueues a cron slot only while a worker is up at that moment: a slot passed while none was
(a deploy across 10:00) is skipped. `enqueue_missed` puts the latest such slot of the business day
back, under the id arq's cron gives it (`cron_job_id`), so however many workers start at once it
is queued once and its `job_runs` record stays one per slot. Only today's: a slot missed on an
earlier day is not run late, because each job is a sweep over "due and not yet done" and its next
slot does what the missed one would have (reminders catch up a missed reminder point, the pause
rule and expiry are states, insights and the risk refresh are recomputed whole).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from arq.connections import ArqRedis
from arq.cron import CronJob, cron, next_cron
from arq.typing import WorkerCoroutine
from arq.worker import Retry

from bot.cli.deps import Deps
from bot.clock import business_date
from bot.settings import Settings
from bot.text import is_digits
from db import sweeps
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


def slots_on(job: str, day: date, tz: tzinfo, settings: Settings | None = None) -> list[datetime]:
    """Every slot of `job` on the business day `day` (in `tz`), in order, in UTC (a weekly job's
    day from `settings`, as `next_run`)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    slots: list[datetime] = []
    # next_run looks from one second on, so this finds a slot at midnight itself too
    slot = next_run(job, start - timedelta(seconds=1), tz, settings)
    while business_date(slot, tz) == day:
        slots.append(slot)
        slot = next_run(job, slot, tz, settings)
    return slots


def missed_slot(
    job: str,
    now: datetime,
    tz: tzinfo,
    last_run: datetime | None,
    settings: Settings | None = None,
) -> datetime | None:
    """The slot of `job` to run late at `now`, or None: the latest slot of today (in `tz`) at or
    before `now`, when no run of today is recorded at or after it (`last_run`: the latest
    `scheduled_for` of today's runs). Earlier slots of the day it missed are not run one by one:
    the latest run does what they would have (the jobs are sweeps)."""
    due = [s for s in slots_on(job, business_date(now, tz), tz, settings) if s <= now]
    if not due or (last_run is not None and last_run >= due[-1]):
        return None
    return due[-1]


def cron_job_id(job: str, slot: datetime) -> str:
    """The arq job id of `job`'s run for `slot`, as arq's cron names it (`unique=True`):
    `cron:<job>:<unix ms>`. The same id from a catch-up keeps the slot a single arq job."""
    return f"cron:{job}:{int(slot.timestamp() * 1000)}"


@dataclass(frozen=True)
class CatchUp:
    job: str
    slot: datetime
    queued: bool  # False: already queued (or run) under that id by another worker


async def enqueue_missed(deps: Deps, redis: ArqRedis, queue_name: str) -> list[CatchUp]:
    """Queue each job's missed slot of today (`missed_slot`) under arq's own id for it, so the
    cron and any number of workers starting together queue it once; return what was found."""
    now = deps.clock.now()
    tz = deps.settings.tz
    async with deps.pool.acquire() as conn:
        last = await sweeps.get_latest_slots(conn, as_of=business_date(now, tz))
    found: list[CatchUp] = []
    for name in JOBS:
        slot = missed_slot(name, now, tz, last.get(name), deps.settings)
        if slot is None:
            continue
        job = await redis.enqueue_job(
            f"cron:{name}", _job_id=cron_job_id(name, slot), _queue_name=queue_name
        )
        found.append(CatchUp(name, slot, queued=job is not None))
        if job is not None:
            log.warning(
                "job %s missed its slot %s (no worker was up): queued now",
                name,
                slot.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            )
    return found


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
