"""Orders, pure: a line of a cart or an order, and a line priced from the catalogue.

One type per concept: the checkout's cart, the pending order, the ledger's placement and the
reorder all speak of `OrderLine` (what and how many) and `PricedLine` (with the price and name
snapshotted when the line was priced).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OrderLine:
    """A product and how many of it (a cart line, or a line of an order to place)."""

    product_id: int
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    """An order line with the product's SKU, name and price at the time (paise)."""

    product_id: int
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int

    def to_json(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "sku": self.sku,
            "name": self.name,
            "unit_price": self.unit_price,
            "quantity": self.quantity,
            "line_total": self.line_total,
        }
