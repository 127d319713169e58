"""The phrase table (`bot/phrases.toml`) as a test table: every phrase means its command, every
number word its number, every unit word a quantity; a broken table fails to load; and no word of
the demo catalogue is mistaken for a command.
"""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from bot.parsing import (
    ALIASES,
    PHRASES,
    ByName,
    Command,
    Named,
    load_phrases,
    match_products,
    normalize,
    parse_command,
    parse_number,
    parse_request,
    tokens,
)
from db.seed import PRODUCTS

RAW: dict[str, Any] = tomllib.loads(
    resources.files("bot").joinpath("phrases.toml").read_text("utf-8")
)
PHRASE_ROWS = [(phrase, cmd) for cmd, phrases in RAW["commands"].items() for phrase in phrases]


def test_every_command_has_phrases_in_both_scripts() -> None:
    """Hindi speakers type in Latin letters and in Devanagari: each command (but the symbols of
    paging) has phrases in both."""
    for command in Command:
        phrases = RAW["commands"].get(command.value, [])
        assert any(p.isascii() for p in phrases), command
        if command not in (Command.INSIGHTS_ON,):
            assert any(not p.isascii() for p in phrases), command


@pytest.mark.parametrize("phrase, command", PHRASE_ROWS)
def test_each_phrase_means_its_command(phrase: str, command: str) -> None:
    assert parse_command(phrase) == Command(command)
    # As typed on a phone: capitals, a trailing full stop, politeness around it.
    assert parse_command(phrase.upper() + ".") == Command(command)
    if phrase.isascii() and phrase.isalpha() and phrase not in PHRASES.drops[0]:
        assert parse_command(f"{phrase} please") == Command(command)


@pytest.mark.parametrize(
    "text, command",
    [
        # The examples.
        ("kitna baki hai", Command.BALANCE),
        ("baki kitna hai", Command.BALANCE),
        ("order cancel karo", Command.CANCEL),
        ("order cancel", Command.CANCEL),
        ("reminder band karo", Command.STOP),
        ("balence", Command.BALANCE),
        ("chekout", Command.CHECKOUT),
        ("cancle", Command.CANCEL),
        ("kart", Command.CART),
        # Words in another order, verb forms, fillers.
        ("hai kitna baki", Command.BALANCE),
        ("order kardo", Command.CHECKOUT),
        ("order kar dijiye", Command.CHECKOUT),
        ("cart dikha do", Command.CART),
        ("mera hisab dikhao", Command.STATEMENT),  # show the ledger
        ("hisab batao", Command.STATEMENT),  # hisab and khata are the statement (issue 12)
        ("khata", Command.STATEMENT),
        ("khata pe", Command.CREDIT),  # on credit, said at the payment choice
        ("statement bhejo", Command.STATEMENT),
        ("insights band karo", Command.INSIGHTS_OFF),
        ("insights chalu karo", Command.INSIGHTS_ON),
        ("what is my balance", Command.BALANCE),
        ("kitna udhaar hai", Command.BALANCE),  # not CREDIT: at payment that picks credit
        ("udhaar", Command.CREDIT),
        ("ऑर्डर कैंसल करो", Command.CANCEL),
        ("रिमाइंडर बंद करो", Command.STOP),
        ("हां जी", Command.YES),
        # Phrases of one command in a row; of two commands, neither.
        ("haan confirm", Command.YES),
        ("repeat last order", Command.REORDER),
        ("no thanks, not now", Command.NO),
        ("cart checkout", None),
        ("ok done", None),
        # Where a kept word matters.
        ("band", Command.STOP),
        ("band karo", Command.CANCEL),
        ("order", Command.MENU),
        ("order karo", Command.CHECKOUT),
        # Near spellings of one word only when one command is that close.
        ("checkuot", Command.CHECKOUT),
        ("balanse", Command.BALANCE),
        # Not commands.
        ("atta 5", None),
        ("atta kitna hai", None),
        ("kya haal hai", None),
        ("kitna", None),
        ("do", None),
        ("", None),
    ],
)
def test_command_phrasing(text: str, command: Command | None) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize("word, value", sorted(RAW["numbers"].items()))
def test_number_words(word: str, value: int) -> None:
    assert parse_number(word) == value
    if value:
        assert parse_request(f"{word} maggi") == ByName("maggi", value)


