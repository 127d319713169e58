"""The one table of jobs (DESIGN sections 6 and 7): each job's name, function, schedule, whether a
person may run it as of today only, and what it does.

A job is `async def job(deps, as_of) -> dict[str, int]` (counts of what it did), written in
`jobs.tasks`. Jobs are sweeps over "due and not yet done", so a rerun for the same day finds
nothing left to do. The cron list (`jobs.schedule`), the runner (`jobs.runner`), the admin API and
the admin chat's `help` and `run <job>` all read `JOBS`: adding a job is one row here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from bot.cli.deps import Deps
from jobs import tasks

JobFunc = Callable[[Deps, date], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class Schedule:
    """When a job runs: at `minute` past each of `hours`, in BUSINESS_TZ (never the host's zone)."""

    hours: frozenset[int]
    minute: int = 0


@dataclass(frozen=True)
class Job:
    """One row of the table: the function, when cron runs it, and what it does (one line)."""

    run: JobFunc
    schedule: Schedule
    # Changes credit or messages retailers: a person may run it as of today only
    # (`bot.clock.as_of_problem`); it catches up missed days by itself.
    today_only: bool
    description: str


def _at(*hours: int) -> Schedule:
    return Schedule(frozenset(hours))


# In the order the admin help lists them.
JOBS: dict[str, Job] = {
    "payment_reminders": Job(
        tasks.payment_reminders,
        _at(10),
        today_only=True,
        description="one reminder per retailer per day, listing all its due items",
    ),
    "auto_pause": Job(
        tasks.auto_pause,
        _at(11),
        today_only=True,
        description="pause accounts overdue beyond their days; resume those cleared",
    ),
    "evaluate_guardrails": Job(
        tasks.evaluate_guardrails_job,
        _at(4),
        today_only=False,
        description="refresh every account's aging, the risk dashboard and the at-risk count",
    ),
    "expire_pending_orders": Job(
        tasks.expire_pending_orders,
        _at(0, 6, 12, 18),
        today_only=False,
        description="expire checkouts 24 hours after they started",
    ),
    "pending_order_follow_up": Job(
        tasks.pending_order_follow_up,
        _at(14),
        today_only=True,
        description="one nudge per abandoned checkout, while it can still be confirmed",
    ),
    "regenerate_insights": Job(
        tasks.regenerate_insights,
        _at(3),
        today_only=False,
        description="recompute every retailer's buying pattern (stored, not sent)",
    ),
}
