"""What retailers type, parsed purely: command words, item lines, quantities and product names, in
English, Hinglish (Hindi in Latin letters) and Hindi (Devanagari).

The words are data, in `bot/phrases.toml` (read once, at import, and checked); this module holds
the rules that use them. Nothing here knows the stage of a conversation: `bot.checkout` decides
what a parse means there.

- `normalize`, `split_lines`: one form to match on; several item lines in one message.
- `parse_command`: a command word or phrase (`Command`), or None.
- `parse_number`: a lone whole number ("3", "३", "teen", "5 pcs").
- `parse_cart_edit`: "remove 2", "change 1 5".
- `parse_request`: one item line, as `ByNumber`, `ByName` or `BadQuantity` (a quantity to refuse).
  `parse_item` gives the same in the shapes today's checkout reads (see its docstring).
- `parse_message`: a whole message as the checkout reads it, stage aside (what the corpus
  test measures).
- `match_products`: the catalogue products a name means.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

# A retailer may paste a long list, but WhatsApp itself stops at 1,600 characters.
MAX_INPUT_CHARS = 1600
MAX_LINES = 40
# Per cart line; a kirana order of a thousand cartons of one thing is a typo.
MAX_QUANTITY = 999


class Command(StrEnum):
    GREETING = "greeting"
    MENU = "menu"
    HELP = "help"
    CANCEL = "cancel"
    CART = "cart"
    CHECKOUT = "checkout"
    CREDIT = "credit"
    COD = "cod"
    YES = "yes"
    NO = "no"
    REORDER = "reorder"
    BALANCE = "balance"
    STATEMENT = "statement"
    INSIGHTS = "insights"
    INSIGHTS_OFF = "insights_off"
    INSIGHTS_ON = "insights_on"
    STOP = "stop"
    START = "start"
    NEXT = "next"
    PREV = "prev"
    CLEAR = "clear"
    LANGUAGE_EN = "language_en"
    LANGUAGE_HI = "language_hi"


# --- normalising -------------------------------------------------------------------------------

# Invisible marks that change nothing a reader sees (zero-width joiners, emoji variation
# selectors, the keycap of "5️⃣"), and the nukta, which Hindi writers use or leave out at will.
_DROP_MARKS = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f\u20e3\u093c"))
# Chandrabindu written as anusvara ("हाँ" = "हां"), every dash as the hyphen-minus, and the
# fraction slash of "½" (NFKC's "1⁄2") as "/".
_FOLD = str.maketrans(
    {"\u0901": "\u0902", "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2044": "/"}
)
_ANY_DIGIT = re.compile(r"\d")


def _ascii_digits(text: str) -> str:
    """Digits of any script ("५", "৫", "٥") as 0-9."""
    if text.isascii():
        return text
    return _ANY_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), 0)), text)


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).translate(_DROP_MARKS).translate(_FOLD)
    return _ascii_digits(t).lower()


def normalize(text: str) -> str:
    """Lower-case, NFKC, digits of any script as ASCII, marks folded, one space between words,
    edges trimmed."""
    return " ".join(_fold(text).split()).strip(" .,!;:।")


# --- the phrase table --------------------------------------------------------------------------


class UnitKind(StrEnum):
    COUNT = "count"  # packs, bags, pieces: the number before it is a quantity
    MEASURE = "measure"  # kg, litre: a quantity when spaced ("atta 5 kg"), a size when glued
    SIZE = "size"  # g, ml: always a pack size ("chai 250 g"), part of the name


@dataclass(frozen=True)
class Unit:
    name: str  # canonical: "pack", "kg", "dozen"...
    kind: UnitKind
    multiple: int = 1  # a dozen is 12


@dataclass(frozen=True)
class Phrases:
    """`bot/phrases.toml`, normalised and checked."""

    exact: Mapping[str, Command]  # the whole message
    bags: Mapping[tuple[str, ...], Command]  # its words sorted, after spellings and verbs
    spellings: Mapping[str, str]
    verbs: Mapping[tuple[str, ...], str]
    drops: tuple[frozenset[str], ...]  # words dropped in turn: polite, +filler, +verbs, +weak
    numbers: Mapping[str, int]
    fractions: frozenset[str]
    units: Mapping[str, Unit]
    leading: frozenset[str]
    trailing: frozenset[str]
    stopwords: frozenset[str]
    aliases: Mapping[str, str]


def _strings(table: Mapping[str, Any], key: str) -> list[str]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"phrases: {key} must be a list of non-empty strings")
    return [normalize(v) for v in value]


def _mapping(table: Mapping[str, Any], key: str, kind: type) -> dict[str, Any]:
    value = table.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"phrases: [{key}] is missing")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(v, kind) or isinstance(v, bool):
            raise ValueError(f"phrases: {key}.{k} must be a {kind.__name__}")
        out[normalize(k)] = normalize(v) if isinstance(v, str) else v
    return out


def _bag(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(words))


_K = TypeVar("_K", str, tuple[str, ...])


def _put(table: dict[_K, Command], key: _K, command: Command, phrase: str) -> None:
    if table.setdefault(key, command) != command:
        raise ValueError(f"phrases: {phrase!r} means both {table[key]} and {command}")


def load_phrases(data: Mapping[str, Any]) -> Phrases:
    """Check and normalise a parsed phrase table; ValueError names the first problem."""
    commands = data.get("commands")
    if not isinstance(commands, dict):
        raise ValueError("phrases: [commands] is missing")
    spellings: dict[str, str] = _mapping(data, "spellings", str)
    verbs = {tuple(k.split()): v for k, v in _mapping(data, "verbs", str).items()}
    exact: dict[str, Command] = {}
    bags: dict[tuple[str, ...], Command] = {}
    for name in commands:
        try:
            command = Command(name)
        except ValueError:
            raise ValueError(f"phrases: unknown command {name!r}") from None
        for phrase in _strings(commands, name):
            _put(exact, phrase, command, phrase)
            _put(bags, _bag(_canonical(phrase.split(), spellings, verbs)), command, phrase)
    fillers = data.get("fillers", {})
    drops: list[frozenset[str]] = []
    for group in ("polite", "filler", "verbs", "weak"):
        drops.append(frozenset(_strings(fillers, group)).union(*drops))
    numbers: dict[str, int] = _mapping(data, "numbers", int)
    if any(n < 0 for n in numbers.values()):
        raise ValueError("phrases: numbers must be whole numbers from 0")
    units: dict[str, Unit] = {}
    unit_tables = data.get("units", {})
    for kind in UnitKind:
        for word, canonical in _mapping(unit_tables, kind.value, str).items():
            units[word] = Unit(canonical, kind)
    for word, multiple in _mapping(unit_tables, "dozen", int).items():
        units[word] = Unit("dozen", UnitKind.COUNT, multiple)
    items = data.get("items", {})
    return Phrases(
        exact=exact,
        bags=bags,
        spellings=spellings,
        verbs=verbs,
        drops=tuple(drops),
        numbers=numbers,
        fractions=frozenset(_strings(data.get("fractions", {}), "words")),
        units=units,
        leading=frozenset(_strings(items, "leading")),
        trailing=frozenset(_strings(items, "trailing")),
        stopwords=frozenset(_strings(items, "stopwords")),
        aliases=_mapping(data, "aliases", str),
    )


def _canonical(
    words: Sequence[str], spellings: Mapping[str, str], verbs: Mapping[tuple[str, ...], str]
) -> list[str]:
    """Words with misspellings fixed and every form of a verb as one ("kar do" -> "karo")."""
    fixed = [spellings.get(w, w) for w in words]
    out: list[str] = []
    i = 0
    while i < len(fixed):
        for size in (3, 2, 1):
            verb = verbs.get(tuple(fixed[i : i + size])) if i + size <= len(fixed) else None
            if verb is not None:
                out.extend(verb.split())
                i += size
                break
        else:
            out.append(fixed[i])
            i += 1
    return out


# Data beside the code, read through importlib.resources so that it works installed too; a
# mistake in it fails the import (and so the first test), not a retailer's message.
PHRASES = load_phrases(
    tomllib.loads(resources.files("bot").joinpath("phrases.toml").read_text("utf-8"))
)
# The exact phrases (kept under this name for callers that listed them).
WORDS: Mapping[str, Command] = PHRASES.exact
# Hindi names for what the catalogue calls in English.
ALIASES: Mapping[str, str] = PHRASES.aliases


# --- commands ----------------------------------------------------------------------------------

_EDGE_PUNCT = " .,!?;:।\"'()[]"
# Near spellings are tried for one word of this many letters or more, against one-word commands
# as long: shorter words are too often other words ("chini" is 0.8 like "hindi", "crate" like
# "rates"), which the table test checks against the demo catalogue.
_FUZZY_MIN = 6
_FUZZY_RATIO = 0.85
_FUZZY_WORDS = tuple(
    sorted(
        (p, c)
        for p, c in PHRASES.exact.items()
        if " " not in p and len(p) >= _FUZZY_MIN and p.isascii() and p.isalpha()
    )
)


def parse_command(text: str) -> Command | None:
    """A command word or phrase, or None. `?` alone is help. The order of the tries is in
    `bot/phrases.toml`'s header."""
    t = normalize(text)
    if not t:
        return None
    if (command := PHRASES.exact.get(t)) is not None:
        return command
    words = [w for w in (w.strip(_EDGE_PUNCT) for w in t.split()) if w]
    words = _canonical(words, PHRASES.spellings, PHRASES.verbs)
    if not words:
        return None
    for drop in (frozenset[str](), *PHRASES.drops):
        key = _bag(w for w in words if w not in drop)
        if key and (command := PHRASES.bags.get(key)) is not None:
            return command
    for drop in PHRASES.drops:
        if (command := _agreeing_phrases([w for w in words if w not in drop])) is not None:
            return command
    # Emoji with variation selectors and skin tones ("👍🏽") still read as the emoji.
    bare = "".join(ch for ch in t if unicodedata.category(ch) not in ("Sk", "Mn", "Cf"))
    if (command := PHRASES.exact.get(bare)) is not None:
        return command
    return _near_command(words)


