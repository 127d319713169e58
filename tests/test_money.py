from __future__ import annotations

from decimal import Decimal

import pytest

from bot.money import InvalidAmount, format_inr, parse_rupees, to_rupees
from bot.phone import InvalidPhone, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "value, paise",
    [
        (1250, 125000),
        ("1250.5", 125050),
        ("1,25,000", 12500000),
        (Decimal("0.01"), 1),
        (12.34, 1234),
        ("₹99.90", 9990),
        ("10.500", 1050),
        ("125,000", 12500000),
        ("1,250,000.50", 125000050),
        ("12,50,000", 125000000),
        (" Rs. 1,000 ", 100000),
    ],
)
def test_parse_rupees(value: object, paise: int) -> None:
    assert parse_rupees(value) == paise


@pytest.mark.parametrize(
    "value",
    [0, -5, "-1", "1.234", "abc", None, True, "NaN", "Infinity", [], "1e30", 0.1 + 0.2,
     "1,5", "12,50", "1,2,3", "1_000", "1e3", "1,0000", ",100", "100,", "1,,000", "१००", "1 000"],
)  # fmt: skip
def test_parse_rupees_refuses(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_rupees(value)


@pytest.mark.parametrize(
    "paise, text",
    [
        (12500000, "₹1,25,000"),
        (100, "₹1"),
        (0, "₹0"),
        (12345678950, "₹12,34,56,789.50"),
        (5, "₹0.05"),
        (-125005, "-₹1,250.05"),
    ],
)
def test_format_inr(paise: int, text: str) -> None:
    assert format_inr(paise) == text


def test_to_rupees_is_exact() -> None:
    assert to_rupees(1) == Decimal("0.01")


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("whatsapp:+919812345678", "+919812345678"),
        ("9812345678", "+919812345678"),
        ("+91 98123 45678", "+919812345678"),
        ("+14155238886", "+14155238886"),
    ],
)
def test_normalize_phone(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "abc", "12", "whatsapp:", "+" + "9" * 40])
def test_normalize_phone_refuses(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_mask_phone() -> None:
    assert mask_phone("+919812345678") == "+91*******678"
    assert "9812345" not in mask_phone("whatsapp:+919812345678")
