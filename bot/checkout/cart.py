"""The cart: priced at today's prices, shown, added to, kept in step with an open pending order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from bot.checkout.model import (
    MAX_CART_LINES,
    CancelPendingOrder,
    Facts,
    Product,
    Stage,
    UpdatePendingOrder,
)
from bot.checkout.turn import Turn, item_problem, short
from bot.credit import RefusalCode
from bot.orders import OrderLine, PricedLine
from bot.parsing import MAX_QUANTITY


def price(
    cart: Iterable[OrderLine], facts: Facts
) -> tuple[tuple[PricedLine, ...], list[Product | OrderLine]]:
    """Cart lines at today's prices, and what can no longer be sold."""
    lines: list[PricedLine] = []
    gone: list[Product | OrderLine] = []
    for c in cart:
        p = facts.products.get(c.product_id)
        if p is None or not p.active:
            gone.append(p or c)
            continue
        lines.append(PricedLine(p.id, p.sku, p.name, p.price, c.quantity, p.price * c.quantity))
    return tuple(lines), gone


def gone_names(gone: Iterable[Product | OrderLine]) -> list[str]:
    """The names to tell the retailer for products no longer sold (`?` when unknown)."""
    return [short(g.name) if isinstance(g, Product) else "?" for g in gone]


def drop_unavailable(t: Turn) -> tuple[tuple[PricedLine, ...], int]:
    """Take retired products out of the cart (telling the retailer); priced lines and total."""
    lines, gone = price(t.conv.cart, t.facts)
    if gone:
        t.say(RefusalCode.PRODUCT_UNAVAILABLE.template, names=gone_names(gone))
        kept = {line.product_id for line in lines}
        t.conv = replace(t.conv, cart=tuple(c for c in t.conv.cart if c.product_id in kept))
    return lines, sum(line.line_total for line in lines)


def pending_live(t: Turn) -> bool:
    """Whether the conversation's pending order is still open (not expired, cancelled or placed)."""
    p = t.facts.pending
    return (
        t.conv.pending_id is not None
        and p is not None
        and p.id == t.conv.pending_id
        and p.status == "PENDING"
        and p.expires_at > t.now
    )


def show_cart(t: Turn, *, reordered: bool = False) -> None:
    """Say the cart: numbered lines at today's prices, what is no longer sold, the total."""
    lines, gone = price(t.conv.cart, t.facts)
    if not lines and not gone:
        t.say("cart_empty")
        return
    t.say(
        "cart",
        lines=[
            {
                "n": i,
                "name": short(line.name),
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "line_total": line.line_total,
            }
            for i, line in enumerate(lines, 1)
        ],
        unavailable=gone_names(gone),
        total=sum(line.line_total for line in lines),
        reordered=reordered,
        has_pending=pending_live(t),
    )


def to_cart(t: Turn, *, changed: bool) -> None:
    """Move to CART; `changed` when the cart changed, so the pending order follows it."""
    t.conv = replace(t.conv, stage=Stage.CART, asking=None, choices=(), choice_quantity=None)
    if changed:
        cart_changed(t)


def cart_changed(t: Turn) -> None:
    """Keep an open pending order in step with a changed cart; payment is chosen again."""
    t.conv = replace(t.conv, mode=None)
    pid = t.conv.pending_id
    if pid is None or not pending_live(t):
        return
    lines, _ = price(t.conv.cart, t.facts)
    if not lines:
        t.effects.append(CancelPendingOrder(pid))
        t.conv = replace(t.conv, pending_id=None)
        return
    total = sum(line.line_total for line in lines)
    t.effects.append(UpdatePendingOrder(pid, lines, total, None))


# A "how many?" answered with one of these is asked again, not dropped.
_ASK_AGAIN = frozenset({"zero", "too_many", "pack", "negative", "fraction"})


def add(
    t: Turn,
    wanted: Iterable[tuple[int, int, str]],
    *,
    single: bool,
    problems: list[dict[str, Any]] | None = None,
) -> None:
    """Add (product, quantity) to the cart; quantities of a product already there add up."""
    problems = list(problems or [])
    cart = {c.product_id: c.quantity for c in t.conv.cart}
    seen = {c.product_id: c.seen_price for c in t.conv.cart}
    added: list[dict[str, Any]] = []
    for pid, qty, ref in wanted:
        p = t.facts.products.get(pid)
        if p is None or not p.active:
            problems.append(item_problem("unavailable", ref, p))
        elif qty <= 0:
            problems.append(item_problem("zero", ref, p))
        elif cart.get(pid, 0) + qty > MAX_QUANTITY:
            problems.append(item_problem("too_many", ref, p, max=MAX_QUANTITY))
        elif pid not in cart and len(cart) >= MAX_CART_LINES:
            problems.append(item_problem("cart_full", ref, p, max=MAX_CART_LINES))
        else:
            cart[pid] = cart.get(pid, 0) + qty
            seen[pid] = p.price  # the "Added" reply shows it
            added.append({"name": short(p.name), "quantity": qty, "line_total": p.price * qty})
    if not added:
        t.say("item_problems", problems=problems, unchanged=True)
        # "How many?" stays asked until a sensible number comes.
        keep_asking = single and bool(problems) and problems[0]["kind"] in _ASK_AGAIN
        if t.conv.stage in (Stage.QUANTITY, Stage.PICK) and not keep_asking:
            t.conv = replace(t.conv, stage=Stage.BROWSING, asking=None, choices=())
        return
    stage = Stage.BROWSING if t.conv.stage == Stage.BROWSING else Stage.CART
    t.conv = replace(
        t.conv,
        stage=stage,
        cart=tuple(OrderLine(pid, q, seen.get(pid)) for pid, q in cart.items()),
        asking=None,
        choices=(),
        choice_quantity=None,
    )
    cart_changed(t)
    lines, _ = price(t.conv.cart, t.facts)
    t.say(
        "items_added",
        added=added,
        count=len(lines),
        total=sum(line.line_total for line in lines),
        browsing=stage == Stage.BROWSING,
    )
    if problems:
        t.say("item_problems", problems=problems, unchanged=False)


def reorder(t: Turn) -> None:
    """The last order's items into the cart, at today's prices (retired products named)."""
    h = t.facts.history
    if h is None or not h.last_order:
        t.say("reorder_empty")
        return
    cart: list[OrderLine] = []
    gone: list[str] = []
    for item in h.last_order[:MAX_CART_LINES]:
        p = t.facts.products.get(item.product_id)
        if p is None or not p.active:
            gone.append(short(p.name) if p else "?")
        else:
            cart.append(OrderLine(item.product_id, min(item.quantity, MAX_QUANTITY), p.price))
    if gone:
        t.say(RefusalCode.PRODUCT_UNAVAILABLE.template, names=gone)
    t.conv = replace(t.conv, cart=tuple(cart))
    to_cart(t, changed=True)
    show_cart(t, reordered=True)
