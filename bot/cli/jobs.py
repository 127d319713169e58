"""`python -m bot jobs list` and `python -m bot jobs run NAME [--as-of DAY]`.

`list` shows each job of `jobs.registry.JOBS` with its schedule and next run (in BUSINESS_TZ), and
its last recorded run with the outcome. `run` runs one job here and now, with the checks of the
admin API's `POST /jobs/{job}/run` (`jobs.runner.run_job_as_person`), and records it like any
run. Where the service is comes from DATABASE_URL / REDIS_URL, else from the `.data/run.json`
that `python -m bot run` writes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from bot.cli.deps import open_deps
from bot.cli.local import load_run_info
from bot.clock import SystemClock, business_date
from bot.settings import Settings
from db.errors import AppError
from db.pool import connect
from db.sweeps import JobRun, get_last_runs
from jobs.registry import JOBS
from jobs.runner import run_job_as_person
from jobs.schedule import next_run, slots_on

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="each job's schedule, next run, last run and outcome")
    run = actions.add_parser("run", help="run one job now (as the admin API's jobs route does)")
    run.add_argument("name", help="the job's name, as `jobs list` shows it")
    run.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="the business day to run it as of (default: today; jobs that message retailers "
        "or change credit run as of today only)",
    )


def _with_run_info(settings: Settings) -> Settings:
    """The settings, with the URLs of a local `python -m bot run` where the environment has none."""
    info = load_run_info(Path(settings.data_dir))
    return settings.model_copy(
        update={
            "database_url": settings.database_url or info.get("database_url"),
            "redis_url": settings.redis_url or info.get("redis_url"),
        }
    )


def describe_schedule(job: str, today: date, tz: tzinfo, settings: Settings | None = None) -> str:
    """`daily 10:00`, `daily 00:00, 06:00, 12:00, 18:00`, `every 15 min`, `weekly Mon 09:00`."""
    week = (today + timedelta(days=i) for i in range(7))
    days = [(d, slots_on(job, d, tz, settings)) for d in week]
    times = [[f"{s.astimezone(tz):%H:%M}" for s in slots] for _, slots in days]
    if all(t == times[0] for t in times) and times[0]:
        daily = times[0]
        if len(daily) <= 6:
            return "daily " + ", ".join(daily)
        gaps = {
            int((b - a).total_seconds() // 60)
            for a, b in zip(days[0][1], days[0][1][1:], strict=False)
        }
        return f"every {gaps.pop()} min" if len(gaps) == 1 else f"{len(daily)} times a day"
    weekly = [
        f"{WEEKDAYS[d.weekday()]} " + ", ".join(t)
        for (d, _), t in zip(days, times, strict=True)
        if t
    ]
    return "weekly " + "; ".join(weekly)


def describe_outcome(run: JobRun | None, tz: tzinfo) -> tuple[str, str]:
    """(last run, outcome) as `jobs list` shows them."""
    if run is None:
        return "never", ""
    when = f"{run.started_at.astimezone(tz):%Y-%m-%d %H:%M} (as of {run.as_of})"
    tries = f" (try {run.attempts})" if run.attempts > 1 else ""
    if run.finished_at is None:
        return when, "running" + tries
    if run.error:
        return when, f"error{tries}: {run.error[:80]}"
    took = (run.finished_at - run.started_at).total_seconds()
    counts = " ".join(f"{k}={v}" for k, v in run.counts.items())
    return when, f"ok in {took:.1f} s{tries}" + (f": {counts}" if counts else "")


def job_table(runs: dict[str, JobRun], now: datetime, settings: Settings) -> list[tuple[str, ...]]:
    """The rows of `jobs list` (a header first), times in BUSINESS_TZ."""
    tz = settings.tz
    rows: list[tuple[str, ...]] = [("JOB", "SCHEDULE", "NEXT RUN", "LAST RUN", "OUTCOME")]
    today = business_date(now, tz)
    for name in JOBS:
        last, outcome = describe_outcome(runs.get(name), tz)
        nxt = f"{next_run(name, now, tz, settings).astimezone(tz):%Y-%m-%d %H:%M}"
        rows.append((name, describe_schedule(name, today, tz, settings), nxt, last, outcome))
    return rows


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])


async def _list(settings: Settings) -> int:
    assert settings.database_url
    conn = await connect(settings.database_url)
    try:
        runs = await get_last_runs(conn)
    finally:
        await conn.close()
    print(f"times in {settings.business_tz}")
    _print_table(job_table(runs, SystemClock().now(), settings))
    return 0


async def _run(settings: Settings, name: str, as_of: date | None) -> int:
    async with open_deps(settings, pool_size=2) as deps:
        try:
            result = await run_job_as_person(deps, name, as_of)
        except AppError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
    counts = " ".join(f"{k}={v}" for k, v in result.counts.items())
    print(f"{result.job} as of {result.as_of}: {counts or 'done'}")
    return 0


def main(args: argparse.Namespace, settings: Settings) -> int:
    settings = _with_run_info(settings)
    if not settings.database_url:
        print("error: DATABASE_URL is not set (nor is a local run going)", file=sys.stderr)
        return 2
    if args.action == "list":
        return asyncio.run(_list(settings))
    if not settings.redis_url:
        print("error: REDIS_URL is not set (nor is a local run going)", file=sys.stderr)
        return 2
    return asyncio.run(_run(settings, args.name, args.as_of))
