"""How long each text field may be: one table for the admin API, onboarding (the API and the CSV
import) and the ledger (so the admin chat's reasons and references too).

Keyed by the field's name on the API (camelCase), which is also the name a refusal quotes
(`reference is longer than 100 characters`). The limits bound what a person types into a form or
a chat command, far below what the database would hold.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

MAX_LENGTH: Final = MappingProxyType(
    {
        # retailers
        "phone": 40,
        "name": 200,
        "shopName": 200,
        "vpa": 320,
        # products
        "sku": 64,
        "category": 100,
        "unit": 32,
        # credit operations
        "reason": 500,
        "notes": 500,
        "reference": 100,
        "adminId": 100,
        # operators
        "label": 100,
        # the test message
        "to": 40,
        "message": 1500,
        # request plumbing
        "Idempotency-Key": 200,
    }
)


def max_length(field: str) -> int:
    """The longest text `field` may hold; a KeyError names a field missing from the table."""
    return MAX_LENGTH[field]
