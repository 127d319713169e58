"""The Twilio edge, pure: request signatures, SID shapes, what the Messages API answered, and
finding a message we may have sent in its Messages list.

Signatures (`X-Twilio-Signature`): HMAC-SHA1 over the full URL followed by every POST field
sorted by name and value (name + value; a repeated identical pair once), keyed by the auth token,
base64-encoded, compared in constant time. The URL is tried as configured and then with its
default port added or removed (`:443`/`:80`), as Twilio's signing is not consistent about it.
This is what twilio's `RequestValidator.validate` does (tests check ours against it, URL forms
and repeated fields included); ours costs a tenth of its CPU on the webhook's hot path (figures
in docs/decisions.md).

Twilio documents that a Messages API request can create the message even when the answer is a
5xx or never comes: such an attempt is `Unconfirmed`, and before sending again the sender lists
the messages we sent the recipient (`lookup_params`) and adopts the one that matches
(`find_sent`): sent through the API (not a TwiML reply), created since the attempt, with our
body, or for a template every variable's value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from bot.outbox_status import OutboxStatus, twilio_status

NETWORK_ERROR = "NETWORK_ERROR"

# --- signatures --------------------------------------------------------------------------------

_DEFAULT_PORTS = {"https": 443, "http": 80}


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio sends for a POST of `params` to `url`."""
    return _sign(auth_token.encode(), url, "".join(n + v for n, v in sorted(set(params))))


def _sign(key: bytes, url: str, fields: str) -> str:
    digest = hmac.new(key, (url + fields).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_forms(url: str) -> list[str]:
    """`url` as given, then with its scheme's default port added (when it has none) or its port
    removed (when it has one): the forms Twilio may have signed."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return [url]  # not a port we can read: only the URL as given
    if port is not None:
        other = parts._replace(netloc=parts.netloc.rsplit(":", 1)[0])
    else:
        other = parts._replace(netloc=f"{parts.netloc}:{_DEFAULT_PORTS.get(parts.scheme, 80)}")
    return [url, other.geturl()]


def signature_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    """True when `signature` is Twilio's for these fields and this URL, with or without its
    default port (constant-time compare; the other form only tried when the first fails)."""
    if not signature or not auth_token:
        return False
    key, given = auth_token.encode(), signature.encode()
    fields = "".join(n + v for n, v in sorted(set(params)))
    if hmac.compare_digest(_sign(key, url, fields).encode(), given):
        return True
    return any(
        hmac.compare_digest(_sign(key, form, fields).encode(), given) for form in url_forms(url)[1:]
    )


_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")


def looks_like_sid(value: str) -> bool:
    """A Twilio resource SID's shape (two letters and 32 hex digits; a little looser here)."""
    return bool(_SID.match(value))


# --- what the Messages API answered ------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """Twilio took the message."""

    sid: str | None
    status: OutboxStatus


@dataclass(frozen=True)
class Retryable:
    """A failure to try again after a short backoff (429, 5xx, timeouts, refused connections)."""

    code: str
    message: str
    retry_after: float | None = None  # seconds, from a Retry-After header


@dataclass(frozen=True)
class Unconfirmed:
    """Twilio may have taken the message (a 5xx other than 503, a timeout after the request went
    out): Twilio documents that sending again can deliver twice, so look it up first."""

    code: str
    message: str


@dataclass(frozen=True)
class NotLookedUp:
    """An unconfirmed attempt could not be looked up (Twilio's Messages list did not answer):
    nothing was sent this time, and the attempt stays unconfirmed until a lookup succeeds."""

    code: str
    message: str


@dataclass(frozen=True)
class Permanent:
    """Twilio refused the message (4xx with an error code, e.g. 21211: invalid 'To'); what that
    means (temporary, opted out, ...) is the error table's to say (`settle`)."""

    code: str
    message: str


Outcome = Accepted | Retryable | Unconfirmed | NotLookedUp | Permanent

# 401: a wrong or rotated auth token is an operator's fix, not the message's fault; retrying gives
# them the backoff period to fix it instead of failing every queued message at once.
RETRYABLE_4XX = frozenset({401, 408, 429})
# 5xx answers that say the request was not processed: Twilio's 503 is "Service Unavailable".
NOT_PROCESSED_5XX = frozenset({503})
# httpx errors raised before the request was sent: no connection, or none free in the pool.
NOT_SENT_ERRORS = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})


def _error_fields(status_code: int, payload: Any) -> tuple[str, str]:
    if isinstance(payload, Mapping):
        code = payload.get("code")
        message = payload.get("message")
        return (
            str(code) if code is not None else f"HTTP_{status_code}",
            str(message) if message else f"HTTP {status_code}",
        )
    return f"HTTP_{status_code}", f"HTTP {status_code}"


def classify_response(
    status_code: int, payload: Any, retry_after: str | None = None
) -> Accepted | Retryable | Permanent:
    """Classify Twilio's answer to a Messages API POST by its HTTP status: taken, worth another
    try, or refused (`payload` is its JSON body or None). `classify_answer` refines it."""
    if 200 <= status_code < 300:
        sid = payload.get("sid") if isinstance(payload, Mapping) else None
        status = twilio_status(payload.get("status") if isinstance(payload, Mapping) else None)
        return Accepted(str(sid) if sid else None, status or OutboxStatus.ACCEPTED)
    code, message = _error_fields(status_code, payload)
    if status_code >= 500 or status_code in RETRYABLE_4XX:
        return Retryable(code, message, _retry_after_seconds(retry_after))
    return Permanent(code, message)


