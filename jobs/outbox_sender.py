"""The outbox sender: delivers due outbox rows through Twilio's Messages API (DESIGN section 7).

A business-initiated message that can wait (`MessageKind.urgent` is False) is not sent inside
`QUIET_HOURS`: taken inside them, it goes back to the queue until they end (`quiet_until`).

One round (`deliver_due`): in one short transaction, put rows whose sender died (lease expired)
back in the queue and lease due rows with `FOR UPDATE SKIP LOCKED`, so two senders never take
the same row; commit; reserve the rows' send slots on the shared rate (`jobs.send_rate`), only
those that start within half the lease, and give back at once the rows that got none. Then for
each row, just before sending, load its recipient (24-hour window, opt-out, still unpaid), decide
with `bot.sending.plan_send`, wait for its slot, renew the lease and check it is still ours
(`hold_claim`: a row whose lease passed is never posted), POST to Twilio, and record what
`bot.sending.settle` makes of the outcome (conditional on still holding the claim, in one
transaction with what follows from it: a reminder counted as sent, a retailer marked opted out;
a SID Twilio gave after the claim was lost is recorded all the same).

So however many senders run, the outbox's rate holds and a row is posted by one of them at a
time: a sender claims no more rows than the shared rate can start before half their lease is
out (`claim_limit`, counting the slots other senders already hold).

A row whose last attempt may have reached Twilio (`unconfirmed_since`: a 5xx, a read timeout, a
sender that died holding it) is first looked up in Twilio's Messages list (To, From; created
since the attempt); if the message is there the row takes its SID (and, if Twilio already
reports it failed, what its error code means follows, as for a status callback), and only if
not is it sent again.

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

from bot.cli import metrics
from bot.cli.deps import Deps
from bot.clock import business_date
from bot.messages import MessageKind, Reply
from bot.outbox_status import OutboxStatus
from bot.phone import mask_phone
from bot.quiet_hours import release_at
from bot.reminders import REMINDER_POLICY, refresh_reminder
from bot.sending import (
    MAX_ATTEMPTS,
    WINDOW,
    FreeForm,
    Handed,
    Hold,
    Settlement,
    Skip,
    Templated,
    Unsent,
    gave_up,
    plan_send,
    settle,
)
from bot.twilio_edge import (
    NotLookedUp,
    SentMessage,
)
from bot.twilio_errors import TWILIO_ERRORS
from db.outbox_callbacks import (
    StatusEvent,
    apply_early_status_callbacks,
    apply_status_callback,
    mark_twilio_opt_out,
)
from db.outbox_queries import (
    OutboxRow,
    claim_due,
    get_recipient,
    hold_claim,
    mark_accepted,
    mark_reminder_sent,
    mark_unsent,
    record_orphan_sid,
    refresh_content,
    release_claims,
    release_held,
    requeue_expired_leases,
    wait_for_quiet_end,
)
from db.pool import Conn
from jobs import twilio_api
from jobs.send_rate import Reservation, SharedSendRate, send_rate_key

log = logging.getLogger(__name__)

# A claimed row belongs to its sender this long. A round claims only rows whose send slot starts
# within half of it and stops taking rows after half of it; the lease is renewed just before the
# POST, so it never runs out under a row being sent (which would let another sender send it too).
LEASE = timedelta(minutes=2)
POLL_SECONDS = 1.0
# A HELD row (no Content SID) is sent after all if the recipient writes in, or a template is
# configured, within this long of it being queued; later it stays HELD (too stale to deliver).
HELD_RELEASE_AGE = timedelta(hours=24)
# A status callback that came before its SID was written waits this long for it (handlers.status).
EARLY_CALLBACK_MAX_AGE = timedelta(days=1)


@dataclasses.dataclass
class _Round:
    """What the rows of one round share: the send slots reserved for them, the lease, and the
    sender's stop (a row waiting for its slot goes back at once when it is set)."""

    slots: Reservation | None
    lease: timedelta
    stop: asyncio.Event | None = None


