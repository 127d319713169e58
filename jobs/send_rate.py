"""The outbox's send rate, shared by every sender process through Redis.

Each send takes a slot on one Redis key, with the generic cell rate algorithm (GCRA): the key
holds the time the next send may start; a reservation takes that time (or now, when it has
passed) and moves it on by 1/rate per slot. Lua scripts do it atomically on Redis' own clock, so
senders on different machines share one rate without trusting each other's clocks. With
capacity 1 there are no bursts: sends are spaced by 1/rate, as Twilio's per-sender limit wants.

A sender reserves its round's slots right after it claims rows (`reserve_within`), and only
slots that start within a horizon (half the rows' lease): a row with no slot in time is given
back at once instead of waiting, leased, for a slot after its lease ends (another sender would
then take it and send it too). Before claiming, `backlog` says how long the slots other senders
hold already reach, so a sender claims no more than the rate can serve in time. Slots a round
did not use go back when nobody has reserved after them (`give_back`).

If Redis does not answer, the process falls back to its own `TokenBucket` (the rate then holds
per process only) rather than stop sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.sending import TokenBucket

log = logging.getLogger(__name__)

_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

# KEYS[1]: the limiter's key; ARGV[1]: microseconds between sends.
# Returns {slot, now} in microseconds on Redis' clock: the send may start at `slot`.
_RESERVE = (
    _CLOCK
    + """
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or now)
if slot < now then slot = now end
local after = slot + interval
redis.call('SET', KEYS[1], after, 'PX', math.ceil((after - now) / 1000) + 1000)
return {slot, now}
"""
)

# ARGV[1]: microseconds between sends, ARGV[2]: most slots wanted, ARGV[3]: horizon (µs).
# Reserves the consecutive slots that start before now + horizon, at most ARGV[2] of them.
# Returns {first slot, how many, now} in microseconds on Redis' clock (how many may be 0).
_RESERVE_WITHIN = (
    _CLOCK
    + """
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or now)
if slot < now then slot = now end
local room = now + tonumber(ARGV[3]) - slot
local n = 0
if room > 0 then n = math.min(tonumber(ARGV[2]), math.floor((room - 1) / interval) + 1) end
if n > 0 then
  local after = slot + n * interval
  redis.call('SET', KEYS[1], after, 'PX', math.ceil((after - now) / 1000) + 1000)
end
return {slot, n, now}
"""
)

# ARGV[1]: the key's value a reservation left (µs); ARGV[2]: the value before its unused slots.
# Only when nobody reserved since (the key still holds ARGV[1]): returns 1 if given back.
_GIVE_BACK = (
    _CLOCK
    + """
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) ~= tonumber(ARGV[1]) then return 0 end
local back = tonumber(ARGV[2])
if back <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], back, 'PX', math.ceil((back - now) / 1000) + 1000)
end
return 1
"""
)

# Returns how far (µs) the reserved slots reach past now on Redis' clock (0: a slot is free).
_BACKLOG = (
    _CLOCK
    + """
local slot = tonumber(redis.call('GET', KEYS[1]) or now)
if slot < now then return 0 end
return slot - now
"""
)


@dataclass(frozen=True)
class Slot:
    """A reserved send time, in microseconds on Redis' clock."""

    at: int
    now: int

    @property
    def wait(self) -> float:
        """Seconds to wait before sending."""
        return max(0, self.at - self.now) / 1_000_000


@dataclass
class Reservation:
    """`count` consecutive slots, `interval` seconds apart, the first at `first` (seconds on
    `time.monotonic()`), taken one by one with `take`. `tail_us` / `first_us`: the key's value
    after and at the reservation (None when reserved by the local fallback)."""

    first: float
    count: int
    interval: float
    tail_us: int | None = None
    first_us: int | None = None
    used: int = 0  # slots taken, or skipped as past, so far

    def start(self, i: int) -> float:
        """When slot `i` may start (monotonic seconds)."""
        return self.first + i * self.interval

    async def take(self, stop: asyncio.Event | None = None) -> bool:
        """Wait for the next slot and take it; False when none is left, or `stop` is set while
        waiting (the slot is then left for `SharedSendRate.give_back`). A slot whose time is more
        than half an interval past is skipped (wasted, never crowding the next one: the rate is
        not exceeded because an earlier row took long)."""
        now = time.monotonic()
        while self.used < self.count and self.start(self.used) < now - self.interval / 2:
            self.used += 1
        if self.used >= self.count:
            return False
        wait = self.start(self.used) - now
        if wait > 0 and stop is None:
            await asyncio.sleep(wait)
        elif wait > 0 and stop is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return False
        self.used += 1
        return True


