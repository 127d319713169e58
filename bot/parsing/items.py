"""Item lines: one line as a request (`parse_request`), and in the shapes today's checkout reads
(`parse_item`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.parsing.phrases import PHRASES, Unit, UnitKind, canonical_words
from bot.parsing.quantities import MAX_QUANTITY, Qty, QuantityProblem, assess, read_qty
from bot.parsing.text import EDGE_PUNCT, WORD, normalize


@dataclass(frozen=True)
class ByNumber:
    """`2 x 5`, `2x5`, `2 5`, `#2 5`: catalogue item 2, quantity 5."""

    number: int
    quantity: int
    unit: str | None = None  # the unit word typed after the quantity ("pack", "kg"), if any


@dataclass(frozen=True)
class ByName:
    """`maggi 5`, `5 maggi`, `do atta`, `atta 5 kg do`, `RICE-SON-25 10`, or a name alone
    (quantity asked for). A dozen is already 12 in `quantity`."""

    query: str
    quantity: int | None
    unit: str | None = None  # "kg" in "atta 5 kg": the checkout may compare it with the pack


@dataclass(frozen=True)
class BadQuantity:
    """An item line whose quantity must be refused, changing nothing: negative, zero, a
    fraction or more than MAX_QUANTITY. It names what the line asked for, when it did."""

    kind: QuantityProblem
    line: str  # the line, normalised, to quote back
    quantity: str  # the quantity as typed: "-2", "0", "2.5", "aadha", "5000"
    number: int | None = None  # "2 x -1": catalogue item 2
    query: str | None = None  # "atta -2": the name


@dataclass(frozen=True)
class NotWhole:
    """`atta 2.5`, `1 x 0.5`: a quantity with a fraction, in the shape today's checkout reads
    (`BadQuantity(FRACTION)` from `parse_request`)."""

    line: str


Request = ByNumber | ByName | BadQuantity
ItemRequest = ByNumber | ByName | NotWhole

_SEPARATORS = frozenset({"x", "×", "*", ":", "=", "-", "qty"})
_MINUS = frozenset({"minus", "माइनस"})
_TIMES = frozenset({"x", "×", "*"})
# Separators glued to numbers, spaced out so that each is a word: "2x5", "maggi:3", "x5", "2-5".
_SPACE_OUT = (
    (re.compile(r"\s*([×*=:])\s*"), r" \1 "),
    (re.compile(r"(?<=\d)\s*x\s*(?=[-+]?\d)"), " x "),
    (re.compile(r"(?<![\w\u0900-\u097f])x(?=[-+]?\d)"), "x "),
    (re.compile(r"(?<=\d)x(?![\w\u0900-\u097f])"), " x"),
    (re.compile(r"(?<=\d)-(?=\d)"), " - "),
)
# "atta-2": a name and a quantity glued by a hyphen (a code such as "RICE-SON-25" has two).
_NAME_DASH_QTY = re.compile(r"([^\W\d_]+)-([0-9]+(?:\.[0-9]+)?)")
# A product code as catalogues write them: letters and digits joined by hyphens, with a digit.
_CODE = re.compile(r"(?=.*\d)[a-z0-9]+(?:-[a-z0-9]+)+")
_ITEM_NUMBER = re.compile(r"#?([0-9]{1,12})")


# A list marker before a name: "1. atta 2", "2) maggi 3", "- chini 5", "• namak 2".
_LIST_MARKER = re.compile(r"^(?:[0-9]{1,2}[.)]|[-•*·])\s+(?=[^\W\d_])")


def _item_words(line: str) -> list[str]:
    """A line's words: list marker out, separators spaced out, verbs in one form, politeness and
    the verb "give" dropped from both ends ("mujhe 5 atta bhej do please" -> 5 atta)."""
    t = _LIST_MARKER.sub("", normalize(line))
    for pattern, spaced in _SPACE_OUT:
        t = pattern.sub(spaced, t)
    words = [w for w in (w.strip(EDGE_PUNCT) for w in t.split()) if w]
    words = canonical_words(words, {}, PHRASES.verbs)
    # "atta minus 2" is "atta -2".
    for i in range(len(words) - 1, 0, -1):
        if words[i - 1] in _MINUS and words[i][:1].isdigit():
            words[i - 1 : i + 1] = ["-" + words[i]]
    start, end = 0, len(words)
    while start < end and words[start] in PHRASES.leading:
        start += 1
    while end > start and words[end - 1] in PHRASES.trailing:
        end -= 1
    return words[start:end]


def parse_request(line: str) -> Request | None:
    """One line as an item request, or None when it has no name or number to go on.

    "do" is two before a name or a unit ("do atta", "atta do kilo") and the verb "give" at the
    end of a line ("atta 5 do" is 5 atta, "atta do" asks how many). A number glued to a measure
    ("atta 10kg") or before a size word ("chai 500 g") is the pack's size, part of the name.
    """
    words = _item_words(line)
    if not words:
        return None
    t = normalize(line)
    return _by_number(words, t) or _by_name(words, t)


def _by_number(words: list[str], line: str) -> Request | None:
    """`2 x 5`, `#2 5`, `item 2 qty 5`, `2 x -1`."""
    i = 1 if words[0] in ("item", "no", "no.", "#", "number") and len(words) > 1 else 0
    m = _ITEM_NUMBER.fullmatch(words[i])
    rest = words[i + 1 :]
    if m is None or not rest:
        return None
    if rest[0] in _SEPARATORS:
        rest = rest[1:]
    unit = PHRASES.units.get(rest[-1]) if len(rest) == 2 else None
    if not 1 <= len(rest) <= 2 or (len(rest) == 2 and (unit is None or unit.kind == UnitKind.SIZE)):
        return None
    q = read_qty(rest[0])
    if q is None:
        return None
    number = int(m.group(1))
    problem, quantity = assess(q, unit)
    if problem is not None:
        return BadQuantity(problem, line, q.text, number=number)
    return ByNumber(number, quantity, _unit_name(unit, q))


def _unit_name(unit: Unit | None, q: Qty) -> str | None:
    u = unit or q.unit
    return u.name if u else None


def _by_name(words: list[str], line: str) -> Request | None:
    """`5 atta`, `do kilo atta`, `atta 5`, `atta x 5 kg`, `atta-2`, `RICE-SON-25 10`, `atta`.

    A quantity first wins, unless it is a measure and another quantity ends the line: in
    "10 kg wala atta 2" the "10 kg" says which atta.
    """
    lead, trail = _leading(words), _trailing(words)
    if lead is not None and not (
        trail is not None and lead[1] and lead[1].kind == UnitKind.MEASURE
    ):
        return _named(*lead, line)
    if trail is not None:
        return _named(*trail, line)
    name = _name(words)
    if name:
        return ByName(name, None)
    return _lone_bad_quantity(words, line)


_Found = tuple[Qty, Unit | None, str]  # quantity, unit, name


def _leading(words: list[str]) -> _Found | None:
    """A quantity first: "5 atta", "do kilo chini", "3 pkt x maggi"."""
    q = read_qty(words[0])
    if q is None:
        return None
    j, unit = 1, None
    if j < len(words) and (u := PHRASES.units.get(words[j])) is not None:
        if u.kind == UnitKind.SIZE:  # "500 g chai": the pack, not a quantity
            return None
        unit, j = u, j + 1
    if j < len(words) and words[j] in _TIMES:
        j += 1
    name = _name(words[j:])
    return (q, unit, name) if name else None


def _trailing(words: list[str]) -> _Found | None:
    """A quantity last: "atta 5", "atta x 5 kg", "maggi teen packet", "atta-2"."""
    k, unit = len(words) - 1, None
    if k >= 1 and words[k] in _TIMES:  # "maggi 3x"
        k -= 1
    if k >= 1 and (u := PHRASES.units.get(words[k])) is not None and u.kind != UnitKind.SIZE:
        unit, k = u, k - 1
    name_words = words[:k]
    q = read_qty(words[k]) if k >= 1 else None
    if q is None and unit is None and (m := _NAME_DASH_QTY.fullmatch(words[k])):
        q, name_words = read_qty(m.group(2)), [*words[:k], m.group(1)]
    if q is None:
        return None
    if name_words and name_words[-1] in _SEPARATORS:
        name_words = name_words[:-1]
    # "atta 10 5": which number is the size? Neither is taken for a quantity.
    if name_words and name_words[-1].isdigit():
        return None
    name = _name(name_words)
    return (q, unit, name) if name else None


def _lone_bad_quantity(words: list[str], line: str) -> BadQuantity | None:
    """A bad quantity alone ("-2", "2.5", "aadha": the answer to "how many?"), naming nothing.
    A good lone number is `parse_number`'s."""
    unit = PHRASES.units.get(words[-1]) if len(words) == 2 else None
    if len(words) > 2 or (len(words) == 2 and (unit is None or unit.kind == UnitKind.SIZE)):
        return None
    q = read_qty(words[0])
    if q is None:
        return None
    problem, _ = assess(q, unit)
    return BadQuantity(problem, line, q.text) if problem is not None else None