async def _deliver_one(deps: Deps, conn: Conn, row: OutboxRow, turn: _Round) -> str:
    """Send or settle one claimed row; return what happened (a counts key)."""
    now = deps.clock.now()
    who = mask_phone(row.to_phone)
    if row.unconfirmed_since is not None and deps.settings.twilio_enabled:
        try:
            found = await twilio_api.look_up(deps, conn, row, row.unconfirmed_since)
        except twilio_api.LookupFailed as exc:
            log.warning("outbox #%d to %s: %s; trying later", row.id, who, exc)
            settlement = settle(
                NotLookedUp("LOOKUP_FAILED", str(exc)), attempts=row.attempts,
                temporary_failures=row.temporary_failures, now=now, jitter=random.random(),
            )  # fmt: skip
            return await _record(
                deps, conn, row, settlement, content_sid=row.content_sid,
                since=row.unconfirmed_since,
            )  # fmt: skip
        if found is not None:
            log.info("outbox #%d to %s: Twilio had it after all (%s)", row.id, who, found.sid)
            return await _record(deps, conn, row, _adopted(found), content_sid=row.content_sid)
    if row.attempts > MAX_ATTEMPTS:
        # Every attempt so far ended without giving the row up (temporary failures, refusals of
        # the window, senders that stopped or died holding it): stop trying.
        settlement = gave_up(
            row.attempts - 1, row.temporary_failures, unconfirmed=row.unconfirmed_since is not None
        )
        return await _record(
            deps, conn, row, settlement, content_sid=row.content_sid, since=row.unconfirmed_since
        )
    go_at = release_at(row.kind, now, deps.settings.quiet, deps.settings.tz)
    if go_at > now:
        # Inside quiet hours (queued by a path that did not hold it, or a retry falling due at
        # night): back to the queue until they end, the attempt not counted.
        await wait_for_quiet_end(conn, row, go_at, now)
        log.info("outbox #%d %s to %s waits for quiet hours: goes at %s", row.id, row.kind,
                 who, go_at.isoformat())  # fmt: skip
        return "quiet"
    recipient = await get_recipient(conn, row, now)
    if row.kind == MessageKind.PAYMENT_REMINDER and recipient.unpaid_now:
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
    if turn.slots is not None and not await turn.slots.take(turn.stop):
        # Its slot went by while earlier rows took long, or the sender is stopping: back to the
        # queue, not counted as an attempt.
        await release_claims(conn, [row], deps.clock.now())
        return "given_back"
    content_sid = plan.content_sid if isinstance(plan, Templated) else None
    attempt_at = deps.clock.now()
    if not await hold_claim(
        conn, row, content_sid=content_sid, lease_until=attempt_at + turn.lease, now=attempt_at
    ):
        log.warning(
            "outbox #%d %s to %s not sent: its lease passed and another sender has it",
            row.id, row.kind, who,
        )  # fmt: skip
        return "lost"
    outcome = await twilio_api.post_message(deps, row, plan)
    settlement = settle(
        outcome,
        attempts=row.attempts,
        temporary_failures=row.temporary_failures,
        now=deps.clock.now(),
        jitter=random.random(),
    )
    return await _record(deps, conn, row, settlement, content_sid=content_sid, since=attempt_at)


def _adopted(found: SentMessage) -> Handed:
    """A message found in Twilio's list, as the settlement of the attempt that left it there
    (Twilio's list gives its error code, often without a message: the table's meaning then)."""
    known = TWILIO_ERRORS.get(found.error_code or "")
    return Handed(
        found.sid,
        found.status or OutboxStatus.ACCEPTED,
        "found in Twilio's Messages list after an unconfirmed attempt",
        error_code=found.error_code,
        error_message=found.error_message or (known.meaning if known else None),
    )


_TWILIO_FAILED = (OutboxStatus.FAILED, OutboxStatus.UNDELIVERED)


