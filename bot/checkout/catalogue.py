"""Catalogue browsing: the menu, category pages, "how many?", picking among matching products."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.checkout.hints import hint_vars
from bot.checkout.model import HEARD_CHARS, PAGE_SIZE, Product, Stage
from bot.checkout.numbering import categories, pick_numbers, product_by_number
from bot.checkout.turn import Turn, item_problem, short
from bot.checkout.units import PackQuestion
from bot.parsing import MAX_QUANTITY


def show_menu(t: Turn) -> None:
    """Say the categories; a fresh look at the catalogue renumbers it."""
    t.conv = replace(
        t.conv,
        stage=Stage.MENU,
        numbers=t.facts.catalogue,
        asking=None,
        choices=(),
        choice_quantity=None,
    )
    cats = categories(t)
    t.say(
        "menu",
        categories=[{"n": i, "name": c, "count": len(ps)} for i, (c, ps) in enumerate(cats, 1)],
        cart_count=len(t.conv.cart),
    )


def open_category(t: Turn, index: int, page: int, typed: int | None = None) -> None:
    """Show page `page` of category `index`; a hint when there is no such category."""
    cats = categories(t)
    if not 0 <= index < len(cats):
        t.say("hint", **hint_vars(t, heard=str(typed) if typed is not None else ""))
        return
    name, items = cats[index]
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    t.conv = replace(t.conv, stage=Stage.BROWSING, category=index, page=page, asking=None)
    t.say(
        "catalogue_page",
        category=name,
        items=[{"n": n, "name": short(p.name), "price": p.price, "unit": p.unit} for n, p in shown],
        page=page + 1,
        pages=pages,
        has_next=page + 1 < pages or index + 1 < len(cats),
        example=shown[0][0] if shown else 1,
    )


def turn_page(t: Turn, delta: int) -> None:
    """Next or previous page, across categories; before the first page is the menu."""
    cats = categories(t)
    if not cats:
        show_menu(t)
        return
    index = min(t.conv.category, len(cats) - 1)
    pages = max(1, -(-len(cats[index][1]) // PAGE_SIZE))
    page = t.conv.page + delta
    if page >= pages:
        if index + 1 >= len(cats):
            t.say("catalogue_end")
            return
        index, page = index + 1, 0
    elif page < 0:
        if index == 0:
            show_menu(t)
            return
        index -= 1
        page = max(1, -(-len(cats[index][1]) // PAGE_SIZE)) - 1
    open_category(t, index, page)


def ask_quantity(t: Turn, number: int) -> None:
    """Ask how many of catalogue item `number` (or say why it cannot be had)."""
    p, problem = product_by_number(t, number)
    if problem or p is None:
        problems = [item_problem(problem or "unknown_number", str(number), p)]
        t.say("item_problems", problems=problems, unchanged=True)
        return
    t.conv = replace(t.conv, stage=Stage.QUANTITY, asking=p.id)
    say_ask_quantity(t, p.id)


def say_ask_quantity(t: Turn, pid: int) -> None:
    """Say "how many?" for product `pid`."""
    p = t.facts.products[pid]
    t.say("ask_quantity", name=short(p.name), price=p.price, unit=p.unit, max=MAX_QUANTITY)


def ask_pack(
    t: Turn, p: Product, question: PackQuestion, line: str, quantity: int, unit: str
) -> None:
    """ "atta 5 kg" of a 10 kg bag: ask how many packs (QUANTITY waits for the number)."""
    t.conv = replace(t.conv, stage=Stage.QUANTITY, asking=p.id, choices=(), choice_quantity=None)
    t.say(
        "ask_pack",
        heard=line[:HEARD_CHARS],
        name=short(p.name),
        price=p.price,
        unit=p.unit,
        size=question.size,
        packs=question.packs or 0,
        quantity=quantity,
        typed_unit=unit,
        max=MAX_QUANTITY,
    )


def offer_choices(t: Turn, ids: Sequence[int], quantity: int | None) -> None:
    """Offer up to nine products a name matched; PICK waits for a number."""
    ids = tuple(ids[:9])
    t.conv = replace(t.conv, stage=Stage.PICK, choices=ids, choice_quantity=quantity)
    t.say(
        "pick_product",
        options=[
            {
                "n": n,
                "name": short(t.facts.products[pid].name),
                "price": t.facts.products[pid].price,
            }
            for n, pid in zip(pick_numbers(t, ids), ids, strict=True)
        ],
        quantity=quantity or 0,
    )
