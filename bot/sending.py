"""How the outbox sender decides, pure: which payload, whether to retry, how fast, which status.

- `plan_send`: skip (opted out, nothing due any more), a free-form body inside the 24-hour window,
  the kind's approved WhatsApp template (Content SID + numbered variables) outside it, or hold the
  row with a clear error when no Content SID is configured (rather than failing at Twilio, 63016).
- `classify_response` / `classify_transport_error` and `after_failure`: 429, 5xx and network errors
  are retried with exponential backoff up to `MAX_ATTEMPTS`; other 4xx fail at once with Twilio's
  error code.
- `advance_status`: delivery statuses never move backwards (the order is a table, `RANK`).
- `TokenBucket`: one process's send rate limit, with time passed in (the rate is shared through
  Redis by `jobs.send_rate`; this is its fallback when Redis does not answer).

No I/O here: the sender in `jobs/outbox_sender.py` loads the facts, calls these, and persists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.messages import MessageKind, format_day
from bot.money import format_inr

WINDOW = timedelta(hours=24)
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 30 * 60.0


class OutboxStatus(StrEnum):
    """Stored values of `outbox_messages.status`."""

    QUEUED = "QUEUED"
    SENDING = "SENDING"  # claimed by a sender, under a lease
    HELD = "HELD"  # cannot be sent as configured (no Content SID); an operator must act
    ACCEPTED = "ACCEPTED"  # Twilio took it (queued / accepted / sending on Twilio's side)
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"
    UNDELIVERED = "UNDELIVERED"


# Error codes the sender stores on rows it does not hand to Twilio.
OPTED_OUT = "OPTED_OUT"
NOTHING_DUE = "NOTHING_DUE"
# Twilio's error for a free-form message outside the 24-hour window.
WINDOW_CLOSED = "63016"
CHECKOUT_CLOSED = "CHECKOUT_CLOSED"
NO_TEMPLATE = "NO_TEMPLATE"
MISSING_VARIABLE = "MISSING_VARIABLE"
NETWORK_ERROR = "NETWORK_ERROR"
TOO_MANY_ATTEMPTS_SUFFIX = " (gave up after {n} attempts)"


# --- the 24-hour window and the payload ------------------------------------------------------


def in_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """True while `now` is less than 24 hours after the recipient's last message to us."""
    return last_inbound_at is not None and now - last_inbound_at < WINDOW


@dataclass(frozen=True)
class Recipient:
    """What the sender loads about the recipient just before sending."""

    last_inbound_at: datetime | None
    opted_out: bool = False
    # For payment reminders: is anything the reminder asks for still unpaid? None = not known.
    still_due: bool | None = None
    # For payment reminders: the listed debits still unpaid (transaction id -> unpaid paise).
    unpaid_now: Mapping[int, int] | None = None
    # For checkout follow-ups: is the checkout still pending and not expired? None = not known.
    checkout_open: bool | None = None


@dataclass(frozen=True)
class FreeForm:
    body: str


@dataclass(frozen=True)
class Templated:
    content_sid: str
    variables: dict[str, str]

    @property
    def variables_json(self) -> str:
        return json.dumps(self.variables, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Hold:
    """Not sendable as configured; kept (status HELD) with a message saying what to fix."""

    code: str
    message: str


@dataclass(frozen=True)
class Skip:
    """Must not be sent at all (status FAILED with this code)."""

    code: str
    message: str


Plan = FreeForm | Templated | Hold | Skip


def _text(value: Any) -> str:
    text = str(value).strip()
    return text or "-"  # Twilio refuses an empty content variable


def _reminder(v: Mapping[str, Any], lang: str) -> list[str]:
    first_due = min(str(item["due_date"]) for item in v["items"])
    return [_text(v["name"]), format_inr(int(v["total_due"])), format_day(first_due, lang)]


# A SYSTEM pause's reason in the template's language (as templates/*/credit_paused.txt says it).
_OVERDUE_REASON = {
    "en": "{amount} unpaid for more than {days} days",
    "hi": "{amount} का भुगतान {days} दिन से ज़्यादा समय से बाकी है",
}


def _paused(v: Mapping[str, Any], lang: str) -> list[str]:
    reason = _text(v["reason"])
    if "overdue_unpaid" in v:
        reason = _OVERDUE_REASON.get(lang, _OVERDUE_REASON["en"]).format(
            amount=format_inr(int(v["overdue_unpaid"])), days=int(v["max_outstanding_days"])
        )
    return [_text(v["name"]), reason]


def _resumed(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), format_inr(int(v["available"]))]