async def _record(
    deps: Deps,
    conn: Conn,
    row: OutboxRow,
    settlement: Settlement,
    *,
    content_sid: str | None,
    since: datetime | None = None,
) -> str:
    """Persist a settlement, with what follows from it, in one transaction; a counts key.
    `since`: when the attempt began (kept when Twilio may have the message). A SID Twilio gave
    after the claim was lost is recorded all the same (`record_orphan_sid`)."""
    now = deps.clock.now()
    who = mask_phone(row.to_phone)
    orphan = None
    async with conn.transaction():
        match settlement:
            case Handed(sid, status, note, error_code, error_message):
                # A message Twilio already reports failed is recorded as accepted, then moved on
                # by its status as a callback would, with what its error code means.
                failed = status in _TWILIO_FAILED
                first = OutboxStatus.ACCEPTED if failed else status
                kept = await mark_accepted(
                    conn, row, twilio_sid=sid, status=first, content_sid=content_sid, now=now,
                    note=note,
                )  # fmt: skip
                if not kept and sid:
                    orphan = await record_orphan_sid(
                        conn, row, twilio_sid=sid, status=first, content_sid=content_sid, now=now
                    )
                if kept or (orphan is not None and orphan.placed == "row"):
                    await mark_reminder_sent(conn, row, now)
                if failed and sid and (kept or orphan is not None):
                    event = StatusEvent(sid, status, error_code, error_message)
                    await apply_status_callback(conn, event, now, jitter=random.random())
            case Unsent() as unsent:
                kept = await mark_unsent(
                    conn, row, status=unsent.status, error_code=unsent.error_code,
                    error_message=unsent.error_message, now=now,
                    next_attempt_at=unsent.next_attempt_at, window_refused=unsent.window_refused,
                    temporary=unsent.temporary,
                    unconfirmed_since=since if unsent.unconfirmed else None,
                )  # fmt: skip
                if kept and unsent.opt_out:
                    await mark_twilio_opt_out(
                        conn, retailer_id=row.retailer_id, phone=row.to_phone,
                        code=unsent.error_code, message=unsent.error_message,
                        reference=f"outbox:{row.id}", now=now,
                    )  # fmt: skip
    if isinstance(settlement, Handed):
        if kept:
            log.info(
                "outbox #%d %s to %s accepted by Twilio (%s)",
                row.id, row.kind, who, settlement.status,
            )  # fmt: skip
            return "sent"
        if orphan is not None:
            log.warning(
                "outbox #%d %s to %s: Twilio accepted it (%s) after this sender's lease had "
                "passed; its SID is recorded on #%d (%s)",
                row.id, row.kind, who, settlement.sid, orphan.row_id, orphan.placed,
            )  # fmt: skip
        else:
            log.warning(
                "outbox #%d %s to %s: Twilio accepted it without a SID after this sender's "
                "lease had passed",
                row.id, row.kind, who,
            )  # fmt: skip
        return "lost"
    if not kept:
        log.warning(
            "outbox #%d %s to %s: %s %s not recorded: this sender's lease had passed",
            row.id, row.kind, who, settlement.result, settlement.error_code,
        )  # fmt: skip
        return "lost"
    _log_unsent(row, settlement, who)
    return settlement.result


def _log_unsent(row: OutboxRow, unsent: Unsent, who: str) -> None:
    level = logging.INFO if unsent.status == OutboxStatus.QUEUED else logging.WARNING
    log.log(
        level,
        "outbox #%d %s to %s %s: %s %s",
        row.id,
        row.kind,
        who,
        unsent.result,
        unsent.error_code,
        unsent.error_message,
    )


async def _refresh_reminder(
    deps: Deps, conn: Conn, row: OutboxRow, unpaid_now: Mapping[int, int], now: datetime
) -> OutboxRow:
    """A reminder says what is owed when it is sent: debits paid since the job queued it are
    dropped, part-paid ones show what is left (the row keeps the text that was sent)."""
    today = business_date(now, deps.settings.tz)
    fresh = refresh_reminder(row.variables, unpaid_now, today, REMINDER_POLICY)
    if fresh is None or fresh == row.variables:
        return row
    body = deps.renderer.render(Reply(MessageKind.PAYMENT_REMINDER, fresh), row.language)
    await refresh_content(conn, row, body, fresh)
    log.info("outbox #%d %s brought up to date before sending", row.id, row.kind)
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
    async with conn.transaction():
        if await mark_accepted(
            conn, row, twilio_sid=f"local-{row.id}", status=OutboxStatus.SENT, content_sid=None,
            now=now, note=note,
        ):  # fmt: skip
            await mark_reminder_sent(conn, row, now)
    return "sent"


def shared_send_rate(deps: Deps) -> SharedSendRate:
    """The outbox's share of SEND_RATE_PER_SECOND (OUTBOX_RATE_SHARE), across all of this
    deployment's senders: the rest of the sender's throughput is left for chat replies."""
    key = send_rate_key(deps.settings.arq_queue_name)
    return SharedSendRate(deps.redis, key, deps.settings.outbox_rate_per_second)


