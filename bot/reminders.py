"""Which debits a retailer is reminded about, and when (pure).

With the default terms (15 days) a debit is reminded about from day 12 (3 days before it is due),
on its due day, then 1, 3 and 7 days overdue, then weekly. A reminder point missed (a worker down
that morning) is caught up by the next run; one reached point is reminded once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from bot.payments.pay import refresh_pay


class ReminderStage(StrEnum):
    DUE_SOON = "due_soon"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    ESCALATING = "escalating"


_SEVERITY = {
    ReminderStage.DUE_SOON: 0,
    ReminderStage.DUE_TODAY: 1,
    ReminderStage.OVERDUE: 2,
    ReminderStage.ESCALATING: 3,
}


@dataclass(frozen=True)
class ReminderPolicy:
    days_before_due: int = 3
    overdue_days: tuple[int, ...] = (1, 3, 7)
    escalate_from: int = 14  # days overdue from which reminders escalate, weekly
    escalate_every: int = 7


# The policy the reminders job and the sender use.
REMINDER_POLICY = ReminderPolicy()


@dataclass(frozen=True)
class ReminderDebit:
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
    stage: ReminderStage


@dataclass(frozen=True)
class ReminderPlan:
    stage: ReminderStage  # the most severe stage among the items
    items: tuple[ReminderItem, ...]
    total_due: int


def stage_for(
    due_date: date, today: date, policy: ReminderPolicy = ReminderPolicy()
) -> ReminderStage:
    overdue = (today - due_date).days
    if overdue < 0:
        return ReminderStage.DUE_SOON
    if overdue == 0:
        return ReminderStage.DUE_TODAY
    if overdue < policy.escalate_from:
        return ReminderStage.OVERDUE
    return ReminderStage.ESCALATING


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


def reminder_owed(
    debit: ReminderDebit, today: date, policy: ReminderPolicy = ReminderPolicy()
) -> bool:
    """True when a reminder day has come that this debit has not been reminded for."""
    point = latest_point(debit.due_date, today, policy)
    if point is None or debit.unpaid <= 0:
        return False
    return debit.last_reminded_on is None or debit.last_reminded_on < point


def plan_reminder(
    debits: Sequence[ReminderDebit], today: date, policy: ReminderPolicy = ReminderPolicy()
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


def refresh_reminder(
    variables: Mapping[str, Any],
    unpaid_now: Mapping[int, int],
    today: date,
    policy: ReminderPolicy = ReminderPolicy(),
) -> dict[str, Any] | None:
    """A queued reminder's variables made true when it is sent: debits paid since are dropped,
    part-paid ones show what is left, days late, the stage and the total follow `today`. None
    when nothing it lists is unpaid any more. `unpaid_now` maps a listed debit's transaction id
    to its unpaid paise (absent: paid). A reminder whose items lack a transaction id or due date
    (queued by an older version) is returned as it was."""
    items = variables.get("items")
    if not isinstance(items, list) or not items:
        return dict(variables)
    kept: list[dict[str, Any]] = []
    stages: list[ReminderStage] = []
    for item in items:
        tid = item.get("transaction_id") if isinstance(item, dict) else None
        if not isinstance(tid, int) or isinstance(tid, bool):
            return dict(variables)
        try:
            due = date.fromisoformat(str(item["due_date"]))
        except (KeyError, ValueError):
            return dict(variables)
        left = unpaid_now.get(tid, 0)
        if left <= 0:
            continue
        stages.append(stage_for(due, today, policy))
        kept.append({**item, "unpaid": left, "days_overdue": max(0, (today - due).days)})
    if not kept:
        return None
    total = sum(i["unpaid"] for i in kept)
    fresh = {
        **variables,
        "stage": max(stages, key=_SEVERITY.__getitem__).value,
        "items": kept,
        "total_due": total,
    }
    if "pay" in variables:  # how to pay follows the total (a link for another amount is dropped)
        fresh["pay"] = refresh_pay(variables["pay"], total)
    return fresh