# Longer messages are sentences, not a string of command words.
_MAX_PHRASES_WORDS = 6


def _agreeing_phrases(words: Sequence[str]) -> Command | None:
    """Words that are, one after another, phrases of one command: "haan confirm", "repeat last
    order" ("repeat" + "last order"). Phrases of two commands ("cart checkout") mean neither."""
    n = len(words)
    if not 2 <= n <= _MAX_PHRASES_WORDS:
        return None
    found: set[Command] = set()
    for command in set(PHRASES.bags.values()):
        covered = [True] + [False] * n  # covered[i]: words[:i] split into phrases of `command`
        for end in range(1, n + 1):
            covered[end] = any(
                covered[start] and PHRASES.bags.get(_bag(words[start:end])) == command
                for start in range(end)
            )
        if covered[n]:
            found.add(command)
    return found.pop() if len(found) == 1 else None


def _near_command(words: Sequence[str]) -> Command | None:
    """One misspelt command word ("chekout"), when one command alone is that close."""
    if len(words) != 1 or len(words[0]) < _FUZZY_MIN or not words[0].isascii():
        return None
    scored = sorted(
        ((difflib.SequenceMatcher(None, words[0], p).ratio(), c) for p, c in _FUZZY_WORDS),
        reverse=True,
    )
    best = [c for r, c in scored if r >= _FUZZY_RATIO]
    return best[0] if best and len(set(best)) == 1 else None


