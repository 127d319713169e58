"""How the outbox sender decides, pure: which payload, whether to retry, how fast, which status.

- `plan_send`: skip (opted out, nothing due any more), a free-form body inside the 24-hour window,
  the kind's approved WhatsApp template (Content SID + numbered variables, `bot.content`) outside
  it, or hold the row with a clear error when no Content SID is configured (rather than failing
  at Twilio, 63016).
- `settle`: the outcome of one attempt (an `Outcome` of `bot.twilio_edge`, whose
  `classify_answer` / `classify_transport_error` read Twilio's answer or its absence) -> what the
  row becomes: handed to Twilio, queued again after a backoff, held for a lookup, failed, the
  retailer opted out. Only what cannot have reached Twilio is retried blind (a connection never
  made, 429, 503, 401); a 5xx or a timeout after the request went out is `Unconfirmed`: the
  sender looks the message up at Twilio before it sends again (`NotLookedUp` when it could not).
  Twilio's error codes are read through one table (`bot.twilio_errors`); temporary ones wait long
  (`long_backoff`), up to `MAX_TEMPORARY_FAILURES`, counted on the row. `gave_up` words the end
  of a row whose attempts ran out between settlements.
- `settle_callback`: the same table for a `failed`/`undelivered` status callback: sent again
  later as a new row (temporary), as a template (63016), or the retailer marked opted out.
- `advance_status`: delivery statuses never move backwards (the order is a table, `RANK`).
- `TokenBucket`: one process's send rate limit, with time passed in (the rate is shared through
  Redis by `jobs.send_rate`; this is its fallback when Redis does not answer).

No I/O here: the sender in `jobs/outbox_sender.py` loads the facts, calls these, and persists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.content import KNOWN_KINDS, content_sid_for, content_variables
from bot.messages import MessageKind
from bot.outbox_status import OutboxStatus
from bot.twilio_edge import Accepted, NotLookedUp, Outcome, Permanent, Retryable, Unconfirmed
from bot.twilio_errors import ErrorClass, classify_error

WINDOW = timedelta(hours=24)
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 30 * 60.0
# Failures Twilio calls temporary (rate limits, queue overflow, an unreachable handset) are tried
# again after these waits, then given up: about a day and a half in all, so a reminder is not
# delivered days late, and Meta's 24-hour messaging limits (63018) have passed by the last try.
LONG_BACKOFF = (
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)
MAX_TEMPORARY_FAILURES = len(LONG_BACKOFF)


# Error codes the sender stores on rows it does not hand to Twilio.
OPTED_OUT = "OPTED_OUT"
NOTHING_DUE = "NOTHING_DUE"
# Twilio's error for a free-form message outside the 24-hour window.
WINDOW_CLOSED = "63016"
CHECKOUT_CLOSED = "CHECKOUT_CLOSED"
NO_TEMPLATE = "NO_TEMPLATE"
MISSING_VARIABLE = "MISSING_VARIABLE"
# A retry row whose earlier attempt was delivered after all (a late callback).
ARRIVED = "ARRIVED"
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
    # For checkout follow-ups: is the checkout still pending and not expired, with no message
    # from the retailer since the follow-up was queued? None = not known.
    checkout_open: bool | None = None
    # Twilio reported an opt-out (21610) or a block (63014) and the recipient has not written in
    # since: nothing at all is sent.
    twilio_opted_out: bool = False
    # For a row sending again what Twilio reported as failed: that earlier message has since been
    # reported delivered (callbacks can come out of order), so this one must not go.
    earlier_delivered: bool = False


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
    if recipient.twilio_opted_out:
        return Skip(
            OPTED_OUT,
            "Twilio reported an opt-out (21610) or a block (63014); nothing is sent until the "
            "recipient writes in",
        )
    if recipient.earlier_delivered:
        return Skip(ARRIVED, "the earlier attempt was reported delivered after all")
    if kind in KNOWN_KINDS and MessageKind(kind).stops_on_opt_out and recipient.opted_out:
        return Skip(OPTED_OUT, "the retailer sent STOP; reminders are not sent")
    if kind == MessageKind.PAYMENT_REMINDER and recipient.still_due is False:
        return Skip(NOTHING_DUE, "paid since the reminder was queued; nothing is due")
    if kind == MessageKind.PENDING_ORDER_FOLLOW_UP and recipient.checkout_open is False:
        return Skip(
            CHECKOUT_CLOSED,
            "the checkout was confirmed, cancelled or expired since, or the retailer wrote in",
        )
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


def backoff_seconds(attempt: int, *, jitter: float = 0.0) -> float:
    """Delay before attempt `attempt + 1`: 30 s, 60 s, 120 s ... capped at 30 min.

    `jitter` in [0, 1) adds up to half the delay again, so rows failed together spread out.
    """
    delay: float = min(BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempt - 1), BACKOFF_CAP_SECONDS)
    return delay * (1 + 0.5 * min(max(jitter, 0.0), 0.999))


def long_backoff(failures: int, wait: timedelta, *, jitter: float = 0.0) -> timedelta:
    """Wait after temporary failure number `failures` (1-based): `LONG_BACKOFF`, or the error's
    own shortest `wait` when that is longer; `jitter` in [0, 1) adds up to a quarter."""
    step = LONG_BACKOFF[min(max(failures, 1), len(LONG_BACKOFF)) - 1]
    return max(step, wait) * (1 + 0.25 * min(max(jitter, 0.0), 0.999))


@dataclass(frozen=True)
class RetryDecision:
    status: OutboxStatus  # QUEUED again, or FAILED when out of attempts
    next_attempt_at: datetime | None
    error_message: str


def after_failure(
    retry: Retryable | Unconfirmed | NotLookedUp,
    attempts: int,
    now: datetime,
    *,
    jitter: float = 0.0,
    max_attempts: int = MAX_ATTEMPTS,
) -> RetryDecision:
    """What a failure worth another try on attempt number `attempts` (1-based) leads to."""
    if attempts >= max_attempts:
        return RetryDecision(
            OutboxStatus.FAILED,
            None,
            retry.message + TOO_MANY_ATTEMPTS_SUFFIX.format(n=attempts),
        )
    delay = backoff_seconds(attempts, jitter=jitter)
    retry_after = retry.retry_after if isinstance(retry, Retryable) else None
    if retry_after is not None and retry_after <= BACKOFF_CAP_SECONDS:
        delay = max(delay, retry_after)
    return RetryDecision(OutboxStatus.QUEUED, now + timedelta(seconds=delay), retry.message)


# --- settling one attempt --------------------------------------------------------------------


@dataclass(frozen=True)
class Handed:
    """Twilio has the message: record its SID and status (and count a reminder as sent). A
    message found in Twilio's list may already be `failed`/`undelivered`, with Twilio's
    `error_code`: that is then settled as a status callback would be (`settle_callback`)."""

    sid: str | None
    status: OutboxStatus
    note: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Unsent:
    """The row did not reach Twilio, or may not have: queued again, or failed."""

    status: OutboxStatus  # QUEUED or FAILED
    error_code: str
    error_message: str
    result: str  # what the sender counts it as
    next_attempt_at: datetime | None = None
    window_refused: bool = False  # 63016: go again with the template, or hold
    temporary: bool = False  # one more temporary failure, counted on the row
    unconfirmed: bool = False  # Twilio may have it: look it up before sending again
    opt_out: bool = False  # mark the retailer opted out (21610)


Settlement = Handed | Unsent


def settle(
    outcome: Outcome,
    *,
    attempts: int,
    temporary_failures: int,
    now: datetime,
    jitter: float = 0.0,
) -> Settlement:
    """What the row becomes after one attempt at `now`. `attempts` counts this one (1-based);
    `temporary_failures` is how many the row had before it."""
    match outcome:
        case Accepted(sid, status):
            return Handed(sid, status, None if sid else "Twilio's answer had no message sid")
        case Retryable(code) | Unconfirmed(code) | NotLookedUp(code):
            # Twilio may have the message from this attempt, or from an earlier one that could
            # not be looked up this time: either way, look before sending again.
            unconfirmed = isinstance(outcome, Unconfirmed | NotLookedUp)
            decision = after_failure(outcome, attempts, now, jitter=jitter)
            gave_up = decision.status == OutboxStatus.FAILED
            return Unsent(
                decision.status,
                code,
                decision.error_message,
                "failed" if gave_up else "unconfirmed" if isinstance(outcome, Unconfirmed)
                else "retried",
                next_attempt_at=decision.next_attempt_at,
                unconfirmed=unconfirmed,
            )  # fmt: skip
        case Permanent(code, message):
            return _refused(code, message, temporary_failures, now, jitter)


def _refused(
    code: str, message: str, temporary_failures: int, now: datetime, jitter: float
) -> Unsent:
    error = classify_error(code)
    failed = OutboxStatus.FAILED
    match error.kind:
        case ErrorClass.WINDOW:
            # Our reckoning of the window was wrong: at once with the template, or held.
            return Unsent(
                OutboxStatus.QUEUED, code, message, "window_refused",
                next_attempt_at=now, window_refused=True,
            )  # fmt: skip
        case ErrorClass.TEMPORARY:
            failures = temporary_failures + 1
            if failures > MAX_TEMPORARY_FAILURES:
                return Unsent(failed, code, _gave_up(message, failures), "failed", temporary=True)
            wait = long_backoff(failures, error.wait, jitter=jitter)
            return Unsent(
                OutboxStatus.QUEUED, code, _temporary(message, failures), "deferred",
                next_attempt_at=now + wait, temporary=True,
            )  # fmt: skip
        case ErrorClass.OPTED_OUT:
            return Unsent(failed, code, message, "opted_out", opt_out=True)
        case ErrorClass.RECIPIENT | ErrorClass.CONFIGURATION:
            return Unsent(failed, code, message, "failed")


TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"


def gave_up(attempts: int, temporary_failures: int, *, unconfirmed: bool) -> Unsent:
    """A row claimed once more after `attempts` attempts (MAX_ATTEMPTS or more) that each ended
    without giving it up (temporary failures Twilio reported, refusals of the window, senders
    that stopped or died holding it): it fails, saying what its attempts were. `unconfirmed`:
    the last may have reached Twilio (kept for an operator to look up)."""
    parts = []
    if temporary_failures:
        parts.append(f"{temporary_failures} temporary failures reported by Twilio")
    others = attempts - temporary_failures
    if others > 0:
        parts.append(f"{others} retried or interrupted (a sender that stopped or died holding it)")
    message = f"gave up after {attempts} attempts: " + ", ".join(parts)
    if unconfirmed:
        message += "; the last may have reached Twilio"
    return Unsent(
        OutboxStatus.FAILED, TOO_MANY_ATTEMPTS, message, "failed", unconfirmed=unconfirmed
    )


def _temporary(message: str, failures: int) -> str:
    return f"{message} (temporary failure {failures} of {MAX_TEMPORARY_FAILURES}; sent again later)"


def _gave_up(message: str, failures: int) -> str:
    return f"{message} (gave up after {failures} temporary failures)"


# --- settling a failure Twilio reports later (status callback) -------------------------------


@dataclass(frozen=True)
class ResendLater:
    """Send the message again, as a new row due at `at` (the failed one keeps its history)."""

    at: datetime
    temporary_failures: int
    note: str


@dataclass(frozen=True)
class ResendAsTemplate:
    """63016: queue the row again once, to go with the kind's template or be held."""


