"""Orders, pure: a line of a cart or an order, a line priced from the catalogue, the order
lifecycle as a table (`TRANSITIONS`, `decide_move`), returns priced at the order's prices, and the
prices that changed since a retailer saw them.

One type per concept: the checkout's cart, the pending order, the ledger's placement and the
reorder all speak of `OrderLine` (what and how many) and `PricedLine` (with the price and name
snapshotted when the line was priced).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bot.money import format_inr


@dataclass(frozen=True)
class OrderLine:
    """A product and how many of it (a cart line, or a line of an order to place)."""

    product_id: int
    quantity: int
    # A cart line's unit price (paise) when the retailer added it, so checkout can say which
    # prices changed since (None: not known, e.g. a cart stored before this was kept). Not part
    # of what the line is: two lines of the same product and quantity are equal.
    seen_price: int | None = field(default=None, compare=False)


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


# --- the order lifecycle (DESIGN section 10) ----------------------------------------------------


class OrderStatus(StrEnum):
    """Where an order stands. Stored in `orders.status`: the values never change."""

    PLACED = "PLACED"
    DISPATCHED = "DISPATCHED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"  # by an operator, before dispatch
    FAILED = "FAILED"  # the delivery failed (before it was delivered)


class OrderAction(StrEnum):
    """What an operator does to an order."""

    DISPATCH = "dispatch"
    DELIVER = "deliver"
    CANCEL = "cancel"
    FAIL = "fail"
    RETURN = "return"  # goods that came back after delivery: the order stays DELIVERED


# The whole state machine: (status, action) -> the status after it. A pair not here is refused.
TRANSITIONS: Mapping[tuple[OrderStatus, OrderAction], OrderStatus] = MappingProxyType(
    {
        (OrderStatus.PLACED, OrderAction.DISPATCH): OrderStatus.DISPATCHED,
        (OrderStatus.DISPATCHED, OrderAction.DELIVER): OrderStatus.DELIVERED,
        (OrderStatus.PLACED, OrderAction.CANCEL): OrderStatus.CANCELLED,
        (OrderStatus.PLACED, OrderAction.FAIL): OrderStatus.FAILED,
        (OrderStatus.DISPATCHED, OrderAction.FAIL): OrderStatus.FAILED,
        (OrderStatus.DELIVERED, OrderAction.RETURN): OrderStatus.DELIVERED,
    }
)

# Statuses no action leaves, except a return after delivery.
CLOSED = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})
# Cancel and fail undo the order's debit (DESIGN section 10); the others keep it.
UNDOES_DEBIT = frozenset({OrderAction.CANCEL, OrderAction.FAIL})


@dataclass(frozen=True)
class Move:
    """An allowed action: the status it leads to."""

    to: OrderStatus


@dataclass(frozen=True)
class Refused:
    """An action the order's status does not allow: a code and a sentence naming the status."""

    code: str
    message: str


def decide_move(order_id: int, status: OrderStatus, action: OrderAction) -> Move | Refused:
    """Whether `action` may be done to order `order_id` in `status` (the table above); a refusal
    says what the status is and, where there is one, what to do instead."""
    to = TRANSITIONS.get((status, action))
    if to is not None:
        return Move(to)
    name = f"order #{order_id} is {status.value}"
    if status in CLOSED:
        return Refused("ORDER_ALREADY_CLOSED", f"{name}: nothing more can be done to it")
    if status == OrderStatus.DELIVERED:
        if action in UNDOES_DEBIT:
            return Refused(
                "ORDER_DELIVERED",
                f"{name}: a delivered order cannot be {_done(action)}; goods that came back "
                "are a return",
            )
        return Refused("ORDER_DELIVERED", f"{name}: it was already delivered")
    if action == OrderAction.RETURN:
        return Refused("ORDER_NOT_DELIVERED", f"{name}: only a delivered order takes a return")
    if action == OrderAction.DELIVER:  # PLACED
        return Refused("ORDER_NOT_DISPATCHED", f"{name}: dispatch it before it is delivered")
    if action == OrderAction.CANCEL:  # DISPATCHED
        return Refused(
            "ORDER_DISPATCHED",
            f"{name}: it is on its way and cannot be cancelled; mark it failed if the delivery "
            "fails",
        )
    return Refused("ORDER_ALREADY_DISPATCHED", f"{name}: it was already dispatched")  # dispatch