def _unit_rows() -> list[tuple[str, str]]:
    units = RAW["units"]
    return [(w, kind) for kind in ("count", "measure") for w in units[kind]]


@pytest.mark.parametrize("word, kind", _unit_rows())
def test_unit_words_make_a_quantity(word: str, kind: str) -> None:
    unit = PHRASES.units[normalize(word)].name
    assert parse_request(f"maggi 3 {word}") == ByName("maggi", 3, unit)
    assert parse_request(f"3 {word} maggi") == ByName("maggi", 3, unit)


@pytest.mark.parametrize("word", sorted(RAW["units"]["size"]))
def test_size_words_belong_to_the_name(word: str) -> None:
    req = parse_request(f"chai 500 {word}")
    assert isinstance(req, ByName) and req.quantity is None


@pytest.mark.parametrize("word", sorted(RAW["fractions"]["words"]))
def test_fraction_words_are_refused(word: str) -> None:
    assert parse_request(f"{word} kilo chini").kind.value == "fraction"  # type: ignore[union-attr]


CATALOGUE = [Named(i, name, sku, cat) for i, (sku, name, cat, _, _) in enumerate(PRODUCTS, 1)]
# "जी" alone is "yes"; after "पारले" it is the G of Parle-G.
BOTH_COMMAND_AND_NAME = {"जी"}
# Aliases for words the demo catalogue happens not to use (a distributor's may).
GENERIC_TARGETS = {"detergent"}


def _catalogue_words() -> list[str]:
    words = {t for p in CATALOGUE for t in tokens(f"{p.name} {p.category}") if t.isalpha()}
    aliases = {a for a in ALIASES if any(ch.isalpha() for ch in a)}
    return sorted((words | aliases) - BOTH_COMMAND_AND_NAME)


@pytest.mark.parametrize("word", _catalogue_words())
def test_no_catalogue_word_is_a_command(word: str) -> None:
    """A product name typed alone asks its quantity; it must never be read as a command (the
    near-spelling rule and the fillers are the risk)."""
    assert parse_command(word) is None
    assert parse_command(f"{word} 2") is None


@pytest.mark.parametrize("alias, word", sorted(RAW["aliases"].items()))
def test_aliases_lead_to_a_product(alias: str, word: str) -> None:
    """Every alias names a word some demo product has, so it is no dead entry."""
    assert word in GENERIC_TARGETS or match_products(word, CATALOGUE), f"{alias} -> {word}"


def _broken(path: tuple[str, ...], value: object) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "data, message",
    [
        (_broken(("commands", "pay_later"), ["baad me"]), "unknown command 'pay_later'"),
        (_broken(("commands", "cart"), ["cart", "checkout"]), "'checkout' means both"),
        # "kitna baki" is balance; the same words in another order cannot be something else.
        (_broken(("commands", "statement"), ["baki kitna"]), "'baki kitna' means both"),
        (_broken(("commands", "cart"), "cart"), "must be a list"),
        (_broken(("numbers", "ek"), "1"), "numbers.ek must be a int"),
        (_broken(("numbers", "ek"), -1), "whole numbers from 0"),
        (_broken(("units", "dozen", "dozen"), 12.0), "dozen.dozen must be a int"),
        (_broken(("fillers", "polite"), [""]), "non-empty strings"),
        ({k: v for k, v in RAW.items() if k != "aliases"}, "[aliases] is missing"),
    ],
)
def test_a_broken_table_does_not_load(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_phrases(data)
