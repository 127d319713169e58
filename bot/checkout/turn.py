"""What one step accumulates (`Turn`), and the small helpers every part of the checkout uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.checkout.model import (
    HEARD_CHARS,
    NAME_CHARS,
    Conversation,
    Decision,
    Effect,
    Facts,
    Product,
)
from bot.messages import Reply


@dataclass
class Turn:
    """What one step accumulates."""

    conv: Conversation
    facts: Facts
    now: datetime
    language: str
    said: str = ""  # the message as typed (its words or a button's payload)
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def say(self, template: str, **vars: Any) -> None:
        self.replies.append(Reply(template, vars))

    def decision(self) -> Decision:
        return Decision(self.conv, tuple(self.replies), tuple(self.effects), self.language)


def short(name: str) -> str:
    """A product name cut to fit a WhatsApp line."""
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def item_problem(
    kind: str, ref: str, product: Product | None = None, **extra: Any
) -> dict[str, Any]:
    """One entry of the `item_problems` reply: what went wrong with `ref`."""
    return {
        "kind": kind,
        "ref": ref[:HEARD_CHARS],
        "name": short(product.name) if product else "",
        **extra,
    }
