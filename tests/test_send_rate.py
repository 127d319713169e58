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


async def test_a_round_reserves_only_the_slots_that_start_in_time(redis_url: str) -> None:
    """Slots for a round of rows: consecutive, only those that start within the horizon (half
    the rows' lease), so no claimed row waits past its lease for a slot."""
    key = f"test:send-rate:{secrets.token_hex(4)}"
    first, second = redis_client(redis_url), redis_client(redis_url)
    try:
        a = SharedSendRate(first, key, rate=10)
        b = SharedSendRate(second, key, rate=10)
        assert await a.backlog() == 0
        mine = await a.reserve_within(5, horizon=1.0)
        assert (mine.count, mine.interval) == (5, 0.1)
        assert 0.45 < await b.backlog() <= 0.5  # 5 slots of 0.1 s held by the first sender
        # The other sender gets what is left of its horizon: the slots after the first's, each
        # starting within a second of its asking.
        theirs = await b.reserve_within(50, horizon=1.0)
        asked = time.monotonic()
        assert 5 <= theirs.count <= 6
        assert theirs.start(0) - mine.start(4) == pytest.approx(0.1, abs=0.01)
        assert theirs.start(theirs.count - 1) < asked + 1.0
        # The rate is taken further than a short horizon reaches: nothing more.
        assert (await a.reserve_within(3, horizon=0.5)).count == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_slots_a_round_did_not_use_go_back_when_nobody_reserved_after(
    redis_url: str,
) -> None:
    key = f"test:send-rate:{secrets.token_hex(4)}"
    redis = redis_client(redis_url)
    try:
        rate = SharedSendRate(redis, key, rate=10)
        mine = await rate.reserve_within(5, horizon=10.0)
        assert await mine.take()  # one row was sent; four slots unused
        await rate.give_back(mine)
        assert await rate.backlog() <= 0.1
        # Once someone reserved after them, they stay spent (the rate is never exceeded).
        mine = await rate.reserve_within(5, horizon=10.0)
        later = await rate.reserve_within(1, horizon=10.0)
        await rate.give_back(mine)
        assert later.count == 1 and 0.5 < await rate.backlog() <= 0.7
    finally:
        await redis.aclose()


async def test_a_slot_that_went_by_is_skipped_not_crowded_in() -> None:
    from jobs.send_rate import Reservation

    now = time.monotonic()
    slots = Reservation(first=now - 1.0, count=12, interval=0.1)
    # The first ten slots' times have passed (earlier rows took long): the next is slot 10.
    assert await slots.take()
    assert slots.used == 11
    empty = Reservation(first=now - 5.0, count=3, interval=0.1)
    assert not await empty.take()


async def test_without_redis_a_round_reserves_from_the_process_own_limit() -> None:
    unreachable = redis_client("redis://127.0.0.1:1/0")
    rate = SharedSendRate(unreachable, "test:send-rate:down", rate=10)
    try:
        mine = await rate.reserve_within(50, horizon=1.0)
        assert mine.count == 10 and mine.interval == 0.1
        assert (await rate.reserve_within(5, horizon=0.5)).count == 0
        assert 0.5 < await rate.backlog() <= 1.0
    finally:
        await unreachable.aclose()
