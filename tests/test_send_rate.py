"""The send rate shared through Redis (real Redis): slots spaced by 1/rate across processes."""

from __future__ import annotations

import itertools
import logging
import secrets
import time

import pytest

from bot.cli.deps import redis_client
from jobs.send_rate import SharedSendRate, Slot


def test_slot_wait() -> None:
    assert Slot(at=1_250_000, now=1_000_000).wait == 0.25
    assert Slot(at=1_000_000, now=1_000_000).wait == 0.0


async def test_two_senders_share_one_rate(redis_url: str) -> None:
    """Two processes (two clients) reserving in turn get one slot every 1/rate seconds."""
    key = f"test:send-rate:{secrets.token_hex(4)}"
    first, second = redis_client(redis_url), redis_client(redis_url)
    try:
        a = SharedSendRate(first, key, rate=10)
        b = SharedSendRate(second, key, rate=10)
        slots = [await (a if i % 2 else b).reserve() for i in range(10)]
        other = await SharedSendRate(first, key + ":other", rate=10).reserve()
        ttl_ms = await first.pttl(key)
    finally:
        await first.aclose()
        await second.aclose()
    gaps = {later.at - earlier.at for earlier, later in itertools.pairwise(slots)}
    assert gaps == {100_000}  # microseconds: exactly 1/rate apart, whoever asked
    assert slots[0].wait == 0 and 0.5 < slots[-1].wait <= 0.9
    assert other.wait == 0  # another deployment's key is not slowed down
    assert 0 < ttl_ms <= 2_000  # the key expires soon after the last reserved slot


async def test_without_redis_the_process_limits_itself(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = redis_client("redis://127.0.0.1:1/0")
    rate = SharedSendRate(unreachable, "test:send-rate:down", rate=20)
    try:
        with caplog.at_level(logging.WARNING, logger="jobs.send_rate"):
            started = time.monotonic()
            for _ in range(3):
                await rate.wait()
            took = time.monotonic() - started
    finally:
        await unreachable.aclose()
    assert took >= 0.09  # the second and third sends waited 1/20 s each
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per send
