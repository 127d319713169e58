"""What a retailer types to fill the cart: item lines ("2 x 5", "maggi 3", several), cart edits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.checkout.cart import add, show_cart, to_cart
from bot.checkout.catalogue import ask_pack, offer_choices, say_ask_quantity
from bot.checkout.model import Product, Stage
from bot.checkout.numbering import number_of, product_by_number
from bot.checkout.turn import Turn, item_problem, short
from bot.checkout.units import PackQuestion, pack_question
from bot.parsing import (
    MAX_INPUT_CHARS,
    MAX_LINES,
    MAX_QUANTITY,
    BadQuantity,
    ByName,
    ByNumber,
    Named,
    match_products,
    parse_cart_edit,
    parse_request,
    split_lines,
)


def add_items(t: Turn, said: str) -> bool:
    """Item lines ("2 x 5", "maggi 3", several at once); False when nothing looks like an item.

    A line whose quantity cannot be right ("atta -2", "2 x -1", "atta 0", "atta 2.5", "atta
    5000") is answered quoting what was typed and adds nothing; a weight that is not plainly a
    number of packs ("atta 5 kg" of a 10 kg bag) is asked about (`bot.checkout.units`)."""
    lines = split_lines(said)
    if not lines:
        return False
    if len(lines) > MAX_LINES:
        t.say("too_long", limit=MAX_INPUT_CHARS)
        return True
    parsed = [(line, parse_request(line)) for line in lines]
    if all(p is None for _, p in parsed):
        return False
    single = len(parsed) == 1
    wanted: list[tuple[int, int, str]] = []
    problems: list[dict[str, Any]] = []
    catalogue = [t.facts.products[pid] for pid in t.facts.catalogue if pid in t.facts.products]
    for line, req in parsed:
        if req is None:
            problems.append(item_problem("not_understood", line))
        elif isinstance(req, BadQuantity):
            problems.append(bad_quantity(t, req, catalogue))
        elif isinstance(req, ByNumber):
            p, problem = product_by_number(t, req.number)
            if problem or p is None:
                problems.append(item_problem(problem or "unknown_number", str(req.number), p))
            elif (question := pack_question(p, req.quantity, req.unit)) is not None:
                if single:
                    ask_pack(t, p, question, line, req.quantity, req.unit or "")
                    return True
                example = f"{req.number} x {question.packs or 1}"
                problems.append(
                    _pack_problem(p, question, line, req.quantity, req.unit or "", example)
                )
            else:
                wanted.append((p.id, req.quantity, line))
        else:
            assert isinstance(req, ByName)
            ids = _matches(req.query, catalogue)
            if not ids and (gone := _retired_match(req.query, t)) is not None:
                # A product no longer sold, named as the retailer always has: say so, rather
                # than "didn't understand" (`add` refuses it as unavailable, by name).
                wanted.append((gone, req.quantity or 1, req.query))
            elif not ids:
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
            elif (
                question := pack_question(t.facts.products[ids[0]], req.quantity, req.unit)
            ) is not None:
                p = t.facts.products[ids[0]]
                if single:
                    ask_pack(t, p, question, line, req.quantity, req.unit or "")
                    return True
                example = f"{req.query} {question.packs or 1}"
                problems.append(
                    _pack_problem(p, question, line, req.quantity, req.unit or "", example)
                )
            else:
                wanted.append((ids[0], req.quantity, line))
    add(t, wanted, single=single, problems=problems)
    return True


def _matches(query: str, catalogue: list[Product]) -> list[int]:
    return match_products(
        query, (Named(p.id, p.name, p.sku, p.category) for p in catalogue if p.active)
    )


def _retired_match(query: str, t: Turn) -> int | None:
    """The one retired product `query` names, when no product on sale matches it."""
    retired = (p for p in t.facts.products.values() if not p.active)
    ids = match_products(query, (Named(p.id, p.name, p.sku, p.category) for p in retired))
    return ids[0] if len(ids) == 1 else None


def bad_quantity(
    t: Turn, req: BadQuantity, catalogue: list[Product], product: Product | None = None
) -> dict[str, Any]:
    """The `item_problems` entry for a quantity to refuse, quoting the line as typed, naming the
    product when the line says which (or `product`, the one asked about), with an example of
    what to send instead."""
    example = "5 x 2"
    if req.number is not None:
        product, _ = product_by_number(t, req.number)
        example = f"{req.number} x 2"
    elif req.query is not None:
        ids = _matches(req.query, catalogue)
        product = t.facts.products[ids[0]] if len(ids) == 1 else None
        example = f"{req.query} 2"
    elif t.conv.stage == Stage.QUANTITY:
        example = "2"
    return item_problem(
        req.kind.value,
        req.line,
        product,
        quantity=req.quantity,
        example=example[:40],
        max=MAX_QUANTITY,
    )


def _pack_problem(
    p: Product, question: PackQuestion, line: str, quantity: int, unit: str, example: str
) -> dict[str, Any]:
    return item_problem(
        "pack",
        line,
        p,
        size=question.size,
        packs=question.packs,
        unit=p.unit,
        quantity=quantity,
        typed_unit=unit,
        example=example[:40],
    )


def edit_cart(t: Turn, said: str) -> bool:
    """Cart edits ("remove 2", "change 1 5"); False when the message is not one."""
    edit = parse_cart_edit(said)
    if edit is None:
        return False
    if not t.conv.cart:
        t.say("cart_empty")
        return True
    lines = len(t.conv.cart)
    if not 1 <= edit.line <= lines:
        # "remove 9" of a 7-line cart: say how many lines there are, not "didn't understand".
        problem = item_problem("no_line", str(edit.line), lines=lines)
        t.say("item_problems", problems=[problem], unchanged=True)
        return True
    item = t.conv.cart[edit.line - 1]
    p = t.facts.products.get(item.product_id)
    name = short(p.name) if p else "?"
    if edit.quantity > MAX_QUANTITY:
        problem = item_problem("too_many", said, p, max=MAX_QUANTITY)
        t.say("item_problems", problems=[problem], unchanged=True)
        return True
    cart = list(t.conv.cart)
    if edit.quantity == 0:
        del cart[edit.line - 1]
        t.say("item_removed", name=name)
    else:
        cart[edit.line - 1] = replace(item, quantity=edit.quantity)
        t.say("quantity_changed", name=name, quantity=edit.quantity)
    t.conv = replace(t.conv, cart=tuple(cart))
    to_cart(t, changed=True)
    show_cart(t)
    return True
