"""Twilio's status callbacks for outbox rows, and what a failure's error code leads to.

A status never moves backwards (one conditional UPDATE per callback). A `failed`/`undelivered`
callback's ErrorCode is read through the same table as the Messages API's answer
(`bot.twilio_errors`, via `bot.sending.settle_callback`): outside the window (63016) the row is
queued again once, for its template; a temporary failure (63018, 30001, ...) is sent again later
as a new row (`retry_of`), so the failed one keeps its SID and a late "delivered" for it still
counts (and cancels the new one); an opt-out (21610) or a block (63014) marks the retailer, with
an audit entry, in the same transaction. A callback whose SID no row has yet is kept in
`early_status_callbacks` until the sender has written it. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from bot.outbox_status import OutboxStatus, statuses_below
from bot.sending import (
    CallbackFollowUp,
    GiveUp,
    MarkOptedOut,
    ResendAsTemplate,
    ResendLater,
    settle_callback,
)
from db.audit import insert_audit
from db.pool import Conn

# Who an opt-out that Twilio reported is recorded as performed by (audit_log.performed_by).
TWILIO = "twilio"
# A callback's ErrorCode / ErrorMessage are stored cut to these lengths (the sender cuts its own
# error messages to the same 1,000): a signed request can still carry a long field.
ERROR_CODE_CHARS = 50
ERROR_MESSAGE_CHARS = 1000


def _cut(value: str | None, chars: int) -> str | None:
    return value[:chars] if value is not None else None


@dataclass(frozen=True)
class StatusEvent:
    """One status callback from Twilio."""

    twilio_sid: str
    status: OutboxStatus
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """What a status callback did to its row."""

    found: bool
    changed: bool
    id: int | None = None
    status: str | None = None


async def apply_status_callback(
    conn: Conn, event: StatusEvent, now: datetime, *, jitter: float = 0.0
) -> StatusUpdate:
    """Move the row with the event's SID forward to its status, never backwards (one conditional
    UPDATE, so two callbacks racing cannot undo each other). Failures keep their error code, and
    what the code means follows (`bot.sending.settle_callback`): a free-form message failed as
    outside the 24-hour window (63016) is queued again, once; a temporary failure is sent again
    later as a new row; an opt-out or a block marks the retailer. Call it in a transaction: the
    follow-up belongs with the status change."""
    failed = event.status in (OutboxStatus.FAILED, OutboxStatus.UNDELIVERED)
    record = await conn.fetchrow(
        """UPDATE outbox_messages
           SET status = $2, updated_at = $5,
               error_code = CASE WHEN $6 THEN coalesce($3, error_code) ELSE error_code END,
               error_message = CASE WHEN $6 THEN coalesce($4, error_message)
                                    ELSE error_message END
           WHERE twilio_sid = $1 AND status = any($7::text[])
           RETURNING id, status, retailer_id, to_phone, temporary_failures, error_code,
                     error_message""",
        event.twilio_sid,
        event.status.value,
        _cut(event.error_code, ERROR_CODE_CHARS),
        _cut(event.error_message, ERROR_MESSAGE_CHARS),
        now,
        failed,
        list(statuses_below(event.status)),
    )
    if record is not None and failed:
        follow_up = settle_callback(
            event.error_code, temporary_failures=record["temporary_failures"], now=now,
            jitter=jitter,
        )  # fmt: skip
        record = await _follow_up(conn, record, event, follow_up, now) or record
    if record is not None:
        return StatusUpdate(found=True, changed=True, id=record["id"], status=record["status"])
    existing = await conn.fetchrow(
        "SELECT id, status FROM outbox_messages WHERE twilio_sid = $1", event.twilio_sid
    )
    if existing is None:
        return StatusUpdate(found=False, changed=False)
    return StatusUpdate(found=True, changed=False, id=existing["id"], status=existing["status"])


async def _follow_up(
    conn: Conn,
    row: asyncpg.Record,
    event: StatusEvent,
    follow_up: CallbackFollowUp,
    now: datetime,
) -> asyncpg.Record | None:
    """Carry out what a failure callback's error code leads to; the row's record if it changed."""
    match follow_up:
        case ResendAsTemplate():
            return await _requeue_window_refused(conn, row["id"], now)
        case ResendLater(at, failures, note):
            again = await _insert_resend(conn, row["id"], at, failures, now)
            await _add_note(conn, row["id"], f"{note} (as #{again})" if again else note)
        case MarkOptedOut():
            await mark_twilio_opt_out(
                conn, retailer_id=row["retailer_id"], phone=row["to_phone"],
                code=row["error_code"] or "", message=row["error_message"] or "",
                reference=f"outbox:{row['id']}:{event.twilio_sid}", now=now,
            )  # fmt: skip
        case GiveUp(note):
            await _add_note(conn, row["id"], note)
        case None:
            pass
    return None


async def _insert_resend(
    conn: Conn, row_id: int, at: datetime, temporary_failures: int, now: datetime
) -> int | None:
    """A new row sending again the message of row `row_id`, due `at`: the failed row keeps its
    SID, so a late "delivered" for it is still recorded (and cancels this one). `retry_of` names
    the first row of the chain."""
    new_id: int | None = await conn.fetchval(
        """INSERT INTO outbox_messages (retailer_id, to_phone, kind, language, template, body,
               variables, dedupe_key, next_attempt_at, created_at, updated_at,
               temporary_failures, retry_of, window_refused_at)
           SELECT retailer_id, to_phone, kind, language, template, body, variables,
                  split_part(dedupe_key, ':again:', 1) || ':again:' || $3::int, $2, $4, $4,
                  $3, coalesce(retry_of, id), window_refused_at
           FROM outbox_messages WHERE id = $1
           ON CONFLICT (dedupe_key) DO NOTHING
           RETURNING id""",
        row_id,
        at,
        temporary_failures,
        now,
    )
    return new_id


async def _add_note(conn: Conn, row_id: int, note: str) -> None:
    await conn.execute(
        """UPDATE outbox_messages
           SET error_message = left(coalesce(error_message || ' ', '') || '(' || $2 || ')', 1000)
           WHERE id = $1""",
        row_id,
        note,
    )


async def _requeue_window_refused(conn: Conn, row_id: int, now: datetime) -> asyncpg.Record | None:
    """A free-form message Twilio failed as outside the 24-hour window (63016) is queued again,
    once: the sender then uses the kind's template, or holds it until the recipient writes in."""
    record: asyncpg.Record | None = await conn.fetchrow(
        """UPDATE outbox_messages
           SET status = 'QUEUED', next_attempt_at = $2, updated_at = $2, window_refused_at = $2,
               twilio_sid = NULL
           WHERE id = $1 AND content_sid IS NULL AND window_refused_at IS NULL
             AND status IN ('FAILED', 'UNDELIVERED')
           RETURNING id, status""",
        row_id,
        now,
    )
    return record


