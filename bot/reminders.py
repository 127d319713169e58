"""Which debits a retailer is reminded about, and when (pure).

With the default terms (15 days) a debit is reminded about from day 12 (3 days before it is due),
on its due day, then 1, 3 and 7 days overdue, then weekly. A reminder point missed (a worker down
that morning) is caught up by the next run; one reached point is reminded once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Stage(StrEnum):
    DUE_SOON = "due_soon"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    ESCALATING = "escalating"


_SEVERITY = {Stage.DUE_SOON: 0, Stage.DUE_TODAY: 1, Stage.OVERDUE: 2, Stage.ESCALATING: 3}


@dataclass(frozen=True)
class ReminderPolicy:
    days_before_due: int = 3
    overdue_days: tuple[int, ...] = (1, 3, 7)
    escalate_from: int = 14  # days overdue from which reminders escalate, weekly
    escalate_every: int = 7


@dataclass(frozen=True)
class OpenDebit:
    transaction_id: int
    order_id: int | None
    unpaid: int  # paise
    due_date: date
    last_reminded_on: date | None


@dataclass(frozen=True)
class ReminderItem:
    transaction_id: int
    order_id: int | None
    unpaid: int
    due_date: date
    days_overdue: int
    stage: Stage


@dataclass(frozen=True)
class ReminderPlan:
    stage: Stage  # the most severe stage among the items
    items: tuple[ReminderItem, ...]
    total_due: int


def stage_for(due_date: date, today: date, policy: ReminderPolicy = ReminderPolicy()) -> Stage:
    overdue = (today - due_date).days
    if overdue < 0:
        return Stage.DUE_SOON
    if overdue == 0:
        return Stage.DUE_TODAY
    if overdue < policy.escalate_from:
        return Stage.OVERDUE
    return Stage.ESCALATING


def reminder_points(due_date: date, policy: ReminderPolicy = ReminderPolicy()) -> Iterator[date]:
    """The days a debit is reminded on, in order (an endless series: weekly once escalating)."""
    yield due_date - timedelta(days=policy.days_before_due)
    yield due_date
    for days in policy.overdue_days:
        yield due_date + timedelta(days=days)
    n = policy.escalate_from
    while True:
        yield due_date + timedelta(days=n)
        n += policy.escalate_every


def latest_point(
    due_date: date, today: date, policy: ReminderPolicy = ReminderPolicy()
) -> date | None:
    """The last reminder day on or before `today`, or None when none has come yet."""
    latest = None
    for point in reminder_points(due_date, policy):
        if point > today:
            break
        latest = point
    return latest


def reminder_owed(debit: OpenDebit, today: date, policy: ReminderPolicy = ReminderPolicy()) -> bool:
    """True when a reminder day has come that this debit has not been reminded for."""
    point = latest_point(debit.due_date, today, policy)
    if point is None or debit.unpaid <= 0:
        return False
    return debit.last_reminded_on is None or debit.last_reminded_on < point


def plan_reminder(
    debits: Sequence[OpenDebit], today: date, policy: ReminderPolicy = ReminderPolicy()
) -> ReminderPlan | None:
    """One message per retailer: when any debit is owed a reminder, list every debit in the
    reminder horizon (due within `days_before_due` days or already due), oldest first."""
    if not any(reminder_owed(d, today, policy) for d in debits):
        return None
    horizon = today + timedelta(days=policy.days_before_due)
    items = tuple(
        ReminderItem(
            transaction_id=d.transaction_id,
            order_id=d.order_id,
            unpaid=d.unpaid,
            due_date=d.due_date,
            days_overdue=max(0, (today - d.due_date).days),
            stage=stage_for(d.due_date, today, policy),
        )
        for d in sorted(debits, key=lambda d: (d.due_date, d.transaction_id))
        if d.unpaid > 0 and d.due_date <= horizon
    )
    stage = max((i.stage for i in items), key=_SEVERITY.__getitem__)
    return ReminderPlan(stage=stage, items=items, total_due=sum(i.unpaid for i in items))
