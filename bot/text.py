"""Small checks on text typed by people and programs."""

from __future__ import annotations

from typing import Any


def is_digits(text: str) -> bool:
    """Only the ASCII digits 0-9, at least one. (`str.isdigit` also takes "²" and other digits
    that `int()` refuses, and `str.isdecimal` takes every script's digits.)"""
    return text.isascii() and text.isdigit()


def norm_key(text: str) -> str:
    """A key (payment reference, SKU, category) as compared: whitespace runs made one space,
    trimmed, lower-cased, exactly as the database's `norm_key()` (migration 0009), which is the
    authority; this one compares in Python what SQL will compare (CSV repeats, UTR variants)."""
    return " ".join(text.split()).lower()


def has_nul(value: Any) -> bool:
    """A NUL character in any string of a parsed JSON value (PostgreSQL text cannot hold one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def without_nul(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Form fields with NUL characters taken out (after the signature was checked over them)."""
    return [(k.replace("\x00", ""), v.replace("\x00", "")) for k, v in fields]
