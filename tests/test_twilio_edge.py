from __future__ import annotations

from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from bot.outbox_status import OutboxStatus
from bot.twilio_edge import (
    compute_signature,
    find_sent,
    looks_like_sid,
    lookup_params,
    parse_message_list,
    signature_valid,
    url_forms,
)

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


# --- the URL with and without its default port ------------------------------------------------


@pytest.mark.parametrize(
    "signed_as, checked_against",
    [
        ("https://bot.example.test/hook", "https://bot.example.test/hook"),
        ("https://bot.example.test:443/hook", "https://bot.example.test/hook"),
        ("https://bot.example.test/hook", "https://bot.example.test:443/hook"),
        ("http://bot.example.test:80/hook?x=1", "http://bot.example.test/hook?x=1"),
        ("https://bot.example.test:8443/hook", "https://bot.example.test:8443/hook"),
    ],
)
def test_signature_with_or_without_the_default_port(signed_as: str, checked_against: str) -> None:
    sig = compute_signature(TOKEN, signed_as, PARAMS.items())
    assert signature_valid(TOKEN, checked_against, PARAMS.items(), sig)


class MultiDict(dict[str, list[str]]):
    """Fields with repeated names, as twilio's validator reads them (Flask's `getall`)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


FORMS = [
    [("Body", "hi"), ("From", "whatsapp:+919800000001"), ("MessageSid", "SM1")],
    [("MediaUrl", "b"), ("Body", "x"), ("MediaUrl", "a"), ("MediaUrl", "a")],  # repeated
    [("Body", ""), ("Body", "नमस्ते 🙏"), ("a", "1"), ("A", "2")],
    [],
]
URLS = [
    "https://bot.example.test/webhooks/twilio/whatsapp",
    "https://bot.example.test:443/webhooks/twilio/status",
    "https://bot.example.test:8443/webhooks/twilio/status?x=1&y=%20",
    "http://127.0.0.1:8000/webhooks/twilio/whatsapp",
    "http://bot.example.test/hook",
]


@pytest.mark.parametrize("fields", FORMS)
@pytest.mark.parametrize("url", URLS)
def test_ours_agrees_with_twilios_request_validator(
    fields: list[tuple[str, str]], url: str
) -> None:
    """Ours is kept for its cost (docs/decisions.md): it must say what twilio's says, for every
    URL form Twilio may sign and for repeated fields."""
    grouped = MultiDict()
    for name, value in fields:
        grouped.setdefault(name, []).append(value)
    validator = RequestValidator(TOKEN)
    assert compute_signature(TOKEN, url, fields) == validator.compute_signature(url, grouped)
    for signed in [*url_forms(url), url + "x", "https://evil.example/hook"]:
        sig = validator.compute_signature(signed, grouped)
        assert signature_valid(TOKEN, url, fields, sig) == validator.validate(url, grouped, sig)
    assert not signature_valid(TOKEN, url, fields, "bm90IGEgc2lnbmF0dXJl")


@pytest.mark.parametrize(
    "url, forms",
    [
        ("https://h/p", ["https://h/p", "https://h:443/p"]),
        ("https://h:443/p?q=1", ["https://h:443/p?q=1", "https://h/p?q=1"]),
        ("http://h:8000/p", ["http://h:8000/p", "http://h/p"]),
        ("http://h/p", ["http://h/p", "http://h:80/p"]),
        ("https://h:99999/p", ["https://h:99999/p"]),  # not a port: only as given
    ],
)
def test_url_forms(url: str, forms: list[str]) -> None:
    assert url_forms(url) == forms


def test_a_non_default_port_must_be_in_the_url() -> None:
    # Twilio calls https://host:8443/...: a PUBLIC_BASE_URL without the port is another URL.
    sig = compute_signature(TOKEN, "https://bot.example.test:8443/hook", PARAMS.items())
    assert not signature_valid(TOKEN, "https://bot.example.test/hook", PARAMS.items(), sig)


def test_repeated_fields_all_count() -> None:
    fields = [("MediaUrl", "b"), ("Body", "x"), ("MediaUrl", "a")]
    sig = compute_signature(TOKEN, URL, fields)
    assert signature_valid(TOKEN, URL, list(reversed(fields)), sig)
    assert not signature_valid(TOKEN, URL, fields[:2], sig)


# --- finding a message Twilio may have taken ---------------------------------------------------

TO, FROM = "whatsapp:+919812345678", "whatsapp:+14155238886"
SINCE = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)


def listed(
    sid: str,
    body: str = "Credit paused",
    *,
    created: str = "Thu, 15 Jan 2026 06:30:05 +0000",
    to: str = TO,
    direction: str = "outbound-api",
    status: str = "sent",
) -> dict[str, object]:
    return {"sid": sid, "to": to, "from": FROM, "body": body, "status": status,
            "direction": direction, "date_created": created, "date_sent": None}  # fmt: skip


def test_lookup_params() -> None:
    # No DateSent filter (issue 16 review): a message still queued at Twilio has no date_sent,
    # and any DateSent filter would hide it; find_sent matches date_created instead.
    assert lookup_params(TO, FROM) == {"To": TO, "From": FROM, "PageSize": "100"}


def test_parse_message_list_reads_twilio_s_error() -> None:
    failed = {**listed("SM1", status="failed"), "error_code": 63018, "error_message": None}
    [message], _ = parse_message_list({"messages": [failed]})
    assert (message.status, message.error_code, message.error_message) == (
        OutboxStatus.FAILED, "63018", None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "messages, body, variables, found",
    [
        # A TwiML chat reply is "outbound-reply": never a message our API call created.
        ([listed("SM1", direction="outbound-reply")], "Credit paused", (), None),
        ([listed("SM1", "Ramesh, balance ₹1,250", direction="outbound-reply")], None,
         ("Ramesh", "₹1,250"), None),
        # A template attempt is matched by its values, not by a free-form body that happens to
        # be the same; a free-form attempt by its body alone.
        ([listed("SM1", "Credit paused")], "Credit paused", ("Ramesh",), None),
        ([listed("SM1", "Ramesh: Credit paused")], None, ("Ramesh",), "SM1"),
        ([listed("SM1", "Dear Ramesh, paused")], "Credit paused", (), None),
    ],
)  # fmt: skip
def test_find_sent_takes_only_what_our_attempt_sent(
    messages: list[dict[str, object]],
    body: str | None,
    variables: tuple[str, ...],
    found: str | None,
) -> None:
    parsed, _ = parse_message_list({"messages": messages})
    match = find_sent(parsed, to=TO, from_=FROM, since=SINCE, body=body, variables=variables)
    assert (match.sid if match else None) == found


def test_parse_message_list() -> None:
    messages, next_page = parse_message_list(
        {"messages": [listed("SM1"), {"no": "sid"}], "next_page_uri": "/2010-04-01/x?Page=1"}
    )
    assert [m.sid for m in messages] == ["SM1"]
    assert messages[0].date_created == datetime(2026, 1, 15, 6, 30, 5, tzinfo=UTC)
    assert messages[0].status is OutboxStatus.SENT
    assert next_page == "/2010-04-01/x?Page=1"
    assert parse_message_list({"messages": [], "next_page_uri": None}) == ([], None)
    with pytest.raises(ValueError):
        parse_message_list({"error": "x"})


@pytest.mark.parametrize(
    "messages, body, variables, known, found",
    [
        ([listed("SM1")], "Credit paused", (), (), "SM1"),
        ([listed("SM1", "Credit paused\r\n")], "Credit paused", (), (), "SM1"),
        # Another text, an inbound message, another number, before the attempt: not ours.
        ([listed("SM1", "Hello")], "Credit paused", (), (), None),
        ([listed("SM1", direction="inbound")], "Credit paused", (), (), None),
        ([listed("SM1", to="whatsapp:+919800000000")], "Credit paused", (), (), None),
        ([listed("SM1", created="Thu, 15 Jan 2026 06:27:00 +0000")], "Credit paused", (), (),
         None),
        # Within the clock skew of the attempt: ours.
        ([listed("SM1", created="Thu, 15 Jan 2026 06:29:00 +0000")], "Credit paused", (), (),
         "SM1"),
        # Already recorded on another row of ours.
        ([listed("SM1")], "Credit paused", (), ("SM1",), None),
        # A template: Twilio lists its text as sent; every variable's value is in it.
        ([listed("SM1", "Namaste Ramesh, ₹1,250 is due on 10 Jan 2026.")], "other body",
         ("Ramesh", "₹1,250", "10 Jan 2026"), (), "SM1"),
        ([listed("SM1", "Namaste Ramesh, ₹9,999 is due.")], "other body",
         ("Ramesh", "₹1,250"), (), None),
        # Two matches: the earliest is the one our attempt created.
        ([listed("SM2", created="Thu, 15 Jan 2026 06:31:00 +0000"), listed("SM1")],
         "Credit paused", (), (), "SM1"),
    ],
)  # fmt: skip
def test_find_sent(
    messages: list[dict[str, object]],
    body: str,
    variables: tuple[str, ...],
    known: tuple[str, ...],
    found: str | None,
) -> None:
    parsed, _ = parse_message_list({"messages": messages})
    match = find_sent(
        parsed, to=TO, from_=FROM, since=SINCE, body=body, variables=variables, known_sids=known
    )
    assert (match.sid if match else None) == found
