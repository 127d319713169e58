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
    """When a job runs: at each of `minutes` past each of `hours`, in BUSINESS_TZ (never the
    host's zone); every day, or only on the weekday a setting names (`weekday_setting`: the
    `Settings` property giving it, 0 = Monday)."""

    hours: frozenset[int]
    minutes: frozenset[int] = frozenset({0})
    weekday_setting: str | None = None

    @property
    def minute(self) -> int:
        """The first minute past the hour it runs at ("daily 10:00")."""
        return min(self.minutes)


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


# A sweep over checkouts idle for two hours: every 15 minutes, so each is followed up between
# 2 and 2¼ hours after the retailer's last message, at any hour of the day (quiet hours hold
# what it queues at night). A sweep rather than an arq job deferred per checkout: its state is
# the checkout's own row (`follow_up_count`), so a worker restart, a Redis without persistence
# or a checkout touched again (which would move a deferred job) changes nothing.
_EVERY_15_MINUTES = Schedule(frozenset(range(24)), frozenset({0, 15, 30, 45}))


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
    # At midnight too: the new day's aging is stored as the day begins, so the dashboard and the
    # at-risk list read stored figures at any hour (before it, the accounts whose debits crossed
    # a boundary overnight are aged from the ledger in each read: exact, but slower).
    "evaluate_guardrails": Job(
        tasks.evaluate_guardrails_job,
        _at(0, 4),
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
        _EVERY_15_MINUTES,
        today_only=True,
        description="one follow-up per checkout left for 2 hours, while it can be confirmed",
    ),
    "regenerate_insights": Job(
        tasks.regenerate_insights,
        _at(3),
        today_only=False,
        description="recompute every retailer's buying pattern (stored, not sent)",
    ),
    "send_insights": Job(
        tasks.send_insights,
        Schedule(frozenset({9}), weekday_setting="insights_weekday_number"),
        today_only=True,
        description="weekly insights to retailers who ordered in 30 days (INSIGHTS_WEEKDAY)",
    ),
}
