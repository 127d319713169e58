"""Cart edits: "remove 2", "2 hatao", "change 1 5"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.parsing.text import normalize


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