def _done(action: OrderAction) -> str:
    return {OrderAction.CANCEL: "cancelled", OrderAction.FAIL: "failed"}.get(action, action.value)


# --- returns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLine:
    """A product of a delivered order coming back, priced at the order's snapshot price."""

    product_id: int
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int


@dataclass(frozen=True)
class ReturnRefused:
    code: str
    message: str
    returnable: int = 0  # paise still returnable on the order


def price_return(
    order_id: int,
    delivered: Sequence[PricedLine],
    returned_quantities: Mapping[int, int],
    wanted: Sequence[tuple[str, int]],
) -> tuple[ReturnLine, ...] | ReturnRefused:
    """Price a return of `wanted` ((product id or SKU, quantity) pairs) at the prices the order
    was placed at. Each product must be on the order, and its quantity no more than was delivered
    less what came back before (`returned_quantities`, by product id)."""
    by_id = {line.product_id: line for line in delivered}
    by_sku = {line.sku.casefold(): line for line in delivered}
    asked: dict[int, int] = {}
    for ref, quantity in wanted:
        line = by_sku.get(ref.casefold())
        if line is None and ref.isdigit():
            line = by_id.get(int(ref))
        if line is None:
            return ReturnRefused("NOT_ON_ORDER", f"{ref} is not on order #{order_id}")
        if quantity <= 0:
            return ReturnRefused("INVALID_QUANTITY", f"the quantity of {line.sku} must be positive")
        asked[line.product_id] = asked.get(line.product_id, 0) + quantity
    if not asked:
        return ReturnRefused("INVALID_FIELD", "items is empty")
    lines: list[ReturnLine] = []
    for product_id, quantity in asked.items():
        line = by_id[product_id]
        left = line.quantity - returned_quantities.get(product_id, 0)
        if quantity > left:
            return ReturnRefused(
                "RETURN_ABOVE_DELIVERED",
                f"{quantity} of {line.sku} cannot come back: {line.quantity} were delivered on "
                f"order #{order_id} and {left} remain",
            )
        lines.append(
            ReturnLine(
                product_id, line.sku, line.name, line.unit_price, quantity,
                line.unit_price * quantity,
            )
        )  # fmt: skip
    return tuple(lines)


def return_amount(
    order_id: int, total: int, returned_before: int, amount: int | None, items_total: int | None
) -> int | ReturnRefused:
    """The amount a return credits: the items' value, or `amount` (at most the items' value when
    both are given, so an operator may credit less for damaged goods); never more than the
    order's total less earlier returns."""
    returnable = total - returned_before
    if amount is None and items_total is None:
        return ReturnRefused("INVALID_FIELD", "an amount or items is required", returnable)
    value = amount if amount is not None else items_total
    assert value is not None
    if value <= 0:
        return ReturnRefused("INVALID_AMOUNT", "the amount must be positive", returnable)
    if amount is not None and items_total is not None and amount > items_total:
        return ReturnRefused(
            "RETURN_ABOVE_ITEMS",
            f"{format_inr(amount)} is more than the {format_inr(items_total)} the items are worth",
            returnable,
        )
    if value > returnable:
        return ReturnRefused(
            "RETURN_ABOVE_ORDER",
            f"{format_inr(value)} is more than the {format_inr(returnable)} still returnable on "
            f"order #{order_id} (its total {format_inr(total)} less earlier returns)",
            returnable,
        )
    return value


# --- prices that changed since the retailer saw them --------------------------------------------


@dataclass(frozen=True)
class PriceChange:
    """A product whose price moved between the snapshot the retailer saw and now."""

    product_id: int
    name: str
    old_price: int
    new_price: int


def price_changes(
    seen: Sequence[PricedLine], current: Sequence[PricedLine]
) -> tuple[PriceChange, ...]:
    """The lines of `current` whose unit price differs from the same product's in `seen` (the
    pending order's snapshot); products only in one of them are not price changes."""
    before = {line.product_id: line.unit_price for line in seen}
    return tuple(
        PriceChange(line.product_id, line.name, before[line.product_id], line.unit_price)
        for line in current
        if line.product_id in before and before[line.product_id] != line.unit_price
    )
