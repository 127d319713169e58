"""Amounts no client should send still get a clear refusal (InvalidAmount), never a crash.

`decimal.InvalidOperation` escaped `parse_rupees` for an amount with 29+ integer digits and
3 decimals (the 2-decimal check rounded in a 28-digit context before the size check ran), and
`str()` of an integer past 4,300 digits raises ValueError: both surfaced as 500s on every route
that takes money, in admin `paid` and in the CSV importer.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.money import MAX_RUPEES, InvalidAmount, parse_rupees

HUGE = "1" * 29 + ".123"


@pytest.mark.parametrize(
    "value, message",
    [
        (HUGE, "too large"),
        (Decimal(HUGE), "too large"),
        ("-" + HUGE, "positive"),
        ("9" * 60 + ".999", "too large"),
        ("1" * 29 + ".12", "too large"),
        (Decimal("1E+999999"), "too large"),
        (Decimal("1E-999999"), "2 decimals"),
        (Decimal("12.3450000000000000000000000000000000001"), "2 decimals"),
        (10**5000, "too large"),
        (-(10**5000), "positive"),
        (float("1e308"), "too large"),
        ("10.5" + "0" * 100, None),
    ],
    ids=lambda v: repr(v)[:24] if not isinstance(v, int) else f"int:{v.bit_length()}bits",
)
def test_absurd_amounts_are_refused_plainly(value: object, message: str | None) -> None:
    if message is None:
        assert parse_rupees(value) == 1050
        return
    with pytest.raises(InvalidAmount, match=message):
        parse_rupees(value)


_decimals = st.decimals(allow_nan=True, allow_infinity=True)
_texts = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"\A[+-]?[0-9,]{0,60}(\.[0-9]{0,40})?\Z"),
    st.builds(lambda d, e: f"{d}e{e}", st.integers(), st.integers(-(10**6), 10**6)),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_decimals, _texts, st.integers(), st.floats(), st.booleans(), st.none()))
def test_any_value_gives_paise_or_invalid_amount(value: object) -> None:
    try:
        paise = parse_rupees(value, allow_zero=True)
    except InvalidAmount:
        return
    assert isinstance(paise, int) and 0 <= paise <= int(MAX_RUPEES * 100)
