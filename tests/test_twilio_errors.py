"""One table of Twilio's error codes, read the same for the API's answer and for callbacks.

Each row: the code, the class it must have, and (comment) where its meaning was read; Twilio's
pages are https://www.twilio.com/docs/api/errors/<code> unless the comment says otherwise.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.twilio_errors import TWILIO_ERRORS, UNKNOWN, ErrorClass, classify_error

T, R, O, W, C = (  # noqa: E741 - one letter per class keeps the table readable
    ErrorClass.TEMPORARY,
    ErrorClass.RECIPIENT,
    ErrorClass.OPTED_OUT,
    ErrorClass.WINDOW,
    ErrorClass.CONFIGURATION,
)


CLASSES = [
    ("20429", T),  # 20429: "aren't processed and are safe to retry"
    ("21211", R),  # 21211: invalid 'To' phone number
    ("21408", C),  # 21408: Geo Permissions
    ("21606", C),  # 21606: 'From' is not a valid message-capable number
    ("21608", C),  # 21608: trial account, 'To' not verified
    ("21610", O),  # 21610: unsubscribed recipient, until they send START
    ("21611", T),  # 21611: the From's queue exceeds 10 hours
    ("21614", R),  # 21614: not a mobile number
    ("21617", C),  # 21617: body over 1,600 characters
    ("21656", C),  # 21656: ContentVariables invalid
    ("30001", T),  # 30001: queue overflow, "queued for 10 hours"
    ("30002", C),  # 30002: account suspended
    ("30003", T),  # 30003: "temporarily unreachable", "Retry the message"
    ("30004", R),  # 30004 (es-mx copy): blocked by destination, opt-out or carrier
    ("30005", R),  # 30005: wording quoted in ProgressiveCoders/Spoke#316
    ("30006", R),  # 30006: landline or unreachable carrier, "do not retry"
    ("30007", C),  # 30007: filtered by Twilio or the carrier
    ("30008", T),  # 30008: unknown error (third-party summaries; page not stored)
    ("30010", C),  # 30010: MaxPrice exceeded
    ("63001", C),  # 63001: channel could not authenticate
    ("63003", R),  # 63003: unregistered WhatsApp number
    ("63005", C),  # 63005: channel did not accept the content
    ("63007", C),  # 63007: no channel with this 'From'
    ("63013", C),  # 63013: channel policy violation (empty variable, 5+ spaces)
    ("63014", O),  # 63014: "The recipient blocked the sender in the channel"
    ("63015", C),  # 63015: sandbox, recipient has not joined (or joined 3+ days ago)
    ("63016", W),  # 63016: outside the messaging window, use a template
    ("63018", T),  # 63018: rate limit of the channel / WhatsApp's messaging limit
    ("63019", C),  # 63019: media failed to download
    ("63021", C),  # 63021: template text and parameters over 1,024
    ("63024", R),  # 63024: invalid message recipient
    ("63027", C),  # 63027: template does not exist for the language
    ("63032", R),  # 63032: support.twilio.com article 17388935157915 (marketing experiment)
    ("63038", T),  # 63038: daily messages limit (rolling 24 hours)
    ("63040", C),  # 63040: template rejected
    ("63049", R),  # 63049: Meta chose not to deliver the marketing message
]


@pytest.mark.parametrize("code, kind", CLASSES)
def test_classification(code: str, kind: ErrorClass) -> None:
    assert classify_error(code).kind is kind
    assert classify_error(int(code)).kind is kind  # the API's JSON gives numbers


def test_every_code_in_the_table_is_tested() -> None:
    assert set(TWILIO_ERRORS) == {code for code, _ in CLASSES}


@pytest.mark.parametrize("code", [None, "", "63051", "99999", "HTTP_404", " 21610 x"])
def test_unknown_codes_are_an_operators_problem(code: str | None) -> None:
    # Twilio refines its codes over time: one we do not know is never retried blind.
    assert classify_error(code) is UNKNOWN and UNKNOWN.kind is C


def test_temporary_codes_wait_and_others_do_not() -> None:
    for code, error in TWILIO_ERRORS.items():
        assert error.meaning, code
        if error.kind is not T:
            assert error.wait == timedelta(0), code
    assert classify_error("63038").wait == timedelta(hours=6)
    assert classify_error(" 21611 ").wait == timedelta(hours=1)
