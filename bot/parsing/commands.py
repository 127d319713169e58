"""Command words and phrases (`parse_command`), near spellings included; emoji-only messages."""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Sequence

from bot.parsing.phrases import PHRASES, Command, bag, canonical_words
from bot.parsing.text import EDGE_PUNCT, normalize

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


# A message is asked for its command several times on its way through (which facts to load,
# then the checkout's step): the answer depends on the text alone, so it is remembered.
@functools.lru_cache(maxsize=4096)
def parse_command(text: str) -> Command | None:
    """A command word or phrase, or None. `?` alone is help. The order of the tries is in
    `bot/phrases.toml`'s header."""
    t = normalize(text)
    if not t:
        return None
    if (command := PHRASES.exact.get(t)) is not None:
        return command
    words = [w for w in (w.strip(EDGE_PUNCT) for w in t.split()) if w]
    words = canonical_words(words, PHRASES.spellings, PHRASES.verbs)
    if not words:
        return None
    for drop in (frozenset[str](), *PHRASES.drops):
        key = bag(w for w in words if w not in drop)
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
    # The command of each run of words, looked up once (at most 21 runs of 6 words).
    phrase = {
        (start, end): command
        for start in range(n)
        for end in range(start + 1, n + 1)
        if (command := PHRASES.bags.get(bag(words[start:end]))) is not None
    }
    found: set[Command] = set()
    for command in set(phrase.values()):
        covered = [True] + [False] * n  # covered[i]: words[:i] split into phrases of `command`
        for end in range(1, n + 1):
            covered[end] = any(
                covered[start] and phrase.get((start, end)) == command for start in range(end)
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


def is_courtesy(text: str) -> bool:
    """True for a thank-you and nothing else ("thanks", "thank you ji", "shukriya", "धन्यवाद"):
    the `[courtesy]` words of `bot/phrases.toml` with polite ones, and at least one thank-you."""
    words = [w for w in (w.strip(EDGE_PUNCT) for w in normalize(text).split()) if w]
    words = [PHRASES.spellings.get(w, w) for w in words]
    polite = PHRASES.drops[0]
    return (
        bool(words)
        and all(w in PHRASES.courtesy or w in polite for w in words)
        and any(w in PHRASES.courtesy and w not in _NOT_THANKS for w in words)
    )


# Courtesy words that are no thank-you by themselves ("ok", "you", "so much").
_NOT_THANKS = frozenset(
    {"you", "very", "much", "so", "a", "lot", "ok", "okay", "bahut", "bahot", "बहुत", "welcome"}
)


def is_emoji_only(text: str) -> bool:
    """True for text made only of symbols and emoji (no letters or digits)."""
    t = normalize(text)
    return bool(t) and not any(ch.isalnum() for ch in t)