async def keep_early_status_callback(conn: Conn, event: StatusEvent, now: datetime) -> None:
    """Keep a callback whose SID no message has yet, for `apply_early_status_callbacks`."""
    await conn.execute(
        """INSERT INTO early_status_callbacks
               (twilio_sid, status, error_code, error_message, received_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        event.twilio_sid,
        event.status.value,
        _cut(event.error_code, ERROR_CODE_CHARS),
        _cut(event.error_message, ERROR_MESSAGE_CHARS),
        now,
    )


async def apply_early_status_callbacks(conn: Conn, now: datetime, max_age: timedelta) -> int:
    """Apply the kept callbacks whose message now has its SID, as if they had just arrived
    (so never moving a status back); drop them, and those older than `max_age`. Returns how many
    were applied. Call it in a transaction."""
    records = await conn.fetch(
        """DELETE FROM early_status_callbacks e
           WHERE EXISTS (SELECT FROM outbox_messages o WHERE o.twilio_sid = e.twilio_sid)
              OR e.received_at < $1
           RETURNING e.twilio_sid, e.status, e.error_code, e.error_message""",
        now - max_age,
    )
    applied = 0
    for r in records:
        # One dropped for its age finds no message here, and changes nothing.
        event = StatusEvent(
            r["twilio_sid"], OutboxStatus(r["status"]), r["error_code"], r["error_message"]
        )
        applied += (await apply_status_callback(conn, event, now)).found
    return applied


async def mark_twilio_opt_out(
    conn: Conn,
    *,
    retailer_id: int | None,
    phone: str,
    code: str,
    message: str,
    reference: str,
    now: datetime,
) -> bool:
    """Twilio reported that the recipient opted out (21610) or blocked the business (63014): the
    retailer is marked opted out (no reminders until START) and `twilio_opted_out_at` (nothing at
    all until they write in), with an audit entry performed by `twilio`. Once per opt-out: a
    second report before they write in changes nothing. Call it in the transaction that records
    the failure. False when the number is not a retailer's, or it was already marked."""
    record = await conn.fetchrow(
        """WITH target AS (
               SELECT id, opted_out, twilio_opted_out_at, last_inbound_at FROM retailers
               WHERE id = $1 OR ($1::bigint IS NULL AND phone = $2)
               FOR UPDATE
           )
           UPDATE retailers r
           SET opted_out = TRUE, twilio_opted_out_at = $3,
               opted_out_at = CASE WHEN t.opted_out THEN r.opted_out_at ELSE $3 END
           FROM target t
           WHERE r.id = t.id
             AND (t.twilio_opted_out_at IS NULL OR t.last_inbound_at > t.twilio_opted_out_at)
           RETURNING r.id, t.opted_out AS was_opted_out""",
        retailer_id,
        phone,
        now,
    )
    if record is None:
        return False
    await insert_audit(
        conn,
        retailer_id=record["id"],
        action="OPTED_OUT",
        performed_by=TWILIO,
        at=now,
        reference=reference,
        old_value={"opted_out": record["was_opted_out"]},
        new_value={"opted_out": True},
        reason=f"Twilio error {code}: {message}"[:500],
    )
    return True
