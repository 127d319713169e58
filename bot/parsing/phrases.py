"""The phrase table: `bot/phrases.toml` (read once, at import, and checked) as `PHRASES`, and the
`Command`s and `Unit`s it names."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any, TypeVar

from bot.parsing.text import normalize


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
    RESUME = "resume"  # pick a checkout up where it stopped (what the follow-up offers)
    LANGUAGE_EN = "language_en"
    LANGUAGE_HI = "language_hi"


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
    courtesy: frozenset[str] = frozenset()  # thank-you words (`is_courtesy`)


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


def bag(words: Iterable[str]) -> tuple[str, ...]:
    """Words in one order, the key of a phrase whatever order it was typed in."""
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
            _put(bags, bag(canonical_words(phrase.split(), spellings, verbs)), command, phrase)
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
        courtesy=frozenset(_strings(data.get("courtesy", {}), "words")),
    )


def canonical_words(
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
