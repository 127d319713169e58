"""The sender's pure decisions, as tables: payload, retries, status order, rate limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.content import content_variables
from bot.outbox_status import RANK, OutboxStatus, advance_status, statuses_below, twilio_status
from bot.sending import (
    ARRIVED,
    CHECKOUT_CLOSED,
    MAX_ATTEMPTS,
    MAX_TEMPORARY_FAILURES,
    MISSING_VARIABLE,
    NO_TEMPLATE,
    NOTHING_DUE,
    OPTED_OUT,
    FreeForm,
    GiveUp,
    Handed,
    Hold,
    MarkOptedOut,
    Recipient,
    ResendAsTemplate,
    ResendLater,
    Skip,
    Templated,
    TokenBucket,
    Unsent,
    after_failure,
    backoff_seconds,
    in_window,
    long_backoff,
    plan_send,
    settle,
    settle_callback,
)
from bot.twilio_edge import (
    Accepted,
    Outcome,
    Permanent,
    Retryable,
    Unconfirmed,
    classify_answer,
    classify_response,
    classify_transport_error,
)
from tests.samples_jobs import SAMPLES as JOB_SAMPLES

NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
S = OutboxStatus


@pytest.mark.parametrize(
    "last_inbound, inside",
    [
        (None, False),
        (NOW - timedelta(minutes=1), True),
        (NOW - timedelta(hours=23, minutes=59), True),
        (NOW - timedelta(hours=24), False),
        (NOW - timedelta(days=3), False),
    ],
)
def test_window(last_inbound: datetime | None, inside: bool) -> None:
    assert in_window(last_inbound, NOW) is inside


REMINDER_VARS = {
    "name": "Ramesh",
    "stage": "overdue",
    "items": [
        {"order_id": 7, "unpaid": 1850000, "due_date": "2026-01-20", "days_overdue": 0},
        {"order_id": 5, "unpaid": 25050, "due_date": "2026-01-10", "days_overdue": 5},
    ],
    "total_due": 1875050,
}
TEMPLATES = {"payment_reminder": "HXen", "payment_reminder:hi": "HXhi", "credit_paused": "HXp"}
INSIDE = Recipient(last_inbound_at=NOW - timedelta(hours=2))
OUTSIDE = Recipient(last_inbound_at=NOW - timedelta(days=2))


@pytest.mark.parametrize(
    "kind, lang, variables, recipient, templates, expected",
    [
        # Inside the window: the rendered body, whatever is configured.
        ("payment_reminder", "en", REMINDER_VARS, INSIDE, TEMPLATES, FreeForm("BODY")),
        ("credit_paused", "en", {}, INSIDE, {}, FreeForm("BODY")),
        # Outside: the kind's Content SID (a language-specific one first) with numbered variables.
        (
            "payment_reminder", "en", REMINDER_VARS, OUTSIDE, TEMPLATES,
            Templated("HXen", {"1": "Ramesh", "2": "₹18,750.50", "3": "10 Jan 2026"}),
        ),
        (
            "payment_reminder", "hi", REMINDER_VARS, OUTSIDE, TEMPLATES,
            Templated("HXhi", {"1": "Ramesh", "2": "₹18,750.50", "3": "10 जनवरी 2026"}),
        ),
        (
            "credit_paused", "hi", {"name": "Sunita", "reason": "overdue"}, OUTSIDE, TEMPLATES,
            Templated("HXp", {"1": "Sunita", "2": "overdue"}),
        ),
        (
            "credit_paused", "hi",
            {"name": "Sunita", "reason": "₹41,840 unpaid for more than 30 days",
             "overdue_unpaid": 4_184_000, "max_outstanding_days": 30},
            OUTSIDE, TEMPLATES,
            Templated("HXp", {"1": "Sunita", "2": "₹41,840 का भुगतान 30 दिन से ज़्यादा समय से बाकी है"}),
        ),
        (
            "pending_order_follow_up", "en", JOB_SAMPLES["pending_order_follow_up"], OUTSIDE,
            {"pending_order_follow_up": "HXf"},
            Templated("HXf", {"1": "Ramesh", "2": "3", "3": "₹4,520", "4": "28 Nov, 10 am"}),
        ),
        (
            "insights", "en", JOB_SAMPLES["insights"], Recipient(None), {"insights": "HXi"},
            Templated("HXi", {"1": "Ramesh", "2": "6", "3": "₹1,25,000"}),
        ),
        # No Content SID: held, not sent to fail at Twilio with 63016.
        ("order_failed", "en", {}, OUTSIDE, TEMPLATES, NO_TEMPLATE),
        ("payment_reminder", "en", REMINDER_VARS, Recipient(None), {}, NO_TEMPLATE),
        # A variable the template needs is missing: held, naming it.
        ("credit_paused", "en", {"name": "Sunita"}, OUTSIDE, TEMPLATES, MISSING_VARIABLE),
        # Opted out: no reminders, but account notices still go.
        ("payment_reminder", "en", REMINDER_VARS,
         Recipient(NOW, opted_out=True), TEMPLATES, OPTED_OUT),
        ("credit_paused", "en", {}, Recipient(NOW, opted_out=True), {}, FreeForm("BODY")),
        # Paid meanwhile: the reminder is dropped; unknown (None) means send.
        ("payment_reminder", "en", REMINDER_VARS,
         Recipient(NOW, still_due=False), {}, NOTHING_DUE),
        ("payment_reminder", "en", REMINDER_VARS,
         Recipient(NOW, still_due=True), {}, FreeForm("BODY")),
        # A checkout follow-up: not after STOP, nor once the checkout is over.
        ("pending_order_follow_up", "en", {}, Recipient(NOW, opted_out=True), {}, OPTED_OUT),
        ("pending_order_follow_up", "en", {}, Recipient(NOW, checkout_open=False), {},
         CHECKOUT_CLOSED),
        ("pending_order_follow_up", "en", {}, Recipient(NOW, checkout_open=True), {},
         FreeForm("BODY")),
        # Twilio reported an opt-out or a block: nothing at all, account notices included.
        ("credit_paused", "en", {}, Recipient(NOW, twilio_opted_out=True), TEMPLATES, OPTED_OUT),
        ("test_message", "en", {}, Recipient(NOW, twilio_opted_out=True), {}, OPTED_OUT),
        # Sending again a message reported failed, which was then reported delivered after all.
        ("credit_paused", "en", {}, Recipient(NOW, earlier_delivered=True), {}, ARRIVED),
    ],
)  # fmt: skip
def test_plan_send(
    kind: str,
    lang: str,
    variables: dict[str, Any],
    recipient: Recipient,
    templates: dict[str, str],
    expected: object,
) -> None:
    plan = plan_send(
        kind=kind,
        language=lang,
        body="BODY",
        variables=variables,
        recipient=recipient,
        now=NOW,
        templates=templates,
    )
    if isinstance(expected, str):
        assert isinstance(plan, Hold | Skip)
        assert plan.code == expected
    else:
        assert plan == expected


def test_hold_message_names_kind_and_setting() -> None:
    plan = plan_send(
        kind="order_failed", language="en", body="x", variables={},
        recipient=OUTSIDE, now=NOW, templates={},
    )  # fmt: skip
    assert isinstance(plan, Hold)
    assert "order_failed" in plan.message and "WHATSAPP_TEMPLATES" in plan.message


def test_content_variables_json_is_a_numbered_string_object() -> None:
    plan = Templated("HX1", content_variables("test_message", {"message": "नमस्ते"}, "hi"))
    assert json.loads(plan.variables_json) == {"1": "नमस्ते"}


@pytest.mark.parametrize(
    "status_code, payload, retry_after, expected",
    [
        (201, {"sid": "SM1", "status": "queued"}, None, Accepted("SM1", S.ACCEPTED)),
        (201, {"sid": "SM1", "status": "sent"}, None, Accepted("SM1", S.SENT)),
        (200, {"sid": "SM1"}, None, Accepted("SM1", S.ACCEPTED)),
        (429, {"code": 20429, "message": "Too Many Requests"}, "7",
         Retryable("20429", "Too Many Requests", 7.0)),
        (503, None, None, Retryable("HTTP_503", "HTTP 503")),
        (500, {"code": 20500, "message": "Internal"}, None, Retryable("20500", "Internal")),
        (401, {"code": 20003, "message": "Authenticate"}, None, Retryable("20003", "Authenticate")),
        (400, {"code": 21211, "message": "Invalid 'To' Phone Number"}, None,
         Permanent("21211", "Invalid 'To' Phone Number")),
        (400, {"code": 63016, "message": "outside window"}, None,
         Permanent("63016", "outside window")),
        (404, "not json", None, Permanent("HTTP_404", "HTTP 404")),
    ],
)  # fmt: skip
def test_classify_response(
    status_code: int, payload: object, retry_after: str | None, expected: object
) -> None:
    assert classify_response(status_code, payload, retry_after) == expected


def test_transport_errors_retry() -> None:
    assert classify_transport_error("ReadTimeout").code == "NETWORK_ERROR"


# Only what cannot have reached Twilio is retried blind; the rest is looked up first.
@pytest.mark.parametrize(
    "name, blind",
    [
        ("ConnectError", True),  # no connection was made
        ("ConnectTimeout", True),
        ("PoolTimeout", True),  # no connection was free: nothing was sent
        ("ReadTimeout", False),  # the request went out; Twilio may have created the message
        ("WriteTimeout", False),  # part of it went out
        ("RemoteProtocolError", False),  # the connection dropped mid-answer
        ("ReadError", False),
    ],
)
def test_transport_errors_blind_only_before_sending(name: str, blind: bool) -> None:
    outcome = classify_transport_error(name)
    assert isinstance(outcome, Retryable if blind else Unconfirmed)


@pytest.mark.parametrize(
    "status_code, payload, expected",
    [
        (201, {"sid": "SM1", "status": "queued"}, Accepted("SM1", S.ACCEPTED)),
        (429, {"code": 20429, "message": "Too Many Requests"},
         Retryable("20429", "Too Many Requests")),  # "aren't processed": blind retry
        (503, None, Retryable("HTTP_503", "HTTP 503")),  # not processed either
        (401, {"code": 20003, "message": "Authenticate"}, Retryable("20003", "Authenticate")),
        (500, {"code": 20500, "message": "Internal"}, Unconfirmed("20500", "Internal")),
        (502, None, Unconfirmed("HTTP_502", "HTTP 502")),
        (504, None, Unconfirmed("HTTP_504", "HTTP 504")),
        (400, {"code": 21611, "message": "queue full"}, Permanent("21611", "queue full")),
    ],
)  # fmt: skip
def test_classify_answer_says_whether_twilio_may_have_it(
    status_code: int, payload: object, expected: object
) -> None:
    assert classify_answer(status_code, payload) == expected


Q, F = S.QUEUED, S.FAILED
SECONDS = timedelta(seconds=1)
HOUR = timedelta(hours=1)


# One attempt's outcome -> what the row becomes: (outcome, attempts, temporary failures before)
# -> (status, code, delay until the next attempt or None, flags, what the sender counts).
@pytest.mark.parametrize(
    "outcome, attempts, temporary, status, delay, flags, result",
    [
        (Retryable("20429", "slow down"), 1, 0, Q, 30 * SECONDS, set(), "retried"),
        (Retryable("20429", "slow down", 300.0), 1, 0, Q, 300 * SECONDS, set(), "retried"),
        (Retryable("HTTP_503", "x"), MAX_ATTEMPTS, 0, F, None, set(), "failed"),
        (Unconfirmed("20500", "Internal"), 1, 0, Q, 30 * SECONDS, {"unconfirmed"},
         "unconfirmed"),
        (Unconfirmed("NETWORK_ERROR", "ReadTimeout"), 3, 0, Q, 120 * SECONDS, {"unconfirmed"},
         "unconfirmed"),
        (Unconfirmed("20500", "x"), MAX_ATTEMPTS, 0, F, None, {"unconfirmed"}, "failed"),
        # 63016: at once again, with the template (or held).
        (Permanent("63016", "window"), 1, 0, Q, timedelta(0), {"window_refused"},
         "window_refused"),
        # Temporary by the table: a long backoff, counted; the error's own wait if longer.
        (Permanent("21611", "queue"), 1, 0, Q, HOUR, {"temporary"}, "deferred"),
        (Permanent("30001", "overflow"), 1, 1, Q, HOUR, {"temporary"}, "deferred"),
        (Permanent("63018", "rate"), 1, 2, Q, 3 * HOUR, {"temporary"}, "deferred"),
        (Permanent("63038", "daily"), 1, 0, Q, 6 * HOUR, {"temporary"}, "deferred"),
        (Permanent("30003", "unreachable"), 1, 0, Q, timedelta(minutes=15), {"temporary"},
         "deferred"),
        (Permanent("21611", "queue"), 1, MAX_TEMPORARY_FAILURES - 1, Q, 12 * HOUR,
         {"temporary"}, "deferred"),
        (Permanent("21611", "queue"), 1, MAX_TEMPORARY_FAILURES, F, None, {"temporary"},
         "failed"),
        # Opted out: failed, and the retailer marked.
        (Permanent("21610", "unsubscribed"), 1, 0, F, None, {"opt_out"}, "opted_out"),
        # Recipient and configuration problems, and codes we do not know: failed, no retry.
        (Permanent("21211", "bad To"), 1, 0, F, None, set(), "failed"),
        (Permanent("63015", "sandbox"), 1, 0, F, None, set(), "failed"),
        (Permanent("63051", "new to us"), 1, 0, F, None, set(), "failed"),
        (Permanent("HTTP_404", "HTTP 404"), 1, 0, F, None, set(), "failed"),
    ],
)  # fmt: skip
def test_settle(
    outcome: Outcome,
    attempts: int,
    temporary: int,
    status: OutboxStatus,
    delay: timedelta | None,
    flags: set[str],
    result: str,
) -> None:
    settled = settle(outcome, attempts=attempts, temporary_failures=temporary, now=NOW)
    assert isinstance(settled, Unsent)
    assert (settled.status, settled.error_code, settled.result) == (status, outcome.code, result)
    assert settled.next_attempt_at == (NOW + delay if delay is not None else None)
    named = {"window_refused", "temporary", "unconfirmed", "opt_out"}
    assert {f for f in named if getattr(settled, f)} == flags


def test_settle_accepted_and_what_the_messages_say() -> None:
    assert settle(Accepted("SM1", S.SENT), attempts=1, temporary_failures=0, now=NOW) == (
        Handed("SM1", S.SENT)
    )
    no_sid = settle(Accepted(None, S.ACCEPTED), attempts=1, temporary_failures=0, now=NOW)
    assert isinstance(no_sid, Handed) and no_sid.note
    deferred = settle(Permanent("63018", "Rate limit"), attempts=1, temporary_failures=1, now=NOW)
    assert isinstance(deferred, Unsent)
    assert deferred.error_message.startswith("Rate limit (temporary failure 2 of 5")
    last = settle(Permanent("63018", "Rate limit"), attempts=1, temporary_failures=5, now=NOW)
    assert isinstance(last, Unsent) and "gave up after 6 temporary failures" in last.error_message


@pytest.mark.parametrize(
    "failures, wait, jitter, expected",
    [
        (1, timedelta(0), 0.0, timedelta(minutes=15)),
        (2, timedelta(0), 0.0, HOUR),
        (3, HOUR, 0.0, 3 * HOUR),
        (1, 6 * HOUR, 0.0, 6 * HOUR),
        (5, timedelta(0), 0.0, 12 * HOUR),
        (9, timedelta(0), 0.0, 12 * HOUR),
        (1, timedelta(0), 0.999, timedelta(minutes=15) * 1.24975),
    ],
)
def test_long_backoff(failures: int, wait: timedelta, jitter: float, expected: timedelta) -> None:
    assert long_backoff(failures, wait, jitter=jitter) == expected


# A failure reported by a status callback -> what follows beyond the row's status.
@pytest.mark.parametrize(
    "code, temporary, expected",
    [
        ("63016", 0, ResendAsTemplate()),
        ("63018", 0, ResendLater(NOW + HOUR, 1, "temporary failure 1 of 5; sent again later")),
        ("30001", 2, ResendLater(NOW + 3 * HOUR, 3, "temporary failure 3 of 5; sent again later")),
        ("63038", 0, ResendLater(NOW + 6 * HOUR, 1, "temporary failure 1 of 5; sent again later")),
        ("63018", MAX_TEMPORARY_FAILURES, GiveUp("gave up after 6 temporary failures")),
        ("63014", 0, MarkOptedOut()),
        ("21610", 0, MarkOptedOut()),
        ("63024", 0, None),  # invalid recipient: stays failed
        ("63003", 0, None),
        ("63013", 0, None),  # our template's fault: an operator's
        ("63051", 0, None),  # not in the table
        (None, 0, None),  # "failed" with no code
    ],
)  # fmt: skip
def test_settle_callback(code: str | None, temporary: int, expected: object) -> None:
    assert settle_callback(code, temporary_failures=temporary, now=NOW) == expected


@pytest.mark.parametrize(
    "attempt, seconds",
    [(1, 30), (2, 60), (3, 120), (4, 240), (6, 960), (7, 1800), (20, 1800)],
)
def test_backoff_doubles_to_a_cap(attempt: int, seconds: float) -> None:
    assert backoff_seconds(attempt) == seconds
    assert seconds <= backoff_seconds(attempt, jitter=0.99) < seconds * 1.5


def test_after_failure_requeues_then_gives_up() -> None:
    retry = Retryable("20429", "Too Many Requests")
    first = after_failure(retry, 1, NOW)
    assert first.status == S.QUEUED and first.next_attempt_at == NOW + timedelta(seconds=30)
    slow = after_failure(Retryable("20429", "x", retry_after=300), 1, NOW)
    assert slow.next_attempt_at == NOW + timedelta(seconds=300)
    last = after_failure(retry, MAX_ATTEMPTS, NOW)
    assert last.status == S.FAILED and last.next_attempt_at is None
    assert f"after {MAX_ATTEMPTS} attempts" in last.error_message


@pytest.mark.parametrize(
    "raw, status",
    [
        ("queued", S.ACCEPTED),
        ("accepted", S.ACCEPTED),
        ("sending", S.ACCEPTED),
        ("sent", S.SENT),
        ("delivered", S.DELIVERED),
        ("read", S.READ),
        ("failed", S.FAILED),
        ("undelivered", S.UNDELIVERED),
        ("Delivered", S.DELIVERED),
        ("received", None),
        ("", None),
    ],
)
def test_twilio_status_mapping(raw: str, status: OutboxStatus | None) -> None:
    assert twilio_status(raw) == status


# (current, incoming) -> new status, or None (ignored). Never backwards; equal ranks never replace
# each other; a late failure never undoes a delivery.
@pytest.mark.parametrize(
    "current, incoming, result",
    [
        (S.ACCEPTED, S.SENT, S.SENT),
        (S.ACCEPTED, S.DELIVERED, S.DELIVERED),
        (S.SENT, S.DELIVERED, S.DELIVERED),
        (S.DELIVERED, S.READ, S.READ),
        (S.DELIVERED, S.SENT, None),
        (S.READ, S.DELIVERED, None),
        (S.READ, S.SENT, None),
        (S.SENT, S.ACCEPTED, None),
        (S.SENT, S.SENT, None),
        (S.SENT, S.FAILED, S.FAILED),
        (S.ACCEPTED, S.UNDELIVERED, S.UNDELIVERED),
        (S.DELIVERED, S.FAILED, None),
        (S.READ, S.UNDELIVERED, None),
        (S.FAILED, S.UNDELIVERED, None),
        (S.UNDELIVERED, S.FAILED, None),
        (S.FAILED, S.SENT, None),
        (S.FAILED, S.DELIVERED, S.DELIVERED),
        (S.UNDELIVERED, S.READ, S.READ),
    ],
)
def test_status_never_moves_backwards(
    current: OutboxStatus, incoming: OutboxStatus, result: OutboxStatus | None
) -> None:
    assert advance_status(current, incoming) == result
    # The SQL guard (statuses_below) agrees with the pure rule.
    assert (current.value in statuses_below(incoming)) == (result is not None)


def test_every_status_is_ranked() -> None:
    assert set(RANK) == set(OutboxStatus)


def test_token_bucket_spaces_sends_at_the_rate() -> None:
    bucket = TokenBucket(rate=10)
    waits = [bucket.reserve(100.0) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])
    # After a quiet second the debt is paid and one send is free again, but no burst builds up.
    assert bucket.reserve(101.5) == 0.0
    assert bucket.reserve(101.5) == pytest.approx(0.1)


@pytest.mark.parametrize("rate, n, seconds", [(10, 11, 1.0), (2, 5, 2.0), (50, 51, 1.0)])
def test_token_bucket_rate(rate: float, n: int, seconds: float) -> None:
    bucket = TokenBucket(rate=rate)
    last = 0.0
    for _ in range(n):
        last = bucket.reserve(0.0)
    # The n-th send at rate r waits (n - 1) / r: never more than `rate` in any second.
    assert last == pytest.approx(seconds)


# --- a lookup that could not be done, and a row out of attempts (issue 16 review) ----------------


@pytest.mark.parametrize(
    "attempts, status, delay, result",
    [(1, Q, 30 * SECONDS, "retried"), (3, Q, 120 * SECONDS, "retried"),
     (MAX_ATTEMPTS, F, None, "failed")],
)  # fmt: skip
def test_settle_a_lookup_that_failed(
    attempts: int, status: OutboxStatus, delay: timedelta | None, result: str
) -> None:
    """Nothing was sent; the earlier attempt stays unconfirmed (looked up next time)."""
    from bot.twilio_edge import NotLookedUp

    settled = settle(
        NotLookedUp("LOOKUP_FAILED", "503"), attempts=attempts, temporary_failures=0, now=NOW
    )
    assert isinstance(settled, Unsent)
    assert (settled.status, settled.error_code, settled.result) == (status, "LOOKUP_FAILED", result)
    assert settled.next_attempt_at == (NOW + delay if delay is not None else None)
    assert settled.unconfirmed and not settled.temporary


@pytest.mark.parametrize(
    "attempts, temporary, unconfirmed, says",
    [
        (8, 0, False, "gave up after 8 attempts: 8 retried or interrupted"),
        (8, 5, False, "gave up after 8 attempts: 5 temporary failures reported by Twilio, "
                      "3 retried or interrupted"),
        (9, 5, True, "; the last may have reached Twilio"),
    ],
)  # fmt: skip
def test_gave_up_says_what_the_attempts_were(
    attempts: int, temporary: int, unconfirmed: bool, says: str
) -> None:
    from bot.sending import gave_up

    settled = gave_up(attempts, temporary, unconfirmed=unconfirmed)
    assert (settled.status, settled.error_code, settled.result) == (
        F, "TOO_MANY_ATTEMPTS", "failed",
    )  # fmt: skip
    assert says in settled.error_message and "interrupted attempts" not in settled.error_message
    assert settled.unconfirmed is unconfirmed
