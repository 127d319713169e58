"""The outbox's send rate, shared by every sender process through Redis.

Each send reserves the next free slot on one Redis key, with the generic cell rate algorithm
(GCRA): the key holds the time the next send may start; a reservation takes that time (or now,
when it has passed) and moves it on by 1/rate. One Lua script does it atomically on Redis' own
clock, so senders on different machines share one rate without trusting each other's clocks.
With capacity 1 there are no bursts: sends are spaced by 1/rate, as Twilio's per-sender limit
wants. If Redis does not answer, the process falls back to its own `TokenBucket` for that send
(the rate then holds per process only) rather than stop sending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.sending import TokenBucket

log = logging.getLogger(__name__)

# KEYS[1]: the limiter's key; ARGV[1]: microseconds between sends.
# Returns {slot, now} in microseconds on Redis' clock: the send may start at `slot`.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or now)
if slot < now then slot = now end
local after = slot + interval
redis.call('SET', KEYS[1], after, 'PX', math.ceil((after - now) / 1000) + 1000)
return {slot, now}
"""


@dataclass(frozen=True)
class Slot:
    """A reserved send time, in microseconds on Redis' clock."""

    at: int
    now: int

    @property
    def wait(self) -> float:
        """Seconds to wait before sending."""
        return max(0, self.at - self.now) / 1_000_000


class SharedSendRate:
    """`rate` sends per second across every process that uses the same Redis `key`."""

    def __init__(self, redis: Redis, key: str, rate: float) -> None:
        self.redis = redis
        self.key = key
        self.rate = rate
        self.interval_us = max(1, round(1_000_000 / rate))
        self._script = redis.register_script(_RESERVE)
        self._local = TokenBucket(rate=rate)
        self._degraded = False

    async def reserve(self) -> Slot:
        """Take the next slot (Redis errors propagate)."""
        at, now = await self._script(keys=[self.key], args=[self.interval_us])
        return Slot(int(at), int(now))

    async def wait(self) -> None:
        """Sleep until this process may send its next message."""
        try:
            seconds = (await self.reserve()).wait
            if self._degraded:
                log.info("send rate: Redis answers again; the rate is shared again")
                self._degraded = False
        except (RedisError, OSError) as exc:
            if not self._degraded:
                log.warning(
                    "send rate: Redis unavailable (%s); limiting this process only",
                    type(exc).__name__,
                )
                self._degraded = True
            seconds = self._local.reserve(time.monotonic())
        if seconds > 0:
            await asyncio.sleep(seconds)


def send_rate_key(queue_name: str) -> str:
    """One limiter per deployment: the arq queue name already separates deployments."""
    return f"{queue_name}:send-rate"