def claim_limit(
    deps: Deps, limit: int, *, backlog: float = 0.0, lease: timedelta | None = None
) -> int:
    """No more rows than the shared rate can start within half a lease, after the `backlog`
    (seconds of slots that every sender together already holds, `SharedSendRate.backlog`):
    with several senders, each claims from what the others left. 0 when the rate is taken for
    the whole half lease; at least 1 otherwise (at a very low rate, one slot is all there is)."""
    room = (lease or LEASE).total_seconds() / 2 - backlog
    if room <= 0:
        return 0
    return max(1, min(limit, int(deps.settings.outbox_rate_per_second * room)))


async def deliver_due(
    deps: Deps,
    *,
    limit: int = 50,
    rate: SharedSendRate | None = None,
    stop: asyncio.Event | None = None,
    lease: timedelta | None = None,
) -> dict[str, int]:
    """One round of the sender; returns counts (claimed, sent, retried, failed, held, ...).
    `lease`: how long a claimed row is this sender's (default `LEASE`)."""
    rate = rate or shared_send_rate(deps)
    lease = lease or LEASE
    twilio = deps.settings.twilio_enabled
    counts: Counter[str] = Counter()
    now = deps.clock.now()
    half_lease = lease.total_seconds() / 2
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
        # Printed messages (no credentials) are not rate limited.
        backlog = await rate.backlog() if twilio else 0.0
        most = claim_limit(deps, limit, backlog=backlog, lease=lease)
        async with conn.transaction():
            claims = await claim_due(conn, now=now, lease_until=now + lease, limit=most)
        counts["claimed"] = len(claims)
        slots = None
        if twilio and claims:
            # Slots for the rows, only those that start within half the lease: a row left
            # without one goes back now rather than outwait its lease (another sender would
            # then take it and send it too). Fewer come back when other senders raced us.
            slots = await rate.reserve_within(len(claims), half_lease)
            if slots.count < len(claims):
                given_back = await release_claims(conn, claims[slots.count :], deps.clock.now())
                counts["given_back"] += given_back
                metrics.OUTBOX_SENDS.labels("given_back").inc(given_back)
                claims = claims[: slots.count]
        turn = _Round(slots, lease, stop)
        started = time.monotonic()
        try:
            for i, row in enumerate(claims):
                if (stop is not None and stop.is_set()) or (
                    time.monotonic() - started > half_lease
                ):
                    given_back = await release_claims(conn, claims[i:], deps.clock.now())
                    counts["given_back"] += given_back
                    metrics.OUTBOX_SENDS.labels("given_back").inc(given_back)
                    break
                result = await _deliver_one(deps, conn, row, turn)
                counts[result] += 1
                metrics.OUTBOX_SENDS.labels(result).inc()
        finally:
            if slots is not None:
                await rate.give_back(slots)
    return {k: v for k, v in counts.items() if v or k == "claimed"}


async def run_sender(
    deps: Deps,
    stop: asyncio.Event,
    *,
    poll_seconds: float = POLL_SECONDS,
    limit: int = 50,
    lease: timedelta | None = None,
) -> None:
    """Deliver due rows until `stop` is set: every `poll_seconds`, or at once while busy."""
    rate = shared_send_rate(deps)
    mode = "Twilio" if deps.settings.twilio_enabled else "printing (no Twilio credentials)"
    log.info("outbox sender started: %s, %s in all", mode, rate_text(rate.rate))
    while not stop.is_set():
        busy = False
        try:
            counts = await deliver_due(deps, limit=limit, rate=rate, stop=stop, lease=lease)
            # Rows went out (or were settled): more may be due at once. Rows given back for want
            # of a slot, or none claimed, wait for the next poll.
            busy = counts.get("claimed", 0) > counts.get("given_back", 0)
        except Exception:  # a database blip must not end the sender; the next round retries
            log.exception("outbox sender: round failed; retrying in %.0f s", poll_seconds)
        if busy:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_seconds)
    log.info("outbox sender stopped")


def rate_text(per_second: float) -> str:
    """A send rate as people read it: "7 messages/s", or "1 message every 14 s" below one."""
    if per_second >= 1:
        return f"{per_second:g} messages/s"
    return f"1 message every {1 / per_second:.3g} s"
