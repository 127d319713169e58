"""Checkout, payment choice and confirm: the pending order, the credit verdict, the placement."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.checkout.cart import drop_unavailable, pending_live, price, show_cart, to_cart
from bot.checkout.model import (
    PENDING_TTL,
    CancelPendingOrder,
    CompletePendingOrder,
    Conversation,
    Decision,
    ExpirePendingOrder,
    Facts,
    OpenPendingOrder,
    Placement,
    PlaceOrder,
    Stage,
    UpdatePendingOrder,
)
from bot.checkout.turn import Turn, short
from bot.clock import business_date
from bot.credit import (
    SYSTEM,
    PaymentMode,
    RefusalCode,
    overdue_blocks_credit,
    validate_order_placement,
)
from bot.orders import OrderLine, PricedLine, price_changes


def pending_gone(t: Turn) -> bool:
    """When the pending order expired or was cancelled meanwhile: say so, back to the cart."""
    if pending_live(t):
        return False
    p = t.facts.pending
    if p is not None and p.id == t.conv.pending_id and p.status == "PENDING":
        t.effects.append(ExpirePendingOrder(p.id))
    t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
    lines, _ = price(t.conv.cart, t.facts)
    t.say("pending_expired", has_cart=bool(lines), hours=int(PENDING_TTL.total_seconds() // 3600))
    return True


def checkout(t: Turn) -> None:
    """Open (or refresh) the pending order from the cart and offer the payment choice; first say
    which prices changed since their lines were added to the cart."""
    lines, total = drop_unavailable(t)
    cart_prices_moved(t, lines)
    if not lines:
        if t.conv.pending_id is not None and pending_live(t):
            t.effects.append(CancelPendingOrder(t.conv.pending_id))
        t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
        t.say("cart_empty")
        return
    if pending_live(t):
        assert t.conv.pending_id is not None
        t.effects.append(UpdatePendingOrder(t.conv.pending_id, lines, total, None))
    else:
        p = t.facts.pending
        if p is not None and p.id == t.conv.pending_id and p.status == "PENDING":
            t.effects.append(ExpirePendingOrder(p.id))
        t.effects.append(OpenPendingOrder(lines, total, t.now + PENDING_TTL))
        t.conv = replace(t.conv, pending_id=None)
    t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None, asking=None, choices=())
    payment_options(t)


def cart_prices_moved(t: Turn, lines: tuple[PricedLine, ...]) -> None:
    """Say which cart lines' prices changed since the retailer added them (the "Added" reply
    showed the old price), and take the new prices as seen."""
    now = {line.product_id: line for line in lines}
    changes = [
        {"name": short(now[c.product_id].name), "old_price": c.seen_price,
         "new_price": now[c.product_id].unit_price}
        for c in t.conv.cart
        if c.seen_price is not None and c.product_id in now
        and c.seen_price != now[c.product_id].unit_price
    ]  # fmt: skip
    if not changes:
        return
    t.say("cart_prices_changed", changes=changes)
    cart = tuple(
        replace(c, seen_price=now[c.product_id].unit_price) if c.product_id in now else c
        for c in t.conv.cart
    )
    t.conv = replace(t.conv, cart=cart)


def credit_verdict(t: Turn, total: int) -> tuple[bool, RefusalCode | None, int]:
    """The ledger's pure verdict on `total` on credit: (allowed, refusal, available)."""
    c = t.facts.credit
    if c is None:
        return False, RefusalCode.NO_CREDIT_ACCOUNT, 0
    v = validate_order_placement(c, total, PaymentMode.CREDIT, tolerance=t.facts.tolerance)
    return v.allowed, v.code, v.available


def due_date(t: Turn) -> date | None:
    """The due date a credit order placed now would get (business day + payment terms)."""
    c = t.facts.credit
    if c is None:
        return None
    return business_date(t.now, t.facts.tz) + timedelta(days=c.payment_terms_days)