def _order_failed(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["order_id"]), _text(v["reason"])]


def _order_dispatched(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["order_id"]), format_inr(int(v["total"]))]


def _order_cancelled(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["order_id"]), _text(v["reason"])]


def _follow_up(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["item_count"]), format_inr(int(v["total"]))]


def _insights(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["orders"]), format_inr(int(v["spend"]))]


def _test_message(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["message"])]


# Each business-initiated kind's approved WhatsApp template takes these numbered variables, built
# from the outbox row's `variables` (amounts as ₹, dates in the row's language):
#   payment_reminder         {{1}} name, {{2}} total due, {{3}} earliest due date
#   credit_paused            {{1}} name, {{2}} reason
#   credit_resumed           {{1}} name, {{2}} available credit
#   order_failed             {{1}} name, {{2}} order number, {{3}} reason
#   order_dispatched         {{1}} name, {{2}} order number, {{3}} order total
#   order_cancelled          {{1}} name, {{2}} order number, {{3}} reason
#   pending_order_follow_up  {{1}} name, {{2}} item count, {{3}} cart total
#   insights                 {{1}} name, {{2}} orders, {{3}} spend
#   test_message             {{1}} the message
_KINDS = frozenset(MessageKind)

CONTENT_VARIABLES: dict[MessageKind, Callable[[Mapping[str, Any], str], list[str]]] = {
    MessageKind.PAYMENT_REMINDER: _reminder,
    MessageKind.CREDIT_PAUSED: _paused,
    MessageKind.CREDIT_RESUMED: _resumed,
    MessageKind.ORDER_FAILED: _order_failed,
    MessageKind.ORDER_DISPATCHED: _order_dispatched,
    MessageKind.ORDER_CANCELLED: _order_cancelled,
    MessageKind.PENDING_ORDER_FOLLOW_UP: _follow_up,
    MessageKind.INSIGHTS: _insights,
    MessageKind.TEST_MESSAGE: _test_message,
}


def content_sid_for(templates: Mapping[str, str], kind: str, language: str) -> str | None:
    """`WHATSAPP_TEMPLATES` entry for this kind: `kind:lang` (an approved Hindi template) first."""
    return templates.get(f"{kind}:{language}") or templates.get(kind) or None


def content_variables(kind: str, variables: Mapping[str, Any], language: str) -> dict[str, str]:
    """The numbered variables ("1", "2", ...) of `kind`'s template; KeyError names what is missing."""
    build = CONTENT_VARIABLES.get(MessageKind(kind)) if kind in _KINDS else None
    if build is None:
        raise KeyError(f"no variable mapping for kind {kind!r}")
    try:
        values = build(variables, language)
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyError(f"variables of {kind!r} lack or mangle {exc}") from None
    return {str(i): value for i, value in enumerate(values, start=1)}