def is_emoji_only(text: str) -> bool:
    """True for text made only of symbols and emoji (no letters or digits)."""
    t = normalize(text)
    return bool(t) and not any(ch.isalnum() for ch in t)


# --- quantities --------------------------------------------------------------------------------


class QuantityProblem(StrEnum):
    NEGATIVE = "negative"  # "atta -2", "2 x -1"
    ZERO = "zero"  # "atta 0"
    FRACTION = "fraction"  # "atta 2.5", "aadha kilo chini": never rounded
    TOO_MANY = "too_many"  # more than MAX_QUANTITY


@dataclass(frozen=True)
class _Qty:
    text: str  # as typed
    value: int | None  # None for a fraction
    negative: bool = False
    unit: Unit | None = None  # glued: "5pcs", "2dozen"


# A number as typed: sign, digits, a decimal or a fraction, letters glued after ("5pcs", "10kg").
_NUMBER = re.compile(r"([-+]?)([0-9]+)(?:\.([0-9]+)|/([0-9]+))?([^\W\d_]*)")
# More digits than this is no quantity anyone means (and int() of it is not worth the time).
_MAX_DIGITS = 12


def _read_qty(word: str) -> _Qty | None:
    """A quantity word: "5", "-2", "2.5", "1/2", "teen", "aadha", "5pcs"; None for anything else,
    and for a size ("10kg", "500ml"), which belongs to a name."""
    if word in PHRASES.numbers:
        return _Qty(word, PHRASES.numbers[word])
    if word in PHRASES.fractions:
        return _Qty(word, None)
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
    return _Qty(word, value, sign == "-", unit)


def _assess(q: _Qty, unit: Unit | None) -> tuple[QuantityProblem | None, int]:
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


# --- cart edits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartEdit:
    """`remove 2` (line 2 out) or `change 2 5` (line 2 to 5)."""

    line: int
    quantity: int  # 0 removes