class SharedSendRate:
    """`rate` sends per second across every process that uses the same Redis `key`."""

    def __init__(self, redis: Redis, key: str, rate: float) -> None:
        self.redis = redis
        self.key = key
        self.rate = rate
        self.interval_us = max(1, round(1_000_000 / rate))
        self._script = redis.register_script(_RESERVE)
        self._within = redis.register_script(_RESERVE_WITHIN)
        self._give_back = redis.register_script(_GIVE_BACK)
        self._backlog = redis.register_script(_BACKLOG)
        self._local = TokenBucket(rate=rate)
        self._last_local: Reservation | None = None
        self._degraded = False

    async def reserve(self) -> Slot:
        """Take the next slot (Redis errors propagate)."""
        at, now = await self._script(keys=[self.key], args=[self.interval_us])
        return Slot(int(at), int(now))

    async def wait(self) -> None:
        """Sleep until this process may send its next message (one slot, however far)."""
        try:
            seconds = (await self.reserve()).wait
            self._redis_answers()
        except (RedisError, OSError) as exc:
            self._redis_fails(exc)
            seconds = self._local.reserve(time.monotonic())
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def backlog(self) -> float:
        """Seconds until the next free slot, across every sender (0 when one is free now)."""
        try:
            ahead = int(await self._backlog(keys=[self.key]))
            self._redis_answers()
        except (RedisError, OSError) as exc:
            self._redis_fails(exc)
            return self._local_backlog()
        return ahead / 1_000_000

    async def reserve_within(self, count: int, horizon: float) -> Reservation:
        """Reserve up to `count` consecutive slots, those that start within `horizon` seconds
        (none when the slots other senders hold reach further)."""
        if count <= 0:
            return Reservation(time.monotonic(), 0, 1 / self.rate)
        try:
            first, n, now = await self._within(
                keys=[self.key], args=[self.interval_us, count, max(1, int(horizon * 1e6))]
            )
            self._redis_answers()
        except (RedisError, OSError) as exc:
            self._redis_fails(exc)
            return self._reserve_locally(count, horizon)
        first, n, now = int(first), int(n), int(now)
        return Reservation(
            first=time.monotonic() + (first - now) / 1_000_000,
            count=n,
            interval=self.interval_us / 1_000_000,
            tail_us=first + n * self.interval_us,
            first_us=first,
        )

    async def give_back(self, reservation: Reservation) -> None:
        """Return the slots a round did not reach, when no one has reserved after them (else
        they stay unused: the rate is then under-used for a moment, never exceeded)."""
        unused = reservation.count - reservation.used
        if unused <= 0:
            return
        if reservation.tail_us is None or reservation.first_us is None:
            if reservation is self._last_local:
                self._local.tokens += unused
            return
        back = reservation.first_us + reservation.used * self.interval_us
        try:
            await self._give_back(keys=[self.key], args=[reservation.tail_us, back])
        except (RedisError, OSError) as exc:
            self._redis_fails(exc)

    def _reserve_locally(self, count: int, horizon: float) -> Reservation:
        now = time.monotonic()
        waits: list[float] = []
        while len(waits) < count:
            wait = self._local.reserve(now)
            if wait >= horizon:
                self._local.tokens += 1  # not taken after all
                break
            waits.append(wait)
        reservation = Reservation(now + (waits[0] if waits else 0), len(waits), 1 / self.rate)
        self._last_local = reservation
        return reservation

    def _local_backlog(self) -> float:
        bucket = self._local
        if bucket.updated is None:
            return 0.0
        tokens = bucket.tokens + max(0.0, time.monotonic() - bucket.updated) * bucket.rate
        return max(0.0, 1.0 - tokens) / bucket.rate

    def _redis_answers(self) -> None:
        if self._degraded:
            log.info("send rate: Redis answers again; the rate is shared again")
            self._degraded = False

    def _redis_fails(self, exc: BaseException) -> None:
        if not self._degraded:
            log.warning(
                "send rate: Redis unavailable (%s); limiting this process only",
                type(exc).__name__,
            )
            self._degraded = True


def send_rate_key(queue_name: str) -> str:
    """One limiter per deployment: the arq queue name already separates deployments."""
    return f"{queue_name}:send-rate"
