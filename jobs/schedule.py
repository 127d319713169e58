"""Cron schedules (DESIGN section 7). Times are in BUSINESS_TZ, never the host's zone: arq's
worker evaluates them in `WorkerSettings.timezone`, and `next_run` computes the same explicitly."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from arq.cron import CronJob, cron, next_cron
from arq.typing import WorkerCoroutine
from arq.worker import Retry

from jobs.runner import run_job_now

log = logging.getLogger(__name__)

# A cron run that fails (database restart, network blip) is retried this many times in all;
# a worker killed mid-job leaves the job in the queue and arq retries it too.
MAX_TRIES = 5
RETRY_DELAY = timedelta(seconds=30)


@dataclass(frozen=True)
class Schedule:
    hours: frozenset[int]
    minute: int = 0


SCHEDULES: dict[str, Schedule] = {
    "payment_reminders": Schedule(frozenset({10})),
    "auto_pause": Schedule(frozenset({11})),
    "expire_pending_orders": Schedule(frozenset({0, 6, 12, 18})),
    "pending_order_follow_up": Schedule(frozenset({14})),
    "regenerate_insights": Schedule(frozenset({3})),
    "evaluate_guardrails": Schedule(frozenset({4})),
}


def next_run(job: str, after: datetime, tz: tzinfo) -> datetime:
    """The next slot of `job` strictly after `after`, computed in `tz`, returned in UTC."""
    s = SCHEDULES[job]
    local = after.astimezone(tz)
    nxt = next_cron(local, hour=set(s.hours), minute=s.minute, second=0, microsecond=0)
    return nxt.astimezone(UTC)


def scheduled_time(ctx: dict[str, Any]) -> datetime:
    """The cron slot of this run, from arq's job id (`cron:<job>:<unix ms>`)."""
    job_id = str(ctx.get("job_id", ""))
    try:
        millis = int(job_id.rsplit(":", 1)[1])
        return datetime.fromtimestamp(millis / 1000, UTC).replace(microsecond=0)
    except (IndexError, ValueError):
        return datetime.now(UTC).replace(second=0, microsecond=0)


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


CRON_TASKS = {name: _cron_task(name) for name in SCHEDULES}

cron_jobs: list[CronJob] = [
    cron(
        CRON_TASKS[name],
        name=f"cron:{name}",
        hour=set(s.hours),
        minute=s.minute,
        second=0,
        microsecond=0,
        max_tries=MAX_TRIES,
        timeout=timedelta(minutes=30),
        unique=True,
    )
    for name, s in SCHEDULES.items()
]
