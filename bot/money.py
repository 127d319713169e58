"""Exact money: integer paise inside, Decimal rupees at the API edge, `₹1,25,000` for people."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NewType

from babel import Locale
from babel.numbers import format_decimal

Paise = NewType("Paise", int)

# Parsed once: Babel would otherwise look the locale up on every call.
_EN_IN = Locale.parse("en_IN")

# Larger than any order or limit a distributor would type (₹1,000 crore), small enough for BIGINT.
MAX_RUPEES = Decimal("10000000000")
_RUPEES_TEXT = re.compile(
    r"^[+-]?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,2}(?:,[0-9]{2})*,[0-9]{3})(?:\.[0-9]+)?$"
)


class InvalidAmount(ValueError):
    """An amount that is not a positive rupee value with at most 2 decimals."""


def parse_rupees(value: object, *, allow_zero: bool = False) -> Paise:
    """Parse a JSON number or string of rupees into paise; never through float.

    Accepts `1250`, `"1250.5"`, `"1,250.50"`; refuses negatives, zero (unless allowed), more than
    2 decimals, booleans, NaN and absurd sizes.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidAmount("amount is required and must be a number")
    if isinstance(value, float):
        # JSON numbers arrive as float; their shortest repr is what the client wrote.
        text = repr(value)
    elif isinstance(value, int):
        # Decimal(int) is exact and, unlike str(), has no 4,300-digit limit.
        text = ""
    elif isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip().removeprefix("₹").removeprefix("Rs.").strip()
        # Commas only as digit grouping, Indian (1,25,000) or international (125,000): "12,50"
        # is a typo, not ₹1,250. No "1_000" or "1e3" either (Decimal would take both).
        if not _RUPEES_TEXT.match(text):
            raise InvalidAmount(f"{value!r} is not an amount like 1,25,000.50")
        text = text.replace(",", "")
    else:
        raise InvalidAmount("amount must be a number")
    try:
        amount = Decimal(value) if isinstance(value, int) else Decimal(text)
    except InvalidOperation:
        raise InvalidAmount(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise InvalidAmount("amount must be a finite number")
    # Sign and size first, comparisons only: arithmetic (rounding to 2 places) on a Decimal of 29+
    # digits overflows the 28-digit context and raised InvalidOperation instead of a refusal.
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount("amount must be positive")
    if amount > MAX_RUPEES:
        raise InvalidAmount("amount is too large")
    if _below_paise(amount):
        raise InvalidAmount("amount can have at most 2 decimals")
    return Paise(int(amount.scaleb(2)))


def _below_paise(amount: Decimal) -> bool:
    """True when a digit below the second decimal is not zero ("10.500" is fine, "1.234" is not);
    read from the digits, so no context precision or exponent size can make it raise."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by the caller
    below = -2 - exponent  # how many of the last digits are below a paisa
    return below > 0 and any(digits[-below:])


def to_rupees(paise: int) -> Decimal:
    """Paise to a Decimal of rupees with 2 places, for JSON."""
    return (Decimal(paise) / 100).quantize(Decimal("0.01"))


def rupees_json(paise: int) -> str:
    """Rupees as a JSON string (`"1250.50"`): exact, unlike a float."""
    return str(to_rupees(paise))


@lru_cache(maxsize=8192)
def format_inr(paise: int) -> str:
    """`₹1,25,000` (Indian grouping by Babel's en_IN locale); paise shown only when present."""
    sign = "-" if paise < 0 else ""
    rupees = to_rupees(abs(paise))
    pattern = "#,##,##0" if paise % 100 == 0 else "#,##,##0.00"
    return f"{sign}₹{format_decimal(rupees, format=pattern, locale=_EN_IN)}"
