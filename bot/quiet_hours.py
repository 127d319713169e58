"""Quiet hours, pure: when a business-initiated message may go (DESIGN section 10, `QUIET_HOURS`).

A shopkeeper's phone buzzing at midnight with a payment reminder is the fastest way to an opt-out.
Messages the business starts on its own (reminders, checkout follow-ups, weekly insights, notices
that can wait) are held while the business zone's clock is inside the quiet window and go when it
ends; what answers the retailer's own act (a chat reply, an order they are waiting on, a receipt,
an operator's test) is never held: `MessageKind.urgent` in `bot/messages.py` says which is which.

- `parse_quiet_hours`: `"21:00-08:00"` (a window may cross midnight); `""`/`"off"` for none.
- `may_send_at`: `now`, or the end of the window `now` falls in (UTC).
- `release_at`: the same for one message kind (an urgent one always `now`).

The outbox applies it twice: when a message is queued (its `next_attempt_at` and `quiet_until`
say when it goes) and again when the sender takes it (a retry or a queue that ran late may fall
inside the window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.messages import MessageKind

DEFAULT_QUIET_HOURS = "21:00-08:00"
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_OFF = frozenset({"", "off", "none", "no"})


@dataclass(frozen=True)
class QuietHours:
    """From `start` (inclusive) to `end` (exclusive), in the business zone; crosses midnight
    when `end` <= `start` (21:00-08:00)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        """Whether a wall-clock time of the business zone is inside the window."""
        local = local.replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def parse_quiet_hours(text: str) -> QuietHours | None:
    """`HH:MM-HH:MM` as a window; None for `""`, `off` or `none`. ValueError says what is wrong."""
    if text.strip().lower() in _OFF:
        return None
    m = _WINDOW.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a window like 21:00-08:00 (or off)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60):
        raise ValueError(f"{text!r} has a time that is not on a 24-hour clock")
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise ValueError(f"{text!r} starts and ends at the same time (say off for none)")
    return QuietHours(start, end)


def may_send_at(now: datetime, quiet: QuietHours | None, tz: tzinfo) -> datetime:
    """`now` outside the window (or with none); inside it, the moment it ends (in UTC)."""
    if quiet is None:
        return now
    local = now.astimezone(tz)
    if not quiet.contains(local.time()):
        return now
    day: date = local.date()
    if local.time() >= quiet.end:  # after midnight's side ends: the end is tomorrow
        day += timedelta(days=1)
    return datetime.combine(day, quiet.end, tzinfo=tz).astimezone(UTC)


def release_at(
    kind: MessageKind | str, now: datetime, quiet: QuietHours | None, tz: tzinfo
) -> datetime:
    """When a message of `kind` may go: `now` for an urgent kind (or one this code does not
    know: not ours to hold), else `may_send_at`."""
    try:
        urgent = MessageKind(kind).urgent
    except ValueError:
        urgent = True
    return now if urgent else may_send_at(now, quiet, tz)
