"""A unit typed after a quantity, against the product's pack: add, or ask (pure).

"atta 5 kg" for a 10 kg bag is not 5 bags (50 kg), nor half a bag we cannot sell; "atta 20 kg" is
likely 2 bags, but a guess that is wrong delivers ten times what was meant. So a weight or a
volume that is not simply the number of packs is asked about, never guessed:

- no unit, or a counting word ("5 bags", "3 packet", "2 dozen"): the number is the packs;
- a measure the product is sold by ("dal 5 kg", its unit is kg) or a 1 kg / 1 L pack ("namak 5
  kilo" of a 1 kg pack): the same number of packs;
- any other measure: `PackQuestion`, with the pack's size read from the name ("10kg") and, when
  the amount is a whole number of packs, how many that is ("20 kg" of a 10 kg bag is 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.checkout.model import Product
from bot.parsing import PHRASES, UnitKind, normalize

# A pack size in a product's name: "10kg", "500g", "1L", "200 ml", "1.5 ltr".
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(kg|kgs|g|gm|gms|l|ltr|litre|liter|ml)\b", re.IGNORECASE)
# Each measure in its base unit (grams, millilitres) and what it measures.
_BASE = {
    "kg": (1000, "mass"), "kgs": (1000, "mass"), "g": (1, "mass"), "gm": (1, "mass"),
    "gms": (1, "mass"), "l": (1000, "volume"), "ltr": (1000, "volume"),
    "litre": (1000, "volume"), "liter": (1000, "volume"), "ml": (1, "volume"),
}  # fmt: skip


@dataclass(frozen=True)
class PackQuestion:
    """Ask how many packs: the pack's size as the name gives it ("10 kg"; "" when it does not
    say), and the packs the typed amount makes when that is a whole number."""

    size: str
    packs: int | None


def pack_size(name: str) -> tuple[Decimal, str, str] | None:
    """The pack size a name states: (amount in grams or millilitres, what it measures, as
    written "10 kg"); None when the name states none."""
    m = _SIZE.search(name)
    if m is None:
        return None
    amount, unit = Decimal(m.group(1)), m.group(2).lower()
    base, dimension = _BASE[unit]
    shown = {"kgs": "kg", "gm": "g", "gms": "g", "ltr": "L", "litre": "L", "liter": "L", "l": "L"}
    return amount * base, dimension, f"{m.group(1)} {shown.get(unit, unit)}"


def pack_question(product: Product, quantity: int, unit: str | None) -> PackQuestion | None:
    """None when `quantity` `unit` is plainly that many packs; else what to ask."""
    if unit is None or unit not in _BASE:
        return None  # no unit, or a counting word: packs
    if product.unit.strip().lower() == unit:
        return None  # sold by the kilo or the litre
    size = pack_size(product.name)
    if size is None:
        return PackQuestion("", None)
    amount, dimension, shown = size
    base, typed_dimension = _BASE[unit]
    if typed_dimension != dimension:
        return PackQuestion(shown, None)
    if amount == base:
        return None  # a 1 kg pack: 5 kg is 5 packs
    packs, rest = divmod(quantity * base, amount)
    return PackQuestion(shown, int(packs) if rest == 0 and packs > 0 else None)


def quantity_unit(said: str) -> str | None:
    """The unit of a lone quantity ("5 kg", "2 bori", "३ किलो"): its canonical name, or None."""
    words = normalize(said).split()
    if len(words) != 2:
        return None
    unit = PHRASES.units.get(words[1])
    return unit.name if unit is not None and unit.kind != UnitKind.SIZE else None