def _named(q: Qty, unit: Unit | None, name: str, line: str) -> Request:
    problem, quantity = assess(q, unit)
    if problem is not None:
        return BadQuantity(problem, line, q.text, query=name)
    return ByName(name, quantity, _unit_name(unit, q))


def _is_count(word: str) -> bool:
    unit = PHRASES.units.get(word)
    return unit is not None and unit.kind == UnitKind.COUNT


def _name(words: Sequence[str]) -> str:
    """The words that name a product: codes kept whole, punctuation and stopwords out; empty
    when nothing is left that has a letter and is not a unit or a number word."""
    kept: list[str] = []
    for w in words:
        parts = [w] if _CODE.fullmatch(w) else WORD.findall(w)
        # A count word inside a name ("bada packet") says nothing about which product.
        kept.extend(p for p in parts if p not in PHRASES.stopwords and not _is_count(p))
    meaningful = any(
        any(ch.isalpha() for ch in w) and w not in PHRASES.units and w not in PHRASES.numbers
        for w in kept
    )
    return " ".join(kept) if meaningful else ""


def parse_item(line: str) -> ItemRequest | None:
    """`parse_request` in the shapes today's checkout reads: a fraction is `NotWhole`; a zero or
    negative quantity is quantity 0 and one above MAX_QUANTITY is MAX_QUANTITY + 1 (the checkout
    refuses both); a bad quantity naming nothing ("-2" alone) is None."""
    req = parse_request(line)
    if not isinstance(req, BadQuantity):
        return req
    if req.kind == QuantityProblem.FRACTION:
        return NotWhole(req.line)
    quantity = MAX_QUANTITY + 1 if req.kind == QuantityProblem.TOO_MANY else 0
    if req.number is not None:
        return ByNumber(req.number, quantity)
    if req.query is not None:
        return ByName(req.query, quantity)
    return None