@dataclass(frozen=True)
class MarkOptedOut:
    """21610 / 63014: the retailer opted out or blocked us."""


@dataclass(frozen=True)
class GiveUp:
    """A temporary failure once too often: the row stays failed, saying so."""

    note: str


CallbackFollowUp = ResendLater | ResendAsTemplate | MarkOptedOut | GiveUp | None


def settle_callback(
    error_code: str | None,
    *,
    temporary_failures: int,
    now: datetime,
    jitter: float = 0.0,
) -> CallbackFollowUp:
    """What a `failed`/`undelivered` callback with `error_code` leads to, beyond the row's status
    (None: nothing; the row keeps Twilio's code and message). `temporary_failures`: how many the
    row (and the rows it was sent again from) had before this one."""
    error = classify_error(error_code)
    match error.kind:
        case ErrorClass.WINDOW:
            return ResendAsTemplate()
        case ErrorClass.OPTED_OUT:
            return MarkOptedOut()
        case ErrorClass.TEMPORARY:
            failures = temporary_failures + 1
            if failures > MAX_TEMPORARY_FAILURES:
                return GiveUp(f"gave up after {failures} temporary failures")
            wait = long_backoff(failures, error.wait, jitter=jitter)
            note = f"temporary failure {failures} of {MAX_TEMPORARY_FAILURES}; sent again later"
            return ResendLater(now + wait, failures, note)
        case ErrorClass.RECIPIENT | ErrorClass.CONFIGURATION:
            return None


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
