"""What retailers type, parsed purely: command words (English, Hinglish, Hindi), item lines,
quantities and product names.

Nothing here knows the stage of a conversation; `bot.checkout` decides what a parse means there.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

# A retailer may paste a long list, but WhatsApp itself stops at 1,600 characters.
MAX_INPUT_CHARS = 1600
MAX_LINES = 40
# Per cart line; a kirana order of a thousand cartons of one thing is a typo.
MAX_QUANTITY = 999

_DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")


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
    INSIGHTS = "insights"
    STOP = "stop"
    START = "start"
    NEXT = "next"
    PREV = "prev"
    CLEAR = "clear"
    LANGUAGE_EN = "language_en"
    LANGUAGE_HI = "language_hi"


_WORDS: dict[Command, tuple[str, ...]] = {
    Command.GREETING: (
        "hi", "hii", "hello", "hey", "helo", "namaste", "namaskar", "namaste", "ram ram",
        "good morning", "gm", "नमस्ते", "नमस्कार", "राम राम",
    ),
    Command.MENU: (
        "menu", "catalogue", "catalog", "list", "products", "items", "order", "new order",
        "saman", "samaan", "maal", "suchi", "मेनू", "सूची", "सामान",
    ),
    Command.HELP: ("help", "?", "madad", "sahayata", "help me", "मदद", "सहायता"),
    Command.CANCEL: (
        "cancel", "cancel order", "radd", "rad", "band karo", "cancel karo", "रद्द", "कैंसल",
    ),
    Command.CART: (
        "cart", "basket", "my cart", "show cart", "view cart", "cart dikhao", "jhola", "कार्ट",
    ),
    Command.CHECKOUT: (
        "checkout", "check out", "done", "bas", "bas itna", "place order", "order karo",
        "order kar do", "finish", "aage badho", "चेकआउट", "बस",
    ),
    Command.CREDIT: ("credit", "udhaar", "udhar", "udhari", "khata", "उधार", "खाता"),
    Command.COD: (
        "cod", "cash", "cash on delivery", "nakad", "naqad", "nagad", "cash payment",
        "नकद", "कैश",
    ),
    Command.YES: (
        "yes", "y", "yeah", "yep", "haan", "han", "haa", "ha", "hanji", "haan ji", "ji haan",
        "ok", "okay", "k", "theek hai", "thik hai", "thik", "theek", "sahi", "confirm",
        "confirmed", "pakka", "done karo", "👍", "👌", "✅", "हाँ", "हां", "हा", "ठीक है", "पक्का",
    ),
    Command.NO: ("no", "n", "nahi", "nahin", "na", "nope", "mat karo", "नहीं", "ना"),
    Command.REORDER: (
        "reorder", "re order", "repeat", "repeat order", "same again", "same order",
        "dobara", "wahi", "phir se", "पिछला ऑर्डर", "दोबारा",
    ),
    Command.BALANCE: (
        "balance", "credit status", "my credit", "baki", "baaki", "bakaya", "hisab",
        "hisaab", "limit", "बकाया", "हिसाब", "बैलेंस",
    ),
    Command.INSIGHTS: ("insights", "insight", "report", "my orders", "orders", "रिपोर्ट"),
    Command.STOP: ("stop", "unsubscribe", "stop reminders", "band", "रोकें"),
    Command.START: ("start", "subscribe", "start reminders", "शुरू"),
    Command.NEXT: ("next", "more", "aage", "agla", "n>", ">", "आगे", "अगला"),
    Command.PREV: ("back", "prev", "previous", "peeche", "pichla", "<", "पीछे", "पिछला"),
    Command.CLEAR: ("clear", "clear cart", "empty cart", "khali karo", "खाली"),
    Command.LANGUAGE_EN: ("language en", "english", "lang en", "language english", "अंग्रेज़ी"),
    Command.LANGUAGE_HI: (
        "language hi", "hindi", "lang hi", "language hindi", "hindi me", "हिंदी", "हिन्दी",
    ),
}  # fmt: skip

WORDS: dict[str, Command] = {w: cmd for cmd, words in _WORDS.items() for w in words}

# Politeness around a word ("ok ji", "cart please", "bhaiya menu") does not change it.
_FILLERS = frozenset({"please", "pls", "plz", "ji", "bhai", "bhaiya", "sir", "madam", "sirji"})


def normalize(text: str) -> str:
    """Lower-case, NFC, Devanagari digits as ASCII, one space between words, edges trimmed."""
    t = unicodedata.normalize("NFKC", text).translate(_DEVANAGARI_DIGITS).lower()
    t = " ".join(t.split())
    return t.strip(" .,!;:।")


def parse_command(text: str) -> Command | None:
    """A command word or phrase, or None. `?` alone is help."""
    t = normalize(text)
    if not t:
        return None
    if t in WORDS:
        return WORDS[t]
    words = [w for w in t.split() if w not in _FILLERS]
    if words and len(words) < len(t.split()):
        stripped = " ".join(words)
        if stripped in WORDS:
            return WORDS[stripped]
    # Emoji with variation selectors and skin tones ("👍🏽") still read as the emoji.
    bare = "".join(ch for ch in t if unicodedata.category(ch) not in ("Sk", "Mn", "Cf"))
    return WORDS.get(bare)


def parse_number(text: str) -> int | None:
    """A lone whole number ("3", "#3", "३"), or None."""
    match = re.fullmatch(r"#?\s*(\d{1,12})", normalize(text))
    return int(match.group(1)) if match else None


def is_emoji_only(text: str) -> bool:
    """True for text made only of symbols and emoji (no letters or digits)."""
    t = normalize(text)
    return bool(t) and not any(ch.isalnum() for ch in t)


# --- cart edits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartEdit:
    """`remove 2` (line 2 out) or `change 2 5` (line 2 to 5)."""

    line: int
    quantity: int  # 0 removes


_REMOVE = r"(?:remove|delete|del|hatao|hata do|hata|nikalo|nikal do|हटाओ|हटा दो)"
_CHANGE = r"(?:change|set|update|badlo|badal do|बदलो)"
_RE_REMOVE = re.compile(rf"^{_REMOVE}\s*(?:item|line|no\.?|#)?\s*(\d{{1,6}})$")
_RE_REMOVE_AFTER = re.compile(rf"^(?:item|line|#)?\s*(\d{{1,6}})\s*(?:ko\s+)?{_REMOVE}$")
_RE_CHANGE = re.compile(
    rf"^{_CHANGE}\s*(?:item|line|no\.?|#)?\s*(\d{{1,6}})\s*(?:to|=|x|:|-|qty|ko)?\s*(\d{{1,12}})$"
)


def parse_cart_edit(text: str) -> CartEdit | None:
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


@dataclass(frozen=True)
class ByName:
    """`maggi 5`, `5 maggi`, `parle g x 10`, or a name alone (quantity asked for)."""

    query: str
    quantity: int | None


@dataclass(frozen=True)
class NotWhole:
    """`atta 2.5`, `1 x 0.5`: a quantity with a fraction. Never rounded, nor read as another
    number ("atta 2.5" must not become 5 of "atta 2")."""

    line: str


ItemRequest = ByNumber | ByName | NotWhole

_UNIT = (
    r"(?:pcs?|pieces?|nos?|units?|qty|packets?|pkts?|packs?|box(?:es)?|bags?|bottles?|"
    r"crates?|jars?|strips?|dabb[ae]|peti|katta|बोरी|पैकेट|डिब्बे?)"
)
_SEP = r"(?:x|×|\*|-|:|=)"
_RE_NUM_NUM = re.compile(
    rf"^(?:item\s*|no\.?\s*|#)?(\d{{1,12}})\s*(?:{_SEP}|\s)\s*(\d{{1,12}})\s*{_UNIT}?$"
)
_RE_QTY_NAME = re.compile(rf"^(\d{{1,12}})\s*{_UNIT}?\s*(?:x|×|\*)?\s+(?!\d+$)(.*\D.*)$")
_RE_NAME_QTY = re.compile(rf"^(.*?\D)\s*{_SEP}?\s*(\d{{1,12}})\s*{_UNIT}?$")
# A quantity with a fraction, before a name or after one (a size such as "0.5kg" is a name's).
_RE_FRACTION_QTY = re.compile(
    rf"^(?:[0-9]+\.[0-9]+\s*{_UNIT}?\s*(?:x|×|\*)?\s+\D.*"
    rf"|.*\D\s*{_SEP}?\s*[0-9]+\.[0-9]+\s*{_UNIT}?)$"
)
_SPLIT = re.compile(r"\n|,|;|\s+(?:and|aur|&|\+)\s+|\s+\+\s*|\s*\+\s+")


def split_lines(text: str) -> list[str]:
    """Several items in one message: one a line, or separated by `,` `;` `and` `aur` `+`."""
    t = unicodedata.normalize("NFKC", text).translate(_DEVANAGARI_DIGITS)
    return [p for p in (normalize(part) for part in _SPLIT.split(t)) if p]


def parse_item(line: str) -> ItemRequest | None:
    """One line as an item request, or None when it has no name or number to go on."""
    t = normalize(line)
    if not t:
        return None
    if _RE_FRACTION_QTY.match(t):
        return NotWhole(t)
    if m := _RE_NUM_NUM.match(t):
        return ByNumber(int(m.group(1)), int(m.group(2)))
    if m := _RE_QTY_NAME.match(t):
        name = _clean_name(m.group(2))
        if name:
            return ByName(name, int(m.group(1)))
    if m := _RE_NAME_QTY.match(t):
        name = _clean_name(m.group(1))
        # "atta 10kg" names a pack size, not a quantity: only a bare number or a unit counts.
        if name and not re.search(r"\d$", m.group(1).strip()):
            return ByName(name, int(m.group(2)))
    name = _clean_name(t)
    if name and any(ch.isalpha() for ch in name):
        return ByName(name, None)
    return None


_STOPWORDS = frozenset(
    {
        "of", "the", "a", "an", "add", "and", "please", "pls", "plz", "want", "need", "give",
        "send", "ka", "ki", "ke", "ko", "do", "de", "dena", "dedo", "de do", "chahiye", "bhejo",
        "bhej", "me", "mujhe", "hume", "aur", "wala", "wali", "x",
    }
)  # fmt: skip

# Hindi names for what the catalogue calls in English.
ALIASES: dict[str, str] = {
    "chini": "sugar", "cheeni": "sugar", "शक्कर": "sugar", "चीनी": "sugar", "shakkar": "sugar",
    "namak": "salt", "नमक": "salt",
    "chai": "tea", "chaipatti": "tea", "patti": "tea", "चाय": "tea",
    "chawal": "rice", "chaval": "rice", "चावल": "rice",
    "tel": "oil", "तेल": "oil",
    "sabun": "soap", "साबुन": "soap",
    "aata": "atta", "ata": "atta", "आटा": "atta",
    "daal": "dal", "दाल": "dal",
    "biscuit": "biscuits", "biskut": "biscuits", "बिस्किट": "biscuits",
    "noodle": "noodles", "मैगी": "maggi",
    "sarson": "mustard", "sarso": "mustard", "सरसों": "mustard",
    "nariyal": "coconut", "नारियल": "coconut",
    "agarbatti": "agarbatti", "अगरबत्ती": "agarbatti",
    "machis": "matchbox", "maachis": "matchbox", "माचिस": "matchbox",
    "kapde": "detergent", "surf": "surf",
}  # fmt: skip


# Words, including Devanagari with its vowel signs (which `\w` alone splits apart).
_WORD = re.compile(r"[\w\u0900-\u097f]+")


def _clean_name(text: str) -> str:
    words = [w for w in _WORD.findall(text) if w not in _STOPWORDS]
    return " ".join(words)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with Hindi aliases mapped to catalogue words."""
    return [ALIASES.get(w, w) for w in _WORD.findall(normalize(text))]


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
        if prefix or (fuzzy and len(query_token) >= 4 and _similar(query_token, t)):
            best = 1
    return best


def _similar(a: str, b: str) -> bool:
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


@lru_cache(maxsize=4096)
def _product_tokens(name: str, sku: str, category: str) -> tuple[str, ...]:
    return (*tokens(name), *tokens(sku.replace("-", " ")), *tokens(category))


def match_products(query: str, products: Iterable[Named]) -> list[int]:
    """Ids of the products that best match `query`: every query word must match the name, the
    SKU or the category; exact words outrank prefixes. Near spellings ("magi" for "maggi") are
    tried only when nothing matches as typed (they cost more)."""
    q = tokens(query)
    if not q:
        return []
    prepared = [(p.id, _product_tokens(p.name, p.sku, p.category)) for p in products]
    for fuzzy in (False, True):
        scored: list[tuple[int, int]] = []
        for pid, product_tokens in prepared:
            scores = [_token_matches(t, product_tokens, fuzzy=fuzzy) for t in q]
            if all(scores):
                scored.append((sum(scores), pid))
        if scored:
            top = max(s for s, _ in scored)
            return [pid for s, pid in scored if s == top]
    return []
