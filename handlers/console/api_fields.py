"""The admin API's field readers under the names the console calls them by.

Temporary: the admin API's package (`handlers.admin.fields`) replaces this module when it lands.
"""

from __future__ import annotations

from typing import Any

from handlers.admin import _amount, _int, _optional_amount, _text

amount = _amount
optional_amount = _optional_amount
whole_number = _int

_LIMITS = {"reference": 100, "reason": 500, "notes": 500}


def optional_text(body: dict[str, Any], field: str) -> str | None:
    return _text(body, field, required=False, max_len=_LIMITS[field])


def text(body: dict[str, Any], field: str) -> str:
    value = _text(body, field, max_len=_LIMITS[field])
    assert value is not None
    return value
