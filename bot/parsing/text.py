"""Normalising what retailers type: one form to match on, and several item lines in one message."""

from __future__ import annotations

import re
import unicodedata

# A retailer may paste a long list, but WhatsApp itself stops at 1,600 characters.
MAX_INPUT_CHARS = 1600
MAX_LINES = 40

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


# Punctuation stripped from the edges of each word.
EDGE_PUNCT = " .,!?;:।\"'()[]"
# A word of Latin or Devanagari letters and digits.
WORD = re.compile(r"[\w\u0900-\u097f]+")

_SPLIT = re.compile(r"\n|,|;|\s+(?:and|aur|और|&|\+)\s+|\s+\+\s*|\s*\+\s+")


def split_lines(text: str) -> list[str]:
    """Several items in one message: one a line, or separated by `,` `;` `and` `aur` `+`."""
    return [p for p in (normalize(part) for part in _SPLIT.split(_fold(text))) if p]
