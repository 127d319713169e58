"""A whole message as the checkout reads it, stage aside (what the corpus test measures)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.parsing.commands import parse_command
from bot.parsing.edits import CartEdit, parse_cart_edit
from bot.parsing.items import Request, parse_request
from bot.parsing.phrases import Command
from bot.parsing.quantities import parse_number
from bot.parsing.text import split_lines


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
