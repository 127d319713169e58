"""Phone numbers in E.164, parsed with Google's libphonenumber port (`phonenumbers`)."""

from __future__ import annotations

from typing import NewType

import phonenumbers

Phone = NewType("Phone", str)

DEFAULT_REGION = "IN"


class InvalidPhone(ValueError):
    """Not a valid phone number."""


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> Phone:
    """Return E.164 (`+919812345678`) for a number typed or sent as `whatsapp:+91...`."""
    text = raw.strip().removeprefix("whatsapp:").strip()
    if not text or len(text) > 32:
        raise InvalidPhone(raw)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(raw) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhone(raw)
    return Phone(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def looks_like_phone(text: str) -> bool:
    """True when `text` is written like a phone number rather than a numeric id."""
    t = text.strip().removeprefix("whatsapp:")
    return t.startswith("+") or len(t) >= 10


def mask_phone(phone: str | None) -> str:
    """For logs: keep the country code and last 3 digits (`+91******678`)."""
    if not phone:
        return "-"
    p = phone.removeprefix("whatsapp:")
    if len(p) <= 6:
        return "***"
    return p[:3] + "*" * (len(p) - 6) + p[-3:]