def payment_vars(t: Turn) -> dict[str, Any]:
    """The variables the payment templates share: total, count, credit verdict, due date."""
    lines, _ = price(t.conv.cart, t.facts)
    total = sum(line.line_total for line in lines)
    allowed, _, available = credit_verdict(t, total)
    return {
        "total": total,
        "count": len(lines),
        "credit_allowed": allowed,
        "available": available,
        "due_date": due_date(t),
    }


def payment_options(t: Turn, *, not_placed: bool = False) -> None:
    """Offer credit or COD; when credit is not allowed, say why."""
    pv = payment_vars(t)
    t.say("payment_options", not_placed=not_placed, **pv)
    if not pv["credit_allowed"]:
        _, code, _ = credit_verdict(t, pv["total"])
        refuse_credit(t, code or RefusalCode.NO_CREDIT_ACCOUNT, pv["total"])


def refuse_credit(t: Turn, code: RefusalCode, total: int) -> None:
    """Say why credit is refused: the template of refusal `code`."""
    c = t.facts.credit
    t.say(
        RefusalCode(code).template,
        total=total,
        available=c.available if c else 0,
        credit_limit=c.credit_limit if c else 0,
        max_order_value=c.max_order_value if c else 0,
        overdue_unpaid=c.overdue_unpaid if c else 0,
        max_outstanding_days=c.max_outstanding_days if c else 0,
        # A SYSTEM pause is lifted by paying; a person's pause and a block are not.
        paused_by_system=c is not None and c.paused_by == SYSTEM,
        overdue_blocks=c is not None and overdue_blocks_credit(c.overdue_unpaid, t.facts.tolerance),
        support_phone=t.facts.support_phone,
        names=[],
    )


def prices_moved(t: Turn, lines: tuple[PricedLine, ...], total: int) -> bool:
    """When a price changed since the retailer was shown the total (the pending order's stored
    lines): say which, keep the new prices on the pending order and offer the payment again, so
    nothing is paid at a price not seen. True when that happened."""
    p = t.facts.pending
    pid = t.conv.pending_id
    if p is None or pid is None or p.id != pid:
        return False
    changes = price_changes(p.lines, lines)
    if not changes:
        return False
    t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
    t.effects.append(UpdatePendingOrder(pid, lines, total, None))
    t.say(
        "prices_changed",
        changes=[
            {"name": short(c.name), "old_price": c.old_price, "new_price": c.new_price}
            for c in changes
        ],
        total=total,
    )
    payment_options(t)
    return True


def choose_payment(t: Turn, mode: PaymentMode) -> None:
    """The retailer chose `mode`: check it again and ask to confirm, or refuse credit."""
    if pending_gone(t):
        return
    lines, total = drop_unavailable(t)
    pid = t.conv.pending_id
    assert pid is not None
    if not lines:
        t.effects.append(CancelPendingOrder(pid))
        t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
        t.say("cart_empty")
        return
    if prices_moved(t, lines, total):
        return
    if mode == PaymentMode.CREDIT:
        allowed, code, _ = credit_verdict(t, total)
        if not allowed:
            t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
            t.effects.append(UpdatePendingOrder(pid, lines, total, None))
            refuse_credit(t, code or RefusalCode.NO_CREDIT_ACCOUNT, total)
            return
    t.conv = replace(t.conv, stage=Stage.CONFIRM, mode=mode)
    t.effects.append(UpdatePendingOrder(pid, lines, total, mode))
    c = t.facts.credit
    credit = mode == PaymentMode.CREDIT
    t.say(
        "confirm_order",
        total=total,
        count=len(lines),
        mode=mode.value,
        due_date=due_date(t) if credit else None,
        available_after=(c.available - total) if (c and credit) else 0,
        # an advance pays a credit order first: say how much of it, and what is left to pay
        from_advance=min(c.advance, total) if (c and credit) else 0,
    )


