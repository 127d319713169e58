from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from bot.twilio_edge import compute_signature, looks_like_sid, signature_valid

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}


def test_matches_twilio_request_validator() -> None:
    # Twilio's own validator (the twilio package) agrees with ours, both ways.
    sig = compute_signature(TOKEN, URL, PARAMS.items())
    assert sig == RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    assert RequestValidator(TOKEN).validate(URL, PARAMS, sig)


def test_rejects_tampering() -> None:
    sig = compute_signature(TOKEN, URL, PARAMS.items())
    assert signature_valid(TOKEN, URL, PARAMS.items(), sig)
    assert not signature_valid(TOKEN, URL, {**PARAMS, "Digits": "9"}.items(), sig)
    assert not signature_valid(TOKEN, URL + "x", PARAMS.items(), sig)
    assert not signature_valid("other", URL, PARAMS.items(), sig)
    assert not signature_valid(TOKEN, URL, PARAMS.items(), None)
    assert not signature_valid(TOKEN, URL, PARAMS.items(), "")


@pytest.mark.parametrize(
    "value, ok",
    [
        ("SM" + "0123456789abcdef" * 2, True),
        ("MM" + "a" * 32, True),
        ("", False),
        ("S", False),
        ("SM" + "a" * 63, False),
        ("SM 123", False),
        ("SM<x>", False),
        ("SMéé", False),
    ],
)
def test_sid_shape(value: str, ok: bool) -> None:
    assert looks_like_sid(value) is ok
