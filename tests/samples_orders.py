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
