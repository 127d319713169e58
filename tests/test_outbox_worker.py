"""The arq worker's start-up runs the outbox sender beside the jobs; shut-down stops it."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from bot.clock import FixedClock
from bot.settings import Settings
from tests.test_outbox_sender import add_retailer, queue, row


async def test_worker_startup_runs_the_sender_and_shutdown_stops_it(
    db: asyncpg.Pool, settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobs.worker

    # No Twilio credentials: the worker's sender prints and marks the row SENT.
    local = settings.model_copy(update={"twilio_account_sid": None, "twilio_auth_token": None})
    monkeypatch.setattr(jobs.worker, "settings", local)
    rid = await add_retailer(db)
    # Queued "now" by the system clock, so the worker's real clock finds it due.
    row_id = await queue(db, clock.now(), retailer_id=rid, body="hello from the worker")

    ctx: dict[str, Any] = {}
    await jobs.worker.startup(ctx)
    try:
        for _ in range(100):
            if (await row(db, row_id))["status"] == "SENT":
                break
            await asyncio.sleep(0.05)
    finally:
        await jobs.worker.shutdown(ctx)
    assert (await row(db, row_id))["twilio_sid"] == f"local-{row_id}"
    assert ctx["sender"].done() and not ctx["sender"].cancelled()
