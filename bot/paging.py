"""Opaque cursors for keyset paging (pure).

A list walked newest first (or by name) hands out `nextCursor`: the sort key of its last row,
JSON-encoded and base64url'd, so clients treat it as a token and the next page starts strictly
after that row (`WHERE (key, id) < (...)`), fast at any depth. `decode_cursor` takes only what
`encode_cursor` made: a list of strings and whole numbers of the expected length and types.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

# A cursor is short; anything longer is not one of ours.
MAX_CURSOR_CHARS = 512

Key = tuple[str | int, ...]


class BadCursor(ValueError):
    """Not a cursor this service handed out (or not for this list)."""


def encode_cursor(key: Sequence[str | int]) -> str:
    """The opaque cursor for sort key `key` (strings and ints)."""
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> Key:
    """The sort key in `cursor`, checked against `kinds` (str or int per position)."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise BadCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("cursor is not one this service handed out") from None
    if not isinstance(value, list) or len(value) != len(kinds):
        raise BadCursor("cursor is not for this list")
    for item, kind in zip(value, kinds, strict=True):
        # bool is an int to Python; a cursor never holds one.
        if isinstance(item, bool) or not isinstance(item, kind):
            raise BadCursor("cursor is not for this list")
        if isinstance(item, int) and not 0 <= item < 2**63:
            raise BadCursor("cursor is not for this list")
    return tuple(value)
