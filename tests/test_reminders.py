from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.reminders import (
    ReminderDebit,
    ReminderPolicy,
    ReminderStage,
    latest_point,
    plan_reminder,
    refresh_reminder,
    reminder_owed,
    stage_for,
)

ORDERED = date(2026, 1, 1)
DUE = ORDERED + timedelta(days=15)  # default terms


def day(n: int) -> date:
    """Day n of the debit's life (day 0 = order date)."""
    return ORDERED + timedelta(days=n)


@pytest.mark.parametrize(
    "n, stage",
    [(12, ReminderStage.DUE_SOON), (14, ReminderStage.DUE_SOON), (15, ReminderStage.DUE_TODAY), (16, ReminderStage.OVERDUE),
     (28, ReminderStage.OVERDUE), (29, ReminderStage.ESCALATING), (90, ReminderStage.ESCALATING)],
)  # fmt: skip
def test_stage(n: int, stage: ReminderStage) -> None:
    assert stage_for(DUE, day(n)) == stage


@pytest.mark.parametrize(
    "n, point",
    [(11, None), (12, 12), (13, 12), (15, 15), (16, 16), (17, 16), (18, 18), (21, 18), (22, 22),
     (28, 22), (29, 29), (35, 29), (36, 36), (43, 43)],
)  # fmt: skip
def test_latest_point(n: int, point: int | None) -> None:
    assert latest_point(DUE, day(n)) == (day(point) if point is not None else None)


@pytest.mark.parametrize(
    "today, last, owed",
    [
        (11, None, False),  # too early
        (12, None, True),  # day 12: due soon
        (12, 12, False),  # already reminded today
        (13, 12, False),  # nothing new on day 13
        (15, 12, True),  # due today
        (16, 15, True),  # first day overdue
        (17, 16, False),
        (20, 12, True),  # missed days 15, 16, 18: caught up once
        (29, 22, True),  # escalating
        (30, 29, False),
    ],
)
def test_reminder_owed(today: int, last: int | None, owed: bool) -> None:
    debit = ReminderDebit(1, 10, 5000_00, DUE, day(last) if last is not None else None)
    assert reminder_owed(debit, day(today)) is owed


def test_paid_debit_is_never_owed() -> None:
    assert not reminder_owed(ReminderDebit(1, None, 0, DUE, None), day(20))


def test_one_plan_lists_every_due_item_with_the_worst_stage() -> None:
    debits = [
        ReminderDebit(2, 20, 300_00, DUE + timedelta(days=2), None),  # due in 2 days (horizon)
        ReminderDebit(1, 10, 1000_00, DUE - timedelta(days=5), day(15)),  # 5 days overdue
        ReminderDebit(3, 30, 700_00, DUE + timedelta(days=10), None),  # not yet in horizon
    ]
    plan = plan_reminder(debits, day(15))
    assert plan is not None
    assert [i.transaction_id for i in plan.items] == [1, 2]
    assert plan.stage == ReminderStage.OVERDUE
    assert plan.total_due == 1300_00
    assert plan.items[0].days_overdue == 5


def test_no_plan_when_nothing_owed() -> None:
    assert plan_reminder([ReminderDebit(1, 1, 100_00, DUE, day(15))], day(15)) is None
    assert plan_reminder([], day(15)) is None


def test_policy_is_configurable() -> None:
    policy = ReminderPolicy(days_before_due=1, overdue_days=(2,), escalate_from=5, escalate_every=5)
    assert latest_point(DUE, day(14), policy) == day(14)
    assert latest_point(DUE, day(19), policy) == day(17)
    assert latest_point(DUE, day(25), policy) == day(25)


QUEUED = {
    "name": "Rahman",
    "stage": "escalating",
    "items": [
        {"transaction_id": 4, "order_id": 4, "unpaid": 14_850_00, "due_date": "2026-01-02",
         "days_overdue": 25},
        {"transaction_id": 5, "order_id": 5, "unpaid": 9_000_00, "due_date": "2026-01-26",
         "days_overdue": 1},
    ],
    "total_due": 23_850_00,
}  # fmt: skip
SENT_ON = date(2026, 1, 27)


@pytest.mark.parametrize(
    "unpaid_now, items, stage, total",
    [
        # nothing paid: the same message
        ({4: 14_850_00, 5: 9_000_00}, [(4, 14_850_00), (5, 9_000_00)], "escalating", 23_850_00),
        # the oldest paid: dropped, and the message is no longer "long overdue"
        ({5: 9_000_00}, [(5, 9_000_00)], "overdue", 9_000_00),
        # part-paid: what is left
        ({4: 850_00, 5: 9_000_00}, [(4, 850_00), (5, 9_000_00)], "escalating", 9_850_00),
    ],
)
def test_refresh_reminder_says_what_is_owed_when_sent(
    unpaid_now: dict[int, int], items: list[tuple[int, int]], stage: str, total: int
) -> None:
    fresh = refresh_reminder(QUEUED, unpaid_now, SENT_ON)
    assert fresh is not None
    assert [(i["transaction_id"], i["unpaid"]) for i in fresh["items"]] == items
    assert (fresh["stage"], fresh["total_due"], fresh["name"]) == (stage, total, "Rahman")


def test_refresh_reminder_when_all_paid_or_from_an_older_version() -> None:
    assert refresh_reminder(QUEUED, {}, SENT_ON) is None
    old = {"items": [{"order_id": 4, "unpaid": 100}], "total_due": 100}
    assert refresh_reminder(old, {4: 50}, SENT_ON) == old
    # Sent a day late: days late follow the day it is sent.
    later = refresh_reminder(QUEUED, {4: 1, 5: 1}, SENT_ON + timedelta(days=1))
    assert later is not None and [i["days_overdue"] for i in later["items"]] == [26, 2]
