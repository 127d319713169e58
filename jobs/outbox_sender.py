"""The outbox sender: delivers due outbox rows through Twilio's Messages API (DESIGN section 7).

One round (`deliver_due`): in one short transaction, put rows whose sender died (lease expired)
back in the queue and lease up to `limit` due rows with `FOR UPDATE SKIP LOCKED`, so two senders
never take the same row; commit; then for each row, just before sending, load its recipient
(24-hour window, opt-out, still unpaid), decide with `bot.sending.plan_send`, wait for the rate
limit, POST to Twilio and record the outcome (conditional on still holding the lease).

Without Twilio credentials the message is logged (phone masked) and marked SENT as `local-<id>`:
that is what `python -m bot chat` shows a newcomer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.cli.deps import Deps
from bot.clock import business_date
from bot.messages import Reply
from bot.phone import mask_phone
from bot.reminders import REMINDER_POLICY, refresh_reminder
from bot.sending import (
    MAX_ATTEMPTS,
    WINDOW,
    WINDOW_CLOSED,
    Accepted,
    FreeForm,
    Hold,
    OutboxStatus,
    Permanent,
    Retryable,
    Skip,
    Templated,
    after_failure,
    classify_response,
    classify_transport_error,
    plan_send,
)
from db.outbox_queries import (
    OutboxRow,
    apply_early_status_callbacks,
    claim_due,
    get_recipient,
    mark_accepted,
    mark_unsent,
    refresh_content,
    release_claims,
    release_held,
    requeue_expired_leases,
)
from db.pool import Conn
from jobs.send_rate import SharedSendRate, send_rate_key

log = logging.getLogger(__name__)

# A claimed row belongs to its sender this long; a round stops taking new rows after half of it,
# so a lease never runs out under a row being sent (which would let another sender send it too).
LEASE = timedelta(minutes=2)
POLL_SECONDS = 1.0
# A HELD row (no Content SID) is sent after all if the recipient writes in, or a template is
# configured, within this long of it being queued; later it stays HELD (too stale to deliver).
HELD_RELEASE_AGE = timedelta(hours=24)
TWILIO_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A status callback that came before its SID was written waits this long for it (handlers.status).
EARLY_CALLBACK_MAX_AGE = timedelta(days=1)


def messages_url(deps: Deps) -> str:
    s = deps.settings
    return f"{s.twilio_api_url}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json"


def status_callback_url(deps: Deps) -> str | None:
    base = deps.settings.public_base_url
    return f"{base}/webhooks/twilio/status" if base else None


def _whatsapp(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


def form_fields(deps: Deps, row: OutboxRow, plan: FreeForm | Templated) -> dict[str, str]:
    """The exact form Twilio receives for this row."""
    s = deps.settings
    assert s.twilio_whatsapp_from
    fields = {"To": _whatsapp(row.to_phone), "From": _whatsapp(s.twilio_whatsapp_from)}
    callback = status_callback_url(deps)
    if callback:
        fields["StatusCallback"] = callback
    if isinstance(plan, FreeForm):
        fields["Body"] = plan.body
    else:
        fields["ContentSid"] = plan.content_sid
        fields["ContentVariables"] = plan.variables_json
    return fields


async def _post(
    deps: Deps, row: OutboxRow, plan: FreeForm | Templated
) -> Accepted | Retryable | Permanent:
    s = deps.settings
    assert s.twilio_account_sid and s.twilio_auth_token
    try:
        response = await deps.http.post(
            messages_url(deps),
            data=form_fields(deps, row, plan),
            auth=(s.twilio_account_sid, s.twilio_auth_token),
            timeout=TWILIO_TIMEOUT,
        )
    except httpx.TransportError as exc:
        return classify_transport_error(type(exc).__name__)
    except Exception as exc:  # any other failure must still end in a retry, never a stuck lease
        log.exception("outbox #%d: unexpected error calling Twilio", row.id)
        return Retryable("SEND_ERROR", f"unexpected error calling Twilio: {type(exc).__name__}")
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    return classify_response(response.status_code, payload, response.headers.get("Retry-After"))


async def _deliver_one(deps: Deps, conn: Conn, row: OutboxRow, rate: SharedSendRate) -> str:
    """Send or settle one claimed row; return what happened (a counts key)."""
    now = deps.clock.now()
    who = mask_phone(row.to_phone)
    if row.attempts > MAX_ATTEMPTS:
        # Its senders kept dying mid-send (leases expired); stop trying.
        await mark_unsent(
            conn, row, status=OutboxStatus.FAILED, error_code="TOO_MANY_ATTEMPTS",
            error_message=f"gave up after {row.attempts - 1} interrupted attempts", now=now,
        )  # fmt: skip
        return "failed"
    recipient = await get_recipient(conn, row, now)
    if row.kind == "payment_reminder" and recipient.unpaid_now:
        row = await _refresh_reminder(deps, conn, row, recipient.unpaid_now, now)
    plan = plan_send(
        kind=row.kind,
        language=row.language,
        body=row.body,
        variables=row.variables if isinstance(row.variables, dict) else {},
        recipient=recipient,
        now=now,
        templates=deps.settings.whatsapp_templates,
        window_refused_at=row.window_refused_at,
    )
    if isinstance(plan, Skip):
        await mark_unsent(
            conn, row, status=OutboxStatus.FAILED, error_code=plan.code,
            error_message=plan.message, now=now,
        )  # fmt: skip
        log.info("outbox #%d %s to %s not sent: %s", row.id, row.kind, who, plan.code)
        return "skipped"
    if not deps.settings.twilio_enabled:
        return await _print_locally(conn, row, plan, now)
    if isinstance(plan, Hold):
        await mark_unsent(
            conn, row, status=OutboxStatus.HELD, error_code=plan.code,
            error_message=plan.message, now=now,
        )  # fmt: skip
        log.warning("outbox #%d %s to %s held: %s", row.id, row.kind, who, plan.message)
        return "held"
    await rate.wait()
    outcome = await _post(deps, row, plan)
    now = deps.clock.now()
    content_sid = plan.content_sid if isinstance(plan, Templated) else None
    if isinstance(outcome, Accepted):
        kept = await mark_accepted(
            conn, row, twilio_sid=outcome.sid, status=outcome.status, content_sid=content_sid,
            now=now, note=None if outcome.sid else "Twilio's answer had no message sid",
        )  # fmt: skip
        log.info(
            "outbox #%d %s to %s accepted by Twilio (%s)", row.id, row.kind, who, outcome.status
        )
        return "sent" if kept else "lost"
    if isinstance(outcome, Permanent) and outcome.code == WINDOW_CLOSED:
        # Our reckoning of the window was wrong: try again at once with the kind's template, or
        # hold the row until the recipient writes in.
        await mark_unsent(
            conn, row, status=OutboxStatus.QUEUED, error_code=outcome.code,
            error_message=outcome.message, now=now, next_attempt_at=now, window_refused=True,
        )  # fmt: skip
        log.warning(
            "outbox #%d %s to %s: outside the 24-hour window (63016)", row.id, row.kind, who
        )
        return "window_refused"
    if isinstance(outcome, Permanent):
        await mark_unsent(
            conn, row, status=OutboxStatus.FAILED, error_code=outcome.code,
            error_message=outcome.message, now=now,
        )  # fmt: skip
        log.warning(
            "outbox #%d %s to %s refused by Twilio: %s", row.id, row.kind, who, outcome.code
        )
        return "failed"
    decision = after_failure(outcome, row.attempts, now, jitter=random.random())
    await mark_unsent(
        conn, row, status=decision.status, error_code=outcome.code,
        error_message=decision.error_message, now=now, next_attempt_at=decision.next_attempt_at,
    )  # fmt: skip
    if decision.status == OutboxStatus.FAILED:
        log.warning("outbox #%d %s to %s failed: %s", row.id, row.kind, who, decision.error_message)
        return "failed"
    log.info("outbox #%d %s to %s will retry: %s", row.id, row.kind, who, outcome.code)
    return "retried"


async def _refresh_reminder(
    deps: Deps, conn: Conn, row: OutboxRow, unpaid_now: Mapping[int, int], now: datetime
) -> OutboxRow:
    """A reminder says what is owed when it is sent: debits paid since the job queued it are
    dropped, part-paid ones show what is left (the row keeps the text that was sent)."""
    today = business_date(now, deps.settings.tz)
    fresh = refresh_reminder(row.variables, unpaid_now, today, REMINDER_POLICY)
    if fresh is None or fresh == row.variables:
        return row
    body = deps.renderer.render(Reply("payment_reminder", fresh), row.language)
    await refresh_content(conn, row, body, fresh)
    log.info("outbox #%d payment_reminder brought up to date before sending", row.id)
    return dataclasses.replace(row, body=body, variables=fresh)


async def _print_locally(
    conn: Conn, row: OutboxRow, plan: FreeForm | Templated | Hold, now: Any
) -> str:
    note = None
    if isinstance(plan, Hold):
        note = f"with Twilio this would be HELD: {plan.message}"
    elif isinstance(plan, Templated):
        note = f"with Twilio this would use template {plan.content_sid} {plan.variables_json}"
    log.info(
        "WhatsApp to %s (%s, not sent: no Twilio credentials):\n%s%s",
        mask_phone(row.to_phone),
        row.kind,
        row.body,
        f"\n[{note}]" if note else "",
    )
    await mark_accepted(
        conn, row, twilio_sid=f"local-{row.id}", status=OutboxStatus.SENT, content_sid=None,
        now=now, note=note,
    )  # fmt: skip
    return "sent"


def shared_send_rate(deps: Deps) -> SharedSendRate:
    """SEND_RATE_PER_SECOND across all of this deployment's senders."""
    key = send_rate_key(deps.settings.arq_queue_name)
    return SharedSendRate(deps.redis, key, deps.settings.send_rate_per_second)


