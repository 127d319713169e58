"""What a retailer owes, item by item, for the chat's `statement` and `balance` (pure).

`Dues` is loaded by the handler (`db.statements.get_dues`: the open debits, soonest due first, the
first few of them and the count and total of all); `dues_vars` turns it into the variables of the
`statement` reply (the renderer lists fewer of them, summing up the rest with the others, when the
message would not fit one WhatsApp message); `next_due` is the line `balance` ends with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

# Items listed one by one in chat; beyond them one line sums the rest ("and 38 more items").
SHOWN_ITEMS = 8


@dataclass(frozen=True)
class DueItem:
    """An open debit: an order (or a debit adjustment) still owed, in part or whole."""

    transaction_id: int
    order_id: int | None
    amount: int
    unpaid: int
    txn_date: date
    due_date: date
    # A debit adjustment's reason (return, dispute, discount, correction) and the operator's
    # note, so the retailer reads why they owe it (None for an order).
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Dues:
    """The open debits, soonest due first: the first few of them, and the count and unpaid total
    of all."""

    items: tuple[DueItem, ...] = ()
    count: int = 0
    total: int = 0
    overdue: int = 0  # unpaid on items past their due date


def days_overdue(due_date: date, today: date) -> int:
    """Days past the due date (0 when not yet past it)."""
    return max(0, (today - due_date).days)


def dues_vars(dues: Dues, today: date, *, shown: int = SHOWN_ITEMS) -> dict[str, Any]:
    """The `statement` reply's variables: the first `shown` items with their days overdue, what
    the rest come to, the total, what of it is overdue."""
    items = dues.items[:shown]
    listed = sum(i.unpaid for i in items)
    return {
        "items": [
            {
                "order_id": i.order_id,
                "amount": i.amount,
                "unpaid": i.unpaid,
                "paid": i.amount - i.unpaid,
                "date": i.txn_date,
                "due_date": i.due_date,
                "days_overdue": days_overdue(i.due_date, today),
                "reason": i.reason,
                "note": i.note,
            }
            for i in items
        ],
        "more_count": dues.count - len(items),
        "more_total": dues.total - listed,
        "total": dues.total,
        "overdue_total": dues.overdue,
        "next_due": next_due(dues, today),
    }


def next_due(dues: Dues, today: date) -> dict[str, Any] | None:
    """The nearest due date and what is owed on that day (None when nothing is owed).

    When that date has passed (`overdue`), it is what is owed past its due date, from the oldest
    due date on: "next due" on a day already gone would tell the retailer it can still wait."""
    if not dues.items:
        return None
    first = dues.items[0].due_date
    if first < today:
        past_due = sum(i.unpaid for i in dues.items if i.due_date < today)
        return {"date": first, "amount": max(dues.overdue, past_due), "overdue": True}
    return {
        "date": first,
        "amount": sum(i.unpaid for i in dues.items if i.due_date == first),
        "overdue": False,
    }
