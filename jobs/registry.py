"""The named jobs (DESIGN section 6 and 7) and how a run of one is recorded.

A job is `async def job(deps, as_of) -> dict[str, int]` (counts of what it did). Jobs are sweeps
over "due and not yet done", so a rerun for the same day finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from bot.cli.deps import Deps

JobFunc = Callable[[Deps, date], Awaitable[dict[str, int]]]

JOB_NAMES = (
    "payment_reminders",
    "auto_pause",
    "evaluate_guardrails",
    "expire_pending_orders",
    "pending_order_follow_up",
    "regenerate_insights",
)

# Jobs that change credit or message retailers: a person may run them as of today only
# (`bot.clock.as_of_problem`); they catch up missed days by themselves.
TODAY_ONLY = frozenset({"payment_reminders", "auto_pause", "pending_order_follow_up"})

JOBS: dict[str, JobFunc] = {}


def register(name: str) -> Callable[[JobFunc], JobFunc]:
    """Decorator adding a job function under one of JOB_NAMES."""
    if name not in JOB_NAMES:
        raise ValueError(f"unknown job name {name!r}")

    def wrap(func: JobFunc) -> JobFunc:
        JOBS[name] = func
        return func

    return wrap
