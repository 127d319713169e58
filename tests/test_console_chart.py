"""The aging chart's short amounts (pure): a label must be the bar's amount, only shorter."""

from __future__ import annotations

import pytest

from handlers.console.chart import compact_inr


@pytest.mark.parametrize(
    "paise, label",
    [
        (0, "₹0"),
        (950_00, "₹950"),
        (10_000_00, "₹10k"),  # was "₹1k": the zero of "10" stripped as if it were a decimal
        (70_200_00, "₹70k"),  # was "₹7k" on the demo dashboard (₹70,200 not yet due)
        (72_075_00, "₹72k"),
        (1_00_000_00, "₹1 L"),
        (4_50_000_00, "₹4.5 L"),
        (20_00_000_00, "₹20 L"),
        (1_25_00_000_00, "₹1.25 Cr"),
        (10_00_00_000_00, "₹10 Cr"),
    ],
)
def test_compact_inr_keeps_the_digits_of_the_amount(paise: int, label: str) -> None:
    assert compact_inr(paise) == label
