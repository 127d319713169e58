"""One injectable clock: every service takes `now` from here, so jobs and tests run "as of" a date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests and "as of" runs; `advance` moves it forward."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 15, 6, 30, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


def business_date(moment: datetime, tz: tzinfo) -> date:
    """The calendar day of `moment` in the business time zone."""
    return moment.astimezone(tz).date()


# How far back a job or evaluation may be run "as of" (catching up missed runs).
AS_OF_DAYS_BACK = 31


def as_of_problem(as_of: date, today: date, *, today_only: bool = False) -> str | None:
    """Why a job cannot run as of `as_of` when it is `today`, or None.

    Its changes and messages happen now: as of a future day it would act as if time had passed.
    A run that changes credit or messages retailers (`today_only`) runs as of today alone: as of
    a past day it would lift pauses for debts overdue today, or remind twice in one real day; it
    catches up missed days by itself. Other runs may look back `AS_OF_DAYS_BACK` days.
    """
    if as_of > today:
        return f"the date {as_of.isoformat()} is in the future (today is {today.isoformat()})"
    if today_only and as_of != today:
        return f"this changes credit or messages retailers now, so it runs as of today ({today})"
    earliest = today - timedelta(days=AS_OF_DAYS_BACK)
    if as_of < earliest:
        return f"the date can be at most {AS_OF_DAYS_BACK} days back ({earliest.isoformat()})"
    return None
