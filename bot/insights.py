"""A shop's buying pattern, from its recent orders (pure).

What a retailer (and the distributor's staff) want to know: how much and how often the shop
buys, what it buys most, and whether it is due to reorder.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Any

WINDOW_DAYS = 90


@dataclass(frozen=True)
class OrderLineSummary:
    product_id: int
    name: str
    quantity: int
    line_total: int


@dataclass(frozen=True)
class OrderSummary:
    order_id: int
    placed_on: date
    total: int  # paise
    payment_mode: str
    lines: tuple[OrderLineSummary, ...]


def compute_insights(orders: Sequence[OrderSummary], today: date) -> dict[str, Any]:
    """Insight data as JSON-ready values (amounts in paise, dates ISO)."""
    since = today - timedelta(days=WINDOW_DAYS)
    recent = sorted((o for o in orders if since < o.placed_on <= today), key=lambda o: o.placed_on)
    spend = sum(o.total for o in recent)
    quantities: Counter[str] = Counter()
    for order in recent:
        for line in order.lines:
            quantities[line.name] += line.quantity
    days = sorted({o.placed_on for o in recent})
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    typical_gap = round(median(gaps)) if gaps else None
    last = days[-1] if days else None
    since_last = (today - last).days if last else None
    credit_share = (
        round(100 * sum(o.total for o in recent if o.payment_mode == "CREDIT") / spend)
        if spend
        else 0
    )
    return {
        "asOf": today.isoformat(),
        "windowDays": WINDOW_DAYS,
        "orders": len(recent),
        "spend": spend,
        "averageOrder": spend // len(recent) if recent else 0,
        "lastOrderOn": last.isoformat() if last else None,
        "daysSinceLastOrder": since_last,
        "typicalGapDays": typical_gap,
        "dueToReorder": bool(
            typical_gap is not None and since_last is not None and since_last >= typical_gap
        ),
        "topItems": [{"name": n, "quantity": q} for n, q in quantities.most_common(3)],
        "creditSharePercent": credit_share,
    }


def insights_week(today: date, weekday: int) -> date:
    """The day the insights week of `today` began: the last `weekday` (0 = Monday) on or
    before it. One weekly message per retailer per such week."""
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def insights_vars(name: str, data: dict[str, Any], *, weekly: bool = False) -> dict[str, Any]:
    """Template variables for the `insights` message (`weekly`: the message the business sends
    each week, which says how to turn it off; otherwise the answer to `insights`).

    It makes one nudge, the one these figures support: a shop past its usual gap between orders
    is asked to repeat its last order (`due_to_reorder`); otherwise it is told when it last
    ordered, and nothing is pushed."""
    return {
        "weekly": weekly,
        "name": name,
        "orders": data["orders"],
        "spend": data["spend"],
        "average_order": data["averageOrder"],
        "days_since_last": data["daysSinceLastOrder"],
        "typical_gap": data["typicalGapDays"],
        "due_to_reorder": data["dueToReorder"],
        "top_items": data["topItems"],
        "window_days": data["windowDays"],
    }