def plan_send(
    *,
    kind: str,
    language: str,
    body: str,
    variables: Mapping[str, Any],
    recipient: Recipient,
    now: datetime,
    templates: Mapping[str, str],
    window_refused_at: datetime | None = None,
) -> Plan:
    """Decide what one outbox row becomes at `now` (the real clock, DESIGN section 7).

    `window_refused_at`: when Twilio refused this row as outside the window (63016); until the
    recipient writes in after that, the window counts as closed whatever our reckoning says.
    """
    if kind in _KINDS and MessageKind(kind).stops_on_opt_out and recipient.opted_out:
        return Skip(OPTED_OUT, "the retailer sent STOP; reminders are not sent")
    if kind == MessageKind.PAYMENT_REMINDER and recipient.still_due is False:
        return Skip(NOTHING_DUE, "paid since the reminder was queued; nothing is due")
    if kind == MessageKind.PENDING_ORDER_FOLLOW_UP and recipient.checkout_open is False:
        return Skip(CHECKOUT_CLOSED, "the checkout was confirmed, cancelled or expired since")
    refused = window_refused_at is not None and (
        recipient.last_inbound_at is None or recipient.last_inbound_at <= window_refused_at
    )
    if in_window(recipient.last_inbound_at, now) and not refused:
        return FreeForm(body)
    sid = content_sid_for(templates, kind, language)
    if sid is None:
        return Hold(
            NO_TEMPLATE,
            f"outside the 24-hour window and WHATSAPP_TEMPLATES has no Content SID for kind "
            f'{kind!r}; add one (e.g. {{"{kind}": "HX..."}}). The row is sent after all if that '
            "is done, or the recipient writes in, within 24 hours of queueing",
        )
    try:
        numbered = content_variables(kind, variables, language)
    except KeyError as exc:
        return Hold(MISSING_VARIABLE, str(exc.args[0]))
    return Templated(sid, numbered)


# --- retries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """Twilio took the message."""

    sid: str | None
    status: OutboxStatus


@dataclass(frozen=True)
class Retryable:
    """A temporary failure: try again later (429, 5xx, timeouts, refused connections)."""

    code: str
    message: str
    retry_after: float | None = None  # seconds, from a Retry-After header


@dataclass(frozen=True)
class Permanent:
    """Twilio refused the message for good (e.g. 400 with code 21211: invalid 'To')."""

    code: str
    message: str


Outcome = Accepted | Retryable | Permanent

# 401: a wrong or rotated auth token is an operator's fix, not the message's fault; retrying gives
# them the backoff period to fix it instead of failing every queued message at once.
RETRYABLE_4XX = frozenset({401, 408, 429})


def _error_fields(status_code: int, payload: Any) -> tuple[str, str]:
    if isinstance(payload, Mapping):
        code = payload.get("code")
        message = payload.get("message")
        return (
            str(code) if code is not None else f"HTTP_{status_code}",
            str(message) if message else f"HTTP {status_code}",
        )
    return f"HTTP_{status_code}", f"HTTP {status_code}"


def twilio_status(value: str | None) -> OutboxStatus | None:
    """Map a Twilio message status to ours; None for ones we do not track (e.g. "received")."""
    return _TWILIO_STATUS.get((value or "").strip().lower())


_TWILIO_STATUS = {
    "accepted": OutboxStatus.ACCEPTED,
    "scheduled": OutboxStatus.ACCEPTED,
    "queued": OutboxStatus.ACCEPTED,
    # Twilio's "sending" is still Twilio's; our SENDING means "leased by a sender" and is never
    # set from outside.
    "sending": OutboxStatus.ACCEPTED,
    "sent": OutboxStatus.SENT,
    "delivered": OutboxStatus.DELIVERED,
    "read": OutboxStatus.READ,
    "undelivered": OutboxStatus.UNDELIVERED,
    "failed": OutboxStatus.FAILED,
    "canceled": OutboxStatus.FAILED,
}


def classify_response(status_code: int, payload: Any, retry_after: str | None = None) -> Outcome:
    """Classify Twilio's answer to a Messages API POST (`payload` is its JSON body or None)."""
    if 200 <= status_code < 300:
        sid = payload.get("sid") if isinstance(payload, Mapping) else None
        status = twilio_status(payload.get("status") if isinstance(payload, Mapping) else None)
        return Accepted(str(sid) if sid else None, status or OutboxStatus.ACCEPTED)
    code, message = _error_fields(status_code, payload)
    if status_code >= 500 or status_code in RETRYABLE_4XX:
        return Retryable(code, message, _retry_after_seconds(retry_after))
    return Permanent(code, message)


