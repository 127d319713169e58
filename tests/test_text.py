"""Text checks at the edges, and the "as of" window of job runs (tables)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bot.clock import AS_OF_DAYS_BACK, as_of_problem
from bot.text import has_nul, is_digits, without_nul


@pytest.mark.parametrize(
    "text, ok",
    [("0", True), ("42", True), ("", False), ("²", False), ("४२", False), ("1²", False),
     ("-1", False), ("1.0", False), (" 1", False), ("١٢", False)],
)  # fmt: skip
def test_is_digits(text: str, ok: bool) -> None:
    assert is_digits(text) is ok


@pytest.mark.parametrize(
    "value, found",
    [("a\x00b", True), ({"k": ["x", {"y": "\x00"}]}, True), ({"k\x00": 1}, True),
     ({"k": ["x", 1, None, True]}, False), ("", False), (12, False)],
)  # fmt: skip
def test_has_nul(value: Any, found: bool) -> None:
    assert has_nul(value) is found


def test_without_nul() -> None:
    assert without_nul([("Body", "1\x00 atta\x00"), ("X\x00", "")]) == [
        ("Body", "1 atta"),
        ("X", ""),
    ]


TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    "as_of, ok",
    [(TODAY, True), (date(2026, 11, 26), True), (date(2026, 10, 27), True),
     (date(2026, 10, 26), False), (date(2026, 11, 28), False), (date(9999, 12, 31), False),
     (date(1, 1, 1), False)],
)  # fmt: skip
def test_as_of_window(as_of: date, ok: bool) -> None:
    assert AS_OF_DAYS_BACK == 31
    assert (as_of_problem(as_of, TODAY) is None) is ok


def test_jobs_that_change_credit_or_message_retailers_run_as_of_today_only() -> None:
    assert as_of_problem(TODAY, TODAY, today_only=True) is None
    assert "as of today" in (as_of_problem(date(2026, 11, 26), TODAY, today_only=True) or "")
    assert "future" in (as_of_problem(date(2026, 11, 28), TODAY, today_only=True) or "")
