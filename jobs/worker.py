"""arq WorkerSettings: deps are opened once in `on_startup` and shared through `ctx`.

Recovery from a worker that dies mid-job (`JobsWorker`). arq marks a job it starts with an
in-progress key and lets no other worker start it while the key lives; the job itself stays in
the queue until it finishes. arq sets that key for the longest job timeout plus 10 s (30 min 10 s
here) and never renews it, so a job whose worker was killed (SIGKILL, a lost machine) waited half
an hour. Here the key lives `IN_PROGRESS_LEASE` and the worker renews it every `RENEW_EVERY` while
the job runs (from its poll loop, beside arq's own heartbeat), so another worker starts the job
within `IN_PROGRESS_LEASE` + one poll of the kill; the job's own timeout is unchanged. A worker
stopped with SIGTERM (or Ctrl+C) cancels its jobs at once and deletes their keys, so they start
again on the next poll of any worker; its outbox sender finishes the row in hand and gives back
the rest. The jobs are sweeps over "due and not yet done", so the second attempt does only what
the first did not (docs/decisions.md, "Jobs survive deploys and kills").

A Redis outage does not end the worker (arq's poll loop would let the connection error end the
process): it keeps polling until Redis answers, taking no job meanwhile, while its outbox sender,
which needs only PostgreSQL, goes on sending under a per-process rate (`jobs.send_rate`). A slot
of the cron passed meanwhile is caught up by `catch_up_loop` (docs/decisions.md, "Faults and
scale-out"; tests/test_faults.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AsyncExitStack
from datetime import date, timedelta
from typing import Any, ClassVar

from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.worker import Worker, get_kwargs
from redis.exceptions import RedisError

from bot.cli.deps import Deps, open_deps
from bot.cli.logs import register_secrets, secrets_of, setup_logging
from bot.cli.metrics import serve_worker
from bot.settings import load_settings
from jobs.outbox_sender import run_sender
from jobs.payment_links import create_payment_link
from jobs.registry import JOBS
from jobs.runner import run_job_now
from jobs.schedule import cron_jobs_for, enqueue_missed, next_run

log = logging.getLogger(__name__)

settings = load_settings()

# How long a started job is kept from other workers without a renewal from its own.
IN_PROGRESS_LEASE = timedelta(seconds=15)
# A third of the lease: two renewals can be late (a slow Redis, a busy event loop) before it ends.
RENEW_EVERY = timedelta(seconds=5)
# Besides at start-up, missed slots of the day are looked for this often (a worker that was up
# but could not reach Redis at a slot's moment skipped it too).
CATCH_UP_EVERY = timedelta(minutes=5)
# While Redis does not answer, the poll loop tries it again this often.
REDIS_RETRY = timedelta(seconds=1)


class JobsWorker(Worker):
    """arq's worker with short, renewed in-progress keys (the module docstring says why)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # arq sets each started job's key for this long (its default: the longest timeout + 10 s).
        self.in_progress_timeout_s = IN_PROGRESS_LEASE.total_seconds()
        self._renewed_at = 0.0
        self._redis_down_since: float | None = None

    async def _poll_iteration(self) -> None:
        """arq's poll (start due jobs, renew keys, run the cron), living through a Redis outage:
        the error is logged once, and the poll tried again every `REDIS_RETRY` until it works.
        (`_poll_iteration` is arq's own, not public: tests/test_faults.py notices a change.)"""
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            if self._redis_down_since is None:
                self._redis_down_since = time.monotonic()
                log.warning(
                    "worker: Redis unavailable (%s); no job starts until it answers, the "
                    "outbox sender goes on",
                    type(exc).__name__,
                )
            await asyncio.sleep(REDIS_RETRY.total_seconds())
            return
        if self._redis_down_since is not None:
            log.warning(
                "worker: Redis answers again after %.0f s; taking jobs",
                time.monotonic() - self._redis_down_since,
            )
            self._redis_down_since = None

    async def close(self) -> None:
        """arq's close deletes the health key first, and raised before `on_shutdown` (which
        stops the outbox sender, giving its rows back) when Redis was away: then stop it here."""
        try:
            await super().close()
        except (RedisError, OSError):
            log.warning("worker: Redis unavailable while stopping; stopping without it")
            if self.on_shutdown and "stack" in self.ctx:
                await self.on_shutdown(self.ctx)

    async def heart_beat(self) -> None:
        await self.renew_in_progress()
        await super().heart_beat()

    async def renew_in_progress(self) -> None:
        """Extend the in-progress key of every job this worker is running."""
        now = time.monotonic()
        if now - self._renewed_at < RENEW_EVERY.total_seconds():
            return
        self._renewed_at = now
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if not running:
            return
        lease_ms = int(IN_PROGRESS_LEASE.total_seconds() * 1000)
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in running:
                # PEXPIRE never creates a key: one arq removed as the job ended stays removed.
                pipe.pexpire(in_progress_key_prefix + job_id, lease_ms)
            await pipe.execute()

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        # A job cancelled by a stopping worker (not finished, not deferred by a Retry) is to run
        # again now: arq would keep a cron job's key 60 s more, holding it from other workers.
        if not finish and incr_score is None:
            keep_in_progress = None
        await super().finish_job(
            job_id,
            finish,
            result_data,
            result_timeout_s,
            keep_result_forever,
            incr_score,
            keep_in_progress,
        )


def schedule_line(deps: Deps) -> str:
    """One line naming every job and its next run in BUSINESS_TZ (logged at start-up)."""
    now = deps.clock.now()
    tz = deps.settings.tz
    parts = [f"{name} {next_run(name, now, tz).astimezone(tz):%Y-%m-%d %H:%M}" for name in JOBS]
    return f"jobs ({deps.settings.business_tz}), next runs: " + ", ".join(parts)


async def catch_up_loop(deps: Deps, redis: ArqRedis, queue_name: str, stop: asyncio.Event) -> None:
    """Queue missed slots of the day now and every `CATCH_UP_EVERY` until `stop` is set."""
    while not stop.is_set():
        try:
            await enqueue_missed(deps, redis, queue_name)
        except Exception:  # Redis or the database away: the next round looks again
            log.exception("catch-up of missed job slots failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CATCH_UP_EVERY.total_seconds())


async def startup(ctx: dict[str, Any]) -> None:
    setup_logging()
    register_secrets(secrets_of(settings))
    # Its job runs and sends, for Prometheus (METRICS_PORT; the web app has its own /metrics).
    serve_worker(settings.metrics_port, settings.metrics_host)
    stack = AsyncExitStack()
    ctx["stack"] = stack
    deps: Deps = await stack.enter_async_context(open_deps(settings, pool_size=5))
    ctx["deps"] = deps
    log.info("%s", schedule_line(deps))
    ctx["stop"] = asyncio.Event()
    # The outbox sender runs beside the jobs for the worker's whole life.
    ctx["sender"] = asyncio.create_task(run_sender(deps, ctx["stop"]))
    ctx["catch_up"] = asyncio.create_task(
        catch_up_loop(deps, deps.redis, settings.arq_queue_name, ctx["stop"])
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    if "stop" in ctx:
        ctx["stop"].set()
        # On timeout wait_for cancels it; its leased rows return to the queue when the lease ends.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx["sender"], timeout=20)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx["catch_up"], timeout=5)
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


def run() -> None:
    """Run the worker until SIGTERM or SIGINT (`python -m bot worker`)."""
    JobsWorker(**get_kwargs(WorkerSettings)).run()  # type: ignore[arg-type]