def classify_transport_error(name: str) -> Retryable:
    """A timeout or connection error never reached a decision at Twilio: retry."""
    return Retryable(NETWORK_ERROR, f"network error talking to Twilio: {name}")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date; the backoff is good enough
    return seconds if 0 <= seconds <= BACKOFF_CAP_SECONDS else None


def backoff_seconds(attempt: int, *, jitter: float = 0.0) -> float:
    """Delay before attempt `attempt + 1`: 30 s, 60 s, 120 s ... capped at 30 min.

    `jitter` in [0, 1) adds up to half the delay again, so rows failed together spread out.
    """
    delay: float = min(BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempt - 1), BACKOFF_CAP_SECONDS)
    return delay * (1 + 0.5 * min(max(jitter, 0.0), 0.999))


@dataclass(frozen=True)
class RetryDecision:
    status: OutboxStatus  # QUEUED again, or FAILED when out of attempts
    next_attempt_at: datetime | None
    error_message: str


def after_failure(
    retry: Retryable,
    attempts: int,
    now: datetime,
    *,
    jitter: float = 0.0,
    max_attempts: int = MAX_ATTEMPTS,
) -> RetryDecision:
    """What a temporary failure on attempt number `attempts` (1-based) leads to."""
    if attempts >= max_attempts:
        return RetryDecision(
            OutboxStatus.FAILED,
            None,
            retry.message + TOO_MANY_ATTEMPTS_SUFFIX.format(n=attempts),
        )
    delay = backoff_seconds(attempts, jitter=jitter)
    if retry.retry_after is not None:
        delay = max(delay, retry.retry_after)
    return RetryDecision(OutboxStatus.QUEUED, now + timedelta(seconds=delay), retry.message)


# --- status never moves backwards ------------------------------------------------------------

# The furthest status wins. FAILED/UNDELIVERED are terminal for the send, but a late "failed"
# after "delivered" (or "read") must not undo what the recipient already has, and a "delivered"
# after "failed" is evidence the message arrived: so they rank between SENT and DELIVERED.
# Equal ranks do not replace each other (the first failure keeps its error code).
RANK: dict[OutboxStatus, int] = {
    OutboxStatus.QUEUED: 0,
    OutboxStatus.HELD: 0,
    OutboxStatus.SENDING: 1,
    OutboxStatus.ACCEPTED: 2,
    OutboxStatus.SENT: 3,
    OutboxStatus.FAILED: 4,
    OutboxStatus.UNDELIVERED: 4,
    OutboxStatus.DELIVERED: 5,
    OutboxStatus.READ: 6,
}


def advance_status(current: str, incoming: OutboxStatus) -> OutboxStatus | None:
    """The status a callback moves a row to, or None when it would move it backwards or nowhere."""
    try:
        now_rank = RANK[OutboxStatus(current)]
    except ValueError:
        return incoming
    return incoming if RANK[incoming] > now_rank else None


def statuses_below(incoming: OutboxStatus) -> Sequence[str]:
    """Stored statuses that `incoming` may replace (for a conditional UPDATE)."""
    return [s.value for s, rank in RANK.items() if rank < RANK[incoming]]


# --- rate limit ------------------------------------------------------------------------------


@dataclass
class TokenBucket:
    """`rate` sends per second with bursts up to `capacity`; time is passed in (monotonic s)."""

    rate: float
    capacity: float = 1.0
    tokens: float = 1.0
    updated: float | None = None

    def reserve(self, now: float) -> float:
        """Take one token; return how long to wait before using it (0 when one is ready)."""
        if self.updated is None:
            self.updated = now
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        self.tokens -= 1.0
        if self.tokens >= 0:
            return 0.0
        return -self.tokens / self.rate
