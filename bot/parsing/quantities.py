"""Quantities: a quantity word as typed, what is wrong with it, and a lone whole number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.parsing.phrases import PHRASES, Unit, UnitKind
from bot.parsing.text import normalize

# Per cart line; a kirana order of a thousand cartons of one thing is a typo.
MAX_QUANTITY = 999


class QuantityProblem(StrEnum):
    NEGATIVE = "negative"  # "atta -2", "2 x -1"
    ZERO = "zero"  # "atta 0"
    FRACTION = "fraction"  # "atta 2.5", "aadha kilo chini": never rounded
    TOO_MANY = "too_many"  # more than MAX_QUANTITY


@dataclass(frozen=True)
class Qty:
    """A quantity word as typed, read but not yet judged (`assess` does that)."""

    text: str  # as typed
    value: int | None  # None for a fraction
    negative: bool = False
    unit: Unit | None = None  # glued: "5pcs", "2dozen"


# A number as typed: sign, digits, a decimal or a fraction, letters glued after ("5pcs", "10kg").
_NUMBER = re.compile(r"([-+]?)([0-9]+)(?:\.([0-9]+)|/([0-9]+))?([^\W\d_]*)")
# More digits than this is no quantity anyone means (and int() of it is not worth the time).
_MAX_DIGITS = 12


def read_qty(word: str) -> Qty | None:
    """A quantity word: "5", "-2", "2.5", "1/2", "teen", "aadha", "5pcs"; None for anything else,
    and for a size ("10kg", "500ml"), which belongs to a name."""
    if word in PHRASES.numbers:
        return Qty(word, PHRASES.numbers[word])
    if word in PHRASES.fractions:
        return Qty(word, None)
    m = _NUMBER.fullmatch(word)
    if m is None:
        return None
    sign, digits, decimals, denominator, glued = m.groups()
    unit = None
    if glued:
        unit = PHRASES.units.get(glued)
        if unit is None or unit.kind != UnitKind.COUNT:
            return None
    fraction = denominator is not None or (decimals is not None and decimals.strip("0") != "")
    value = None if fraction else int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS
    return Qty(word, value, sign == "-", unit)


def assess(q: Qty, unit: Unit | None) -> tuple[QuantityProblem | None, int]:
    """What is wrong with a quantity, if anything, and the number of units it means."""
    if q.value is None:
        return QuantityProblem.FRACTION, 0
    multiple = (unit or q.unit or Unit("", UnitKind.COUNT)).multiple
    quantity = q.value * multiple
    if q.negative and quantity:
        return QuantityProblem.NEGATIVE, -quantity
    if quantity == 0:
        return QuantityProblem.ZERO, 0
    if quantity > MAX_QUANTITY:
        return QuantityProblem.TOO_MANY, quantity
    return None, quantity


def parse_number(text: str) -> int | None:
    """A lone whole number ("3", "#3", "३", "teen", "do", "5 pcs", "5 do"), or None. Never
    negative, never a fraction."""
    words = normalize(text).removeprefix("#").split()
    if len(words) == 2 and words[1] in PHRASES.trailing:
        words = words[:1]
    unit = PHRASES.units.get(words[1]) if len(words) == 2 else None
    if (
        not words
        or len(words) > 2
        or (len(words) == 2 and (unit is None or unit.kind == UnitKind.SIZE))
    ):
        return None
    if words[0] in PHRASES.numbers:
        return PHRASES.numbers[words[0]] * (unit.multiple if unit else 1)
    if re.fullmatch(r"[0-9]{1,12}", words[0]):
        return int(words[0]) * (unit.multiple if unit else 1)
    return None
