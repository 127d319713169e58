"""Sample variables for the order lifecycle's and the statement's templates."""

from __future__ import annotations

from datetime import date
from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "order_dispatched": {
        "name": "Ramesh",
        "order_id": 1042,
        "total": 1_835_000,
        "mode": "CREDIT",
        "due_date": date(2026, 2, 1),
    },
    "order_cancelled": {
        "name": "Ramesh",
        "order_id": 1042,
        "total": 1_835_000,
        "reason": "out of stock at the warehouse",
        "reversed": 1_825_000,
        "credited": 10_000,
        "to_advance": 10_000,
    },
}

SAMPLES |= {
    "admin_orders": {
        "which": "open",
        "groups": [
            {
                "status": "PLACED",
                "more": True,
                "orders": [
                    {
                        "id": 12,
                        "status": "PLACED",
                        "retailer_id": 1,
                        "name": "Ramesh",
                        "shop_name": "Ramesh Stores",
                        "total": 1_835_000,
                        "mode": "CREDIT",
                        "placed_on": date(2026, 1, 15),
                    }
                ],
            },
            {"status": "DISPATCHED", "more": False, "orders": []},
        ],
    },
    "admin_order_moved": {
        "id": 1,
        "name": "Ramesh",
        "shop_name": "Ramesh Stores",
        "order_id": 12,
        "action": "cancel",
        "status": "CANCELLED",
        "total": 1_835_000,
        "mode": "CREDIT",
        "reason": "out of stock",
        "reversed": 1_825_000,
        "credited": 10_000,
        "to_advance": 10_000,
        "told": True,
    },
    "admin_returned": {
        "id": 1,
        "name": "Ramesh",
        "shop_name": "Ramesh Stores",
        "order_id": 12,
        "amount": 50_000,
        "reason": "2 packets torn",
        "returnable": 1_785_000,
        "to_advance": 0,
        "outstanding_before": 1_835_000,
        "outstanding_after": 1_785_000,
    },
    "admin_price": {
        "sku": "ATTA-5",
        "name": "Aashirvaad Atta 5kg",
        "price": 27_000,
        "old_price": 25_000,
        "changed": True,
        "active": True,
    },
}

SAMPLES |= {
    "statement": {
        "name": "Ramesh",
        "has_credit": True,
        "today": date(2026, 2, 20),
        "items": [
            {
                "order_id": 12,
                "amount": 1_835_000,
                "unpaid": 1_825_000,
                "paid": 10_000,
                "date": date(2026, 1, 15),
                "due_date": date(2026, 1, 30),
                "days_overdue": 21,
                "reason": None,
                "note": None,
            },
            {
                "order_id": None,
                "amount": 50_000,
                "unpaid": 50_000,
                "paid": 0,
                "date": date(2026, 2, 10),
                "due_date": date(2026, 2, 25),
                "days_overdue": 0,
                "reason": "correction",
                "note": "weight short on invoice 88",
            },
        ],
        "more_count": 38,
        "more_total": 1_234_000,
        "total": 3_109_000,
        "overdue_total": 1_825_000,
        "next_due": {"date": date(2026, 1, 30), "amount": 1_825_000, "overdue": False},
    },
    "cart_prices_changed": {
        "changes": [{"name": "Bru Instant Coffee 200g", "old_price": 34_000, "new_price": 36_500}],
    },
    "prices_changed": {
        "changes": [{"name": "Aashirvaad Atta 5kg", "old_price": 25_000, "new_price": 27_000}],
        "total": 118_000,
    },
}
