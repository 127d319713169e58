"""Sample variables for the templates the jobs send."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "payment_reminder": {
        "name": "Ramesh",
        "stage": "overdue",
        "items": [
            {
                "transaction_id": 11,
                "order_id": 1042,
                "unpaid": 1850000,
                "due_date": "2026-11-20",
                "days_overdue": 7,
                "stage": "overdue",
                "reason": None,
                "note": None,
            },
            {
                "transaction_id": 12,
                "order_id": None,
                "unpaid": 25050,
                "due_date": "2026-11-27",
                "days_overdue": 0,
                "stage": "due_today",
                "reason": "correction",
                "note": "short weight, invoice 88",
            },
        ],
        "total_due": 1875050,
        "breakdown": {"overdue": 1850000, "due_today": 25050, "due_soon": 0},
    },
    "insights": {
        "name": "Ramesh",
        "orders": 6,
        "spend": 12500000,
        "average_order": 2083333,
        "days_since_last": 9,
        "typical_gap": 7,
        "due_to_reorder": True,
        "top_items": [{"name": "Aashirvaad Atta 10kg", "quantity": 24}],
        "window_days": 90,
        "weekly": True,
    },
    "pending_order_follow_up": {
        "name": "Ramesh",
        "pending_order_id": 77,
        "total": 452000,
        "item_count": 3,
        "expires_at": "2026-11-28T10:00:00+05:30",
    },
}