_REMOVE = r"(?:remove|delete|del|hatao|hata do|hata|nikalo|nikal do|हटाओ|हटा दो)"
_CHANGE = r"(?:change|set|update|badlo|badal do|बदलो)"
_RE_REMOVE = re.compile(rf"^{_REMOVE}\s*(?:item|line|no\.?|#)?\s*(\d{{1,6}})$")
_RE_REMOVE_AFTER = re.compile(
    rf"^(?:item|line|#)?\s*(\d{{1,6}})\s*(?:number\s+|no\.?\s+|नंबर\s+)?(?:ko\s+)?{_REMOVE}$"
)
# A "-" glued to the quantity is a minus sign ("change 1 -2" is no edit), not a separator.
_RE_CHANGE = re.compile(
    rf"^{_CHANGE}\s*(?:item|line|no\.?|#)?\s*(\d{{1,6}})"
    rf"(?:\s*(?:to|=|x|:|qty|ko)\s*|\s*-\s+|-|\s+)(\d{{1,12}})$"
)


def parse_cart_edit(text: str) -> CartEdit | None:
    """`remove 2`, `2 hatao`, `change 1 5`, `set 1 to 5`; None for anything else, including a
    negative or fractional new quantity."""
    t = normalize(text)
    if m := _RE_REMOVE.match(t) or _RE_REMOVE_AFTER.match(t):
        return CartEdit(int(m.group(1)), 0)
    if m := _RE_CHANGE.match(t):
        return CartEdit(int(m.group(1)), int(m.group(2)))
    return None


# --- item lines --------------------------------------------------------------------------------


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
    words = [w for w in (w.strip(_EDGE_PUNCT) for w in t.split()) if w]
    words = _canonical(words, {}, PHRASES.verbs)
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
    q = _read_qty(rest[0])
    if q is None:
        return None
    number = int(m.group(1))
    problem, quantity = _assess(q, unit)
    if problem is not None:
        return BadQuantity(problem, line, q.text, number=number)
    return ByNumber(number, quantity, _unit_name(unit, q))


def _unit_name(unit: Unit | None, q: _Qty) -> str | None:
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


_Found = tuple[_Qty, Unit | None, str]  # quantity, unit, name


def _leading(words: list[str]) -> _Found | None:
    """A quantity first: "5 atta", "do kilo chini", "3 pkt x maggi"."""
    q = _read_qty(words[0])
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
    q = _read_qty(words[k]) if k >= 1 else None
    if q is None and unit is None and (m := _NAME_DASH_QTY.fullmatch(words[k])):
        q, name_words = _read_qty(m.group(2)), [*words[:k], m.group(1)]
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
    q = _read_qty(words[0])
    if q is None:
        return None
    problem, _ = _assess(q, unit)
    return BadQuantity(problem, line, q.text) if problem is not None else None


def _named(q: _Qty, unit: Unit | None, name: str, line: str) -> Request:
    problem, quantity = _assess(q, unit)
    if problem is not None:
        return BadQuantity(problem, line, q.text, query=name)
    return ByName(name, quantity, _unit_name(unit, q))


_WORD = re.compile(r"[\w\u0900-\u097f]+")


def _is_count(word: str) -> bool:
    unit = PHRASES.units.get(word)
    return unit is not None and unit.kind == UnitKind.COUNT


def _name(words: Sequence[str]) -> str:
    """The words that name a product: codes kept whole, punctuation and stopwords out; empty
    when nothing is left that has a letter and is not a unit or a number word."""
    kept: list[str] = []
    for w in words:
        parts = [w] if _CODE.fullmatch(w) else _WORD.findall(w)
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


_SPLIT = re.compile(r"\n|,|;|\s+(?:and|aur|और|&|\+)\s+|\s+\+\s*|\s*\+\s+")


def split_lines(text: str) -> list[str]:
    """Several items in one message: one a line, or separated by `,` `;` `and` `aur` `+`."""
    return [p for p in (normalize(part) for part in _SPLIT.split(_fold(text))) if p]


# --- a whole message ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A lone number: its meaning (category, item, quantity, choice) is the stage's."""

    value: int


@dataclass(frozen=True)
class Items:
    """Item lines, each with its request (None: not understood)."""

    lines: tuple[tuple[str, Request | None], ...]


Parse = Command | Number | CartEdit | Items


def parse_message(text: str) -> Parse | None:
    """A whole message read the way the checkout tries it: a command, a lone number, a cart
    edit, then item lines; None when nothing fits (no line names an item or a number)."""
    if (command := parse_command(text)) is not None:
        return command
    if (number := parse_number(text)) is not None:
        return Number(number)
    if (edit := parse_cart_edit(text)) is not None:
        return edit
    lines = tuple((line, parse_request(line)) for line in split_lines(text))
    if all(req is None for _, req in lines):
        return None
    return Items(lines)


