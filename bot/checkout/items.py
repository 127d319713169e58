"""What a retailer types to fill the cart: item lines ("2 x 5", "maggi 3", several), cart edits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.checkout.cart import add, show_cart, to_cart
from bot.checkout.catalogue import offer_choices, say_ask_quantity
from bot.checkout.hints import hint_vars
from bot.checkout.model import HEARD_CHARS, Stage
from bot.checkout.numbering import number_of, product_by_number
from bot.checkout.turn import Turn, item_problem, short
from bot.orders import OrderLine
from bot.parsing import (
    MAX_INPUT_CHARS,
    MAX_LINES,
    MAX_QUANTITY,
    ByName,
    ByNumber,
    Named,
    NotWhole,
    match_products,
    normalize,
    parse_cart_edit,
    parse_item,
    split_lines,
)


def add_items(t: Turn, said: str) -> bool:
    """Item lines ("2 x 5", "maggi 3", several at once); False when nothing looks like an item."""
    lines = split_lines(said)
    if not lines:
        return False
    if len(lines) > MAX_LINES:
        t.say("too_long", limit=MAX_INPUT_CHARS)
        return True
    parsed = [(line, parse_item(line)) for line in lines]
    if all(p is None for _, p in parsed):
        return False
    single = len(parsed) == 1
    wanted: list[tuple[int, int, str]] = []
    problems: list[dict[str, Any]] = []
    catalogue = [t.facts.products[pid] for pid in t.facts.catalogue if pid in t.facts.products]
    for line, req in parsed:
        if req is None:
            problems.append(item_problem("not_understood", line))
        elif isinstance(req, NotWhole):
            problems.append(item_problem("not_whole", line))
        elif isinstance(req, ByNumber):
            p, problem = product_by_number(t, req.number)
            if problem or p is None:
                problems.append(item_problem(problem or "unknown_number", str(req.number), p))
            else:
                wanted.append((p.id, req.quantity, line))
        else:
            assert isinstance(req, ByName)
            ids = match_products(
                req.query,
                (Named(p.id, p.name, p.sku, p.category) for p in catalogue if p.active),
            )
            if not ids:
                if single:
                    return False
                problems.append(item_problem("not_found", req.query))
            elif len(ids) > 1:
                if single:
                    offer_choices(t, ids, req.quantity)
                    return True
                options = [
                    {"n": number_of(t, pid), "name": short(t.facts.products[pid].name)}
                    for pid in ids[:5]
                ]
                problems.append(item_problem("ambiguous", req.query, options=options))
            elif req.quantity is None:
                if single:
                    t.conv = replace(t.conv, stage=Stage.QUANTITY, asking=ids[0])
                    say_ask_quantity(t, ids[0])
                    return True
                problems.append(item_problem("no_quantity", req.query, t.facts.products[ids[0]]))
            else:
                wanted.append((ids[0], req.quantity, line))
    add(t, wanted, single=single, problems=problems)
    return True


def edit_cart(t: Turn, said: str) -> bool:
    """Cart edits ("remove 2", "change 1 5"); False when the message is not one."""
    edit = parse_cart_edit(said)
    if edit is None:
        return False
    if not t.conv.cart:
        t.say("cart_empty")
        return True
    if not 1 <= edit.line <= len(t.conv.cart):
        t.say("hint", **hint_vars(t, heard=normalize(said)[:HEARD_CHARS]))
        return True
    item = t.conv.cart[edit.line - 1]
    p = t.facts.products.get(item.product_id)
    name = short(p.name) if p else "?"
    if edit.quantity > MAX_QUANTITY:
        t.say("item_problems", problems=[item_problem("too_many", said, p, max=MAX_QUANTITY)])
        return True
    cart = list(t.conv.cart)
    if edit.quantity == 0:
        del cart[edit.line - 1]
        t.say("item_removed", name=name)
    else:
        cart[edit.line - 1] = OrderLine(item.product_id, edit.quantity)
        t.say("quantity_changed", name=name, quantity=edit.quantity)
    t.conv = replace(t.conv, cart=tuple(cart))
    to_cart(t, changed=True)
    show_cart(t)
    return True
