"""Reading a list request's query string: cursors, dates, flags and enums (each a clear 422).

The lists of the business day (orders, products, retailers, checkouts) page by keyset with an
opaque cursor (`bot.paging`); a cursor from another list, or not from us, is `422
INVALID_CURSOR`, never a 500.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from starlette.requests import Request

from bot.paging import BadCursor, decode_cursor, encode_cursor
from db.errors import Unprocessable

E = TypeVar("E", bound=StrEnum)

MAX_PAGE = 200


def page_size(request: Request, default: int = 50) -> int:
    """The `limit` query parameter: 1 to MAX_PAGE."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4 or not 1 <= int(raw) <= MAX_PAGE:
        raise Unprocessable("INVALID_FIELD", f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def enum_param(request: Request, name: str, kind: type[E]) -> E | None:
    """An enum value from the query (any case), or None when absent or empty."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    for candidate in (raw.upper(), raw.lower()):
        if candidate in {m.value for m in kind}:
            return kind(candidate)
    allowed = ", ".join(m.value for m in kind)
    raise Unprocessable("INVALID_FIELD", f"{name} must be one of {allowed}")


def date_param(request: Request, name: str) -> date | None:
    """A `YYYY-MM-DD` query parameter, or None."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise Unprocessable("INVALID_FIELD", f"{name} must be a date YYYY-MM-DD") from None


def flag_param(request: Request, name: str) -> bool | None:
    """`true`/`false` (also 1/0, yes/no) from the query, or None."""
    raw = request.query_params.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise Unprocessable("INVALID_FIELD", f"{name} must be true or false")


def text_param(request: Request, name: str, max_chars: int = 100) -> str | None:
    """Trimmed text from the query, or None when blank; 422 when longer than `max_chars`."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if len(raw) > max_chars or "\x00" in raw:
        raise Unprocessable("INVALID_FIELD", f"{name} must be at most {max_chars} characters")
    return raw


def _cursor(request: Request) -> str | None:
    raw = request.query_params.get("cursor", "").strip()
    return raw or None


def time_cursor(request: Request) -> tuple[datetime, int] | None:
    """A (time, id) keyset cursor, or None for the first page."""
    raw = _cursor(request)
    if raw is None:
        return None
    try:
        at, key = decode_cursor(raw, (str, int))
        assert isinstance(at, str) and isinstance(key, int)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise BadCursor("naive time")
    except (BadCursor, ValueError):
        raise Unprocessable("INVALID_CURSOR", "cursor is not one this list handed out") from None
    return moment, key


def name_cursor(request: Request) -> tuple[str, int] | None:
    """A (name, id) keyset cursor, or None for the first page."""
    raw = _cursor(request)
    if raw is None:
        return None
    try:
        name, key = decode_cursor(raw, (str, int))
    except BadCursor:
        raise Unprocessable("INVALID_CURSOR", "cursor is not one this list handed out") from None
    assert isinstance(name, str) and isinstance(key, int)
    return name, key


def next_cursor(key: tuple[datetime | str, int] | None) -> str | None:
    """The cursor of the page after the one whose last row has sort key `key`."""
    if key is None:
        return None
    first, ident = key
    return encode_cursor([first.isoformat() if isinstance(first, datetime) else first, ident])
