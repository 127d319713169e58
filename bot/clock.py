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
