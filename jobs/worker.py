"""arq WorkerSettings: deps are opened once in `on_startup` and shared through `ctx`."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack
from datetime import date
from typing import Any, ClassVar

from arq.connections import RedisSettings

from bot.cli.deps import open_deps
from bot.cli.logs import setup_logging
from bot.settings import load_settings
from jobs.outbox_sender import run_sender
from jobs.payment_links import create_payment_link
from jobs.runner import run_job_now
from jobs.schedule import cron_jobs_for

settings = load_settings()


async def startup(ctx: dict[str, Any]) -> None:
    setup_logging()
    stack = AsyncExitStack()
    ctx["stack"] = stack
    ctx["deps"] = await stack.enter_async_context(open_deps(settings, pool_size=5))
    # The outbox sender runs beside the jobs for the worker's whole life.
    ctx["sender_stop"] = asyncio.Event()
    ctx["sender"] = asyncio.create_task(run_sender(ctx["deps"], ctx["sender_stop"]))


async def shutdown(ctx: dict[str, Any]) -> None:
    if "sender" in ctx:
        ctx["sender_stop"].set()
        # On timeout wait_for cancels it; its leased rows return to the queue when the lease ends.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx["sender"], timeout=20)
    await ctx["stack"].aclose()


async def run_named_job(ctx: dict[str, Any], name: str, as_of: str | None = None) -> dict[str, int]:
    """Run one named job in the worker (for callers that enqueue rather than run inline)."""
    result = await run_job_now(ctx["deps"], name, date.fromisoformat(as_of) if as_of else None)
    return result.counts


class WorkerSettings:
    functions: ClassVar[list[Any]] = [run_named_job, create_payment_link]
    cron_jobs: ClassVar[list[Any]] = cron_jobs_for(settings)
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(settings.redis_url or "redis://127.0.0.1:6379")
    queue_name = settings.arq_queue_name
    timezone = settings.tz
    max_tries = 5
    handle_signals = True
