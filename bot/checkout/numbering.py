"""The catalogue numbering a retailer was shown, and what a number means in it.

The numbering is kept in the conversation (`Conversation.numbers`), so a product added or retired
after the retailer saw the list never shifts what "12 x 3" means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.checkout.model import Product
from bot.checkout.turn import Turn


def numbering(t: Turn) -> tuple[int, ...]:
    """This retailer's numbering; the current catalogue when none was shown yet."""
    if not t.conv.numbers:
        t.conv = replace(t.conv, numbers=t.facts.catalogue)
    return t.conv.numbers


def categories(t: Turn) -> list[tuple[str, list[tuple[int, Product]]]]:
    """Categories of the shown numbering, each with its (number, product) still active."""
    out: dict[str, list[tuple[int, Product]]] = {}
    for n, pid in enumerate(numbering(t), start=1):
        p = t.facts.products.get(pid)
        if p is not None and p.active:
            out.setdefault(p.category, []).append((n, p))
    return list(out.items())


def product_by_number(t: Turn, number: int) -> tuple[Product | None, str | None]:
    """The product behind catalogue number `number`, or why not (unknown_number, unavailable)."""
    numbers = numbering(t)
    if not 1 <= number <= len(numbers):
        return None, "unknown_number"
    p = t.facts.products.get(numbers[number - 1])
    if p is None or not p.active:
        return p, "unavailable"
    return p, None


def number_of(t: Turn, pid: int) -> int | None:
    """Product `pid`'s number in this retailer's numbering, if it has one."""
    numbers = numbering(t)
    return numbers.index(pid) + 1 if pid in numbers else None


def pick_numbers(t: Turn, ids: Sequence[int]) -> list[int]:
    """The numbers choices are shown with: their catalogue numbers, so that "25" means the same
    everywhere; 1, 2, ... when one of them has none in this retailer's numbering."""
    numbers = [number_of(t, pid) for pid in ids]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        return [n for n in numbers if n is not None]
    return list(range(1, len(ids) + 1))


def picked(t: Turn, number: int) -> int | None:
    """The choice a number means: a shown number, else (if not one) its position."""
    shown = pick_numbers(t, t.conv.choices)
    if number in shown:
        return t.conv.choices[shown.index(number)]
    if 1 <= number <= len(t.conv.choices):
        return t.conv.choices[number - 1]
    return None
