"""Sample variables for the ledger's templates (credit pause and resume, failed order, test)."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "credit_paused": {
        "name": "Ramesh",
        "reason": "₹22,000 unpaid for more than 30 days",
        "overdue_unpaid": 2_200_000,
        "max_outstanding_days": 30,
    },
    "credit_resumed": {
        "name": "Ramesh",
        "available": 7_800_000,
        "override_until": "2026-02-10",
        "overdue_unpaid": 2_200_000,
        "max_outstanding_days": 30,
        "after_payment": False,
    },
    "credit_blocked": {"name": "Ramesh", "support_phone": "+919876500000"},
    "order_failed": {
        "name": "Ramesh",
        "order_id": 1042,
        "reason": "out of stock at the warehouse",
        "total": 90_000,
        "reversed": 90_000,
        "credited": 10_000,
        "to_advance": 0,
    },
    "test_message": {"message": "Hello from the distributor"},
}