def claim_limit(deps: Deps, limit: int) -> int:
    """No more rows than the rate limit lets us send in half a lease."""
    per_half_lease = int(deps.settings.send_rate_per_second * LEASE.total_seconds() / 2)
    return max(1, min(limit, per_half_lease))


async def deliver_due(
    deps: Deps,
    *,
    limit: int = 50,
    rate: SharedSendRate | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, int]:
    """One round of the sender; returns counts (claimed, sent, retried, failed, held, ...)."""
    rate = rate or shared_send_rate(deps)
    counts: Counter[str] = Counter()
    now = deps.clock.now()
    async with deps.pool.acquire() as conn:
        async with conn.transaction():
            counts["requeued"] = await requeue_expired_leases(conn, now)
            counts["released"] = await release_held(
                conn,
                now,
                template_kinds=list(deps.settings.whatsapp_templates),
                window=WINDOW,
                max_age=HELD_RELEASE_AGE,
            )
            counts["early_callbacks"] = await apply_early_status_callbacks(
                conn, now, EARLY_CALLBACK_MAX_AGE
            )
            claims = await claim_due(
                conn, now=now, lease_until=now + LEASE, limit=claim_limit(deps, limit)
            )
        counts["claimed"] = len(claims)
        started = time.monotonic()
        for i, row in enumerate(claims):
            if (stop is not None and stop.is_set()) or (
                time.monotonic() - started > LEASE.total_seconds() / 2
            ):
                counts["given_back"] = await release_claims(conn, claims[i:], deps.clock.now())
                break
            counts[await _deliver_one(deps, conn, row, rate)] += 1
    return {k: v for k, v in counts.items() if v or k == "claimed"}


async def run_sender(
    deps: Deps, stop: asyncio.Event, *, poll_seconds: float = POLL_SECONDS, limit: int = 50
) -> None:
    """Deliver due rows until `stop` is set: every `poll_seconds`, or at once while busy."""
    rate = shared_send_rate(deps)
    mode = "Twilio" if deps.settings.twilio_enabled else "printing (no Twilio credentials)"
    log.info("outbox sender started: %s, %.1f messages/s in all", mode, rate.rate)
    while not stop.is_set():
        busy = False
        try:
            counts = await deliver_due(deps, limit=limit, rate=rate, stop=stop)
            busy = counts.get("claimed", 0) >= claim_limit(deps, limit)
        except Exception:  # a database blip must not end the sender; the next round retries
            log.exception("outbox sender: round failed; retrying in %.0f s", poll_seconds)
        if busy:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_seconds)
    log.info("outbox sender stopped")
