"""Product-name matching: the catalogue products a name means (`match_products`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.parsing.phrases import ALIASES, PHRASES, UnitKind
from bot.parsing.text import WORD, normalize

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
    return [ALIASES.get(w, w) for w in WORD.findall(_sizes(normalize(text)))]


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