# --- product names -----------------------------------------------------------------------------

# "1 ltr", "500 gm", "10 kg" as one size word ("1l", "500g", "10kg"), as catalogue names write it.
_SIZE = re.compile(
    r"([0-9]+(?:\.[0-9]+)?)\s*("
    + "|".join(
        sorted(
            (re.escape(w) for w, u in PHRASES.units.items() if u.kind != UnitKind.COUNT),
            key=len,
            reverse=True,
        )
    )
    + r")(?![\w\u0900-\u097f])"
)


def _sizes(text: str) -> str:
    return _SIZE.sub(lambda m: m.group(1) + PHRASES.units[m.group(2)].name, text)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens, sizes in one form, with Hindi aliases mapped to catalogue words."""
    return [ALIASES.get(w, w) for w in _WORD.findall(_sizes(normalize(text)))]


@dataclass(frozen=True)
class Named:
    """A product as name matching sees it."""

    id: int
    name: str
    sku: str
    category: str


def _token_matches(query_token: str, product_tokens: Sequence[str], *, fuzzy: bool) -> int:
    """2 for an exact token, 1 for a prefix or (when `fuzzy`) a close spelling, else 0."""
    best = 0
    for t in product_tokens:
        if t == query_token:
            return 2
        prefix = len(query_token) >= 2 and t.startswith(query_token)
        # Near spellings only between real words: "haal" is not a slip for the code part "hal".
        near = fuzzy and min(len(query_token), len(t)) >= 4 and _similar(query_token, t)
        if prefix or near:
            best = 1
    return best


def _similar(a: str, b: str) -> bool:
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


@lru_cache(maxsize=4096)
def _product_tokens(name: str, sku: str, category: str) -> tuple[str, ...]:
    return (*tokens(name), *tokens(sku.replace("-", " ")), *tokens(category))


# Size words as `tokens` writes them ("10kg", "500ml").
_SIZE_TOKEN = re.compile(
    r"[0-9]+(?:\.[0-9]+)?(?:"
    + "|".join(sorted({u.name for u in PHRASES.units.values() if u.kind != UnitKind.COUNT}))
    + ")"
)
# Hinglish words that near spellings may stand for ("chinni" for "chini").
_NEAR_MIN = 5  # "haal" (how are you) is not a slip for "daal"
_NEAR_ALIASES = sorted(w for w in ALIASES if w.isascii() and len(w) >= _NEAR_MIN)


def match_products(query: str, products: Iterable[Named]) -> list[int]:
    """Ids of the products that best match `query`: a product code (SKU) typed whole means that
    product; otherwise every query word must match the name, the SKU or the category, exact words
    outranking prefixes. Near spellings ("magi" for "maggi", "chinni" for "chini") are tried only
    when nothing matches as typed (they cost more); a size that fits no product ("moong dal 2kg"
    when the pack is 1kg) is left out last, so the product is found and its pack shown."""
    q = tokens(query)
    if not q:
        return []
    products = list(products)
    code = normalize(query)
    by_code = [p.id for p in products if p.sku.lower() == code]
    if by_code:
        return by_code
    prepared = [(p.id, _product_tokens(p.name, p.sku, p.category)) for p in products]
    without_sizes = [t for t in q if not _SIZE_TOKEN.fullmatch(t)]
    attempts = [q] + ([without_sizes] if without_sizes and without_sizes != q else [])
    for words in attempts:
        for fuzzy in (False, True):
            if ids := _best_matches(words, prepared, fuzzy=fuzzy):
                return ids
    return []


def _best_matches(
    q: Sequence[str], prepared: Sequence[tuple[int, Sequence[str]]], *, fuzzy: bool
) -> list[int]:
    near = [_near_alias(t) if fuzzy else None for t in q]
    scored: list[tuple[int, int]] = []
    for pid, product_tokens in prepared:
        scores = [
            max(
                _token_matches(t, product_tokens, fuzzy=fuzzy),
                _token_matches(alias, product_tokens, fuzzy=False) if alias else 0,
            )
            for t, alias in zip(q, near, strict=True)
        ]
        if all(scores):
            scored.append((sum(scores), pid))
    if not scored:
        return []
    top = max(s for s, _ in scored)
    return [pid for s, pid in scored if s == top]


@lru_cache(maxsize=1024)
def _near_alias(word: str) -> str | None:
    if len(word) < _NEAR_MIN or word in ALIASES:
        return None
    close = difflib.get_close_matches(word, _NEAR_ALIASES, n=1, cutoff=0.8)
    return ALIASES[close[0]] if close else None