def classify_answer(status_code: int, payload: Any, retry_after: str | None = None) -> Outcome:
    """`classify_response`, and whether a failure may have left a message at Twilio: a 5xx other
    than 503 may come after the message was created, so it is `Unconfirmed`."""
    outcome = classify_response(status_code, payload, retry_after)
    if (
        isinstance(outcome, Retryable)
        and status_code >= 500
        and status_code not in NOT_PROCESSED_5XX
    ):
        return Unconfirmed(outcome.code, outcome.message)
    return outcome


def classify_transport_error(name: str) -> Retryable | Unconfirmed:
    """An httpx error by its class name: one raised before the request went out (no connection)
    is retried; after it (a read timeout, a dropped connection) Twilio may have the message."""
    message = f"network error talking to Twilio: {name}"
    if name in NOT_SENT_ERRORS:
        return Retryable(NETWORK_ERROR, message)
    return Unconfirmed(NETWORK_ERROR, message)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date; the backoff is good enough
    return seconds if seconds >= 0 else None


# --- finding a message Twilio may have taken ----------------------------------------------------

# Clocks differ: a message created a little before our attempt's time by Twilio's clock is ours.
LOOKUP_SKEW = timedelta(minutes=2)
LOOKUP_PAGE_SIZE = 100
# The direction of a message created through the Messages API; a TwiML reply is
# "outbound-reply", a message to us "inbound".
API_DIRECTION = "outbound-api"


@dataclass(frozen=True)
class SentMessage:
    """One entry of Twilio's Messages list, as far as the lookup needs it."""

    sid: str
    to: str
    from_: str
    body: str
    status: OutboxStatus | None
    direction: str
    date_created: datetime | None
    error_code: str | None = None
    error_message: str | None = None


def lookup_params(to: str, from_: str) -> dict[str, str]:
    """Query of the Messages list for what we sent `to`, newest first. No `DateSent` filter: a
    message still queued at Twilio has no `date_sent` and any such filter leaves it out (the
    attempt's time is matched on `date_created` by `find_sent` instead)."""
    return {"To": to, "From": from_, "PageSize": str(LOOKUP_PAGE_SIZE)}


def parse_message_list(payload: Any) -> tuple[list[SentMessage], str | None]:
    """The messages of one page of Twilio's Messages list, and its `next_page_uri`."""
    if not isinstance(payload, Mapping):
        raise ValueError("the Messages list answer is not a JSON object")
    items = payload.get("messages")
    if not isinstance(items, list):
        raise ValueError("the Messages list answer has no messages")
    messages = [_message(item) for item in items if isinstance(item, Mapping) and item.get("sid")]
    next_page = payload.get("next_page_uri")
    return messages, str(next_page) if next_page else None


def _message(item: Mapping[str, Any]) -> SentMessage:
    return SentMessage(
        sid=str(item["sid"]),
        to=str(item.get("to") or ""),
        from_=str(item.get("from") or ""),
        body=str(item.get("body") or ""),
        status=twilio_status(item.get("status")),
        direction=str(item.get("direction") or ""),
        date_created=_rfc2822(item.get("date_created")),
        error_code=_text(item.get("error_code")),
        error_message=_text(item.get("error_message")),
    )


def _text(value: Any) -> str | None:
    # error_code is a number in Twilio's JSON, error_message a string; both are often null.
    return str(value) if value is not None and str(value) else None


def _rfc2822(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _normal(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def find_sent(
    messages: Sequence[SentMessage],
    *,
    to: str,
    from_: str,
    since: datetime,
    body: str | None,
    variables: Sequence[str] = (),
    known_sids: Iterable[str] = (),
) -> SentMessage | None:
    """The message we sent in an unconfirmed attempt since `since`, if Twilio has one: created
    through the Messages API (`outbound-api`: a TwiML chat reply is `outbound-reply` and never
    ours), to `to` from `from_`, created since then (less `LOOKUP_SKEW`), not one of our other
    rows' (`known_sids`). An attempt sent as a template (`variables` given: its numbered values)
    matches a message whose text holds every value (Twilio lists a template's text as sent, and
    the Message resource has no Content SID to match on); a free-form attempt matches by `body`
    alone. The earliest such message wins."""
    known = set(known_sids)
    wanted = _normal(body) if body else None

    def same_content(m: SentMessage) -> bool:
        if variables:
            return all(v in m.body for v in variables)
        return wanted is not None and _normal(m.body) == wanted

    found = [
        m
        for m in messages
        if m.direction == API_DIRECTION
        and m.to == to
        and m.from_ == from_
        and m.sid not in known
        and (m.date_created is None or m.date_created >= since - LOOKUP_SKEW)
        and same_content(m)
    ]
    return min(found, key=lambda m: (m.date_created or since, m.sid), default=None)