def confirm(t: Turn) -> None:
    """Check the order once more, then place it (`PlaceOrder`) or say what changed."""
    if pending_gone(t):
        return
    mode = t.conv.mode
    pid = t.conv.pending_id
    assert pid is not None
    if mode is None:
        t.conv = replace(t.conv, stage=Stage.PAYMENT)
        t.say("choose_payment", **payment_vars(t))
        return
    before = len(t.conv.cart)
    lines, total = drop_unavailable(t)
    if not lines:
        t.effects.append(CancelPendingOrder(pid))
        t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
        t.say("cart_empty")
        return
    if len(t.conv.cart) < before:
        # The total the retailer agreed to no longer holds: show the new one, choose again.
        t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
        t.effects.append(UpdatePendingOrder(pid, lines, total, None))
        payment_options(t)
        return
    if prices_moved(t, lines, total):
        return
    if mode == PaymentMode.CREDIT:
        allowed, code, _ = credit_verdict(t, total)
        if not allowed:
            t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
            t.effects.append(UpdatePendingOrder(pid, lines, total, None))
            refuse_credit(t, code or RefusalCode.NO_CREDIT_ACCOUNT, total)
            return
    t.effects.append(
        PlaceOrder(pid, tuple(OrderLine(line.product_id, line.quantity) for line in lines), mode)
    )


def cancel(t: Turn, *, clear: bool = False) -> None:
    """Cancel the pending order and empty the cart (or say there is nothing to); back to MENU.
    `clear` ("clear", "khali karo"): the retailer asked to empty the cart. A pending order that
    expired meanwhile is recorded as expired, and the reply does not speak of an order."""
    pid = t.conv.pending_id
    p = t.facts.pending
    open_order = pid is not None and p is not None and p.id == pid and p.status == "PENDING"
    had_order = open_order and pending_live(t)
    if open_order:
        assert pid is not None
        t.effects.append(CancelPendingOrder(pid) if had_order else ExpirePendingOrder(pid))
    if open_order or t.conv.cart:
        t.say("checkout_cancelled", had_order=had_order, cleared=clear)
        # Cancelling this checkout: the order placed before it is no longer the news.
        t.conv = Conversation(stage=Stage.MENU, numbers=t.conv.numbers)
        return
    t.say("nothing_to_cancel", placed_order=t.conv.placed_order)
    t.conv = Conversation(
        stage=Stage.MENU, numbers=t.conv.numbers, placed_order=t.conv.placed_order
    )


def after_placement(
    conversation: Conversation, placement: Placement, facts: Facts, now: datetime
) -> Decision:
    """The answer once the ledger placed (or refused) the order of a `PlaceOrder` effect."""
    t = Turn(conversation, facts, now, facts.retailer.language)
    pending_id = conversation.pending_id
    if placement.allowed and placement.order_id is not None:
        if pending_id is not None:
            t.effects.append(CompletePendingOrder(pending_id, placement.order_id))
        t.say(
            "order_confirmation",
            name=facts.retailer.name,
            order_id=placement.order_id,
            total=placement.total,
            mode=placement.mode.value,
            due_date=placement.due_date,
            items=[
                {"name": short(n), "quantity": q, "line_total": lt} for n, q, lt in placement.items
            ],
            available=placement.available,
            from_advance=placement.from_advance,
        )
        t.conv = Conversation(
            stage=Stage.MENU, numbers=conversation.numbers, placed_order=placement.order_id
        )
        return t.decision()
    lines, _ = price(t.conv.cart, facts)
    total = sum(line.line_total for line in lines)
    if placement.code == RefusalCode.PRODUCT_UNAVAILABLE:
        t.say(RefusalCode.PRODUCT_UNAVAILABLE.template, names=[])
        to_cart(t, changed=True)
        show_cart(t)
        return t.decision()
    refuse_credit(t, placement.code or RefusalCode.NO_CREDIT_ACCOUNT, total)
    t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
    if pending_id is not None:
        t.effects.append(UpdatePendingOrder(pending_id, lines, total, None))
    return t.decision()
