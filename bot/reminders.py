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
    # An operator's adjustment (no order): its reason (return, dispute, discount, correction)
    # and note, so the reminder names what the charge is.
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReminderItem:
    transaction_id: int
    order_id: int | None
    unpaid: int
    due_date: date
    days_overdue: int
    stage: ReminderStage
    reason: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The item as the reminder's variables keep it (and `refresh_reminder` reads it)."""
        return {
            "transaction_id": self.transaction_id,
            "order_id": self.order_id,
            "unpaid": self.unpaid,
            "due_date": self.due_date.isoformat(),
            "days_overdue": self.days_overdue,
            "stage": self.stage.value,
            "reason": self.reason,
            "note": self.note,
        }


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
            reason=d.reason,
            note=d.note,
        )
        for d in sorted(debits, key=lambda d: (d.due_date, d.transaction_id))
        if d.unpaid > 0 and d.due_date <= horizon
    )
    stage = max((i.stage for i in items), key=_SEVERITY.__getitem__)
    return ReminderPlan(stage=stage, items=items, total_due=sum(i.unpaid for i in items))


def breakdown(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """What a reminder's items add up to, by when they are due: overdue, due today, due soon.
    An item due today is not "due soon" (nor overdue yet)."""
    out = {"overdue": 0, "due_today": 0, "due_soon": 0}
    for item in items:
        unpaid = int(item["unpaid"])
        if int(item.get("days_overdue") or 0) > 0:
            out["overdue"] += unpaid
        elif item.get("stage") == ReminderStage.DUE_TODAY:
            out["due_today"] += unpaid
        else:
            out["due_soon"] += unpaid
    return out


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
        stage = stage_for(due, today, policy)
        stages.append(stage)
        days_overdue = max(0, (today - due).days)
        kept.append({**item, "unpaid": left, "days_overdue": days_overdue, "stage": stage.value})
    if not kept:
        return None
    total = sum(i["unpaid"] for i in kept)
    fresh = {
        **variables,
        "stage": max(stages, key=_SEVERITY.__getitem__).value,
        "items": kept,
        "total_due": total,
        "breakdown": breakdown(kept),
    }
    if "pay" in variables:  # how to pay follows the total (a link for another amount is dropped)
        fresh["pay"] = refresh_pay(variables["pay"], total)
    return fresh
