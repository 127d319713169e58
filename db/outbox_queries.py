"""Queries of the outbox sender (the status callbacks' are in `db.outbox_callbacks`). The
caller owns the transaction.

A claimed row is SENDING with a lease: its `next_attempt_at` holds the lease's end, and
`attempts` counts the claim. If the sender dies, `requeue_expired_leases` puts the row back in the
queue; a sender that finishes late finds its claim gone (`attempts` moved on) and records nothing
but the SID Twilio gave it, if any (`record_orphan_sid`). Just before it posts, a sender renews
its lease and checks it still holds the claim (`hold_claim`): it never posts a row that is no
longer its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bot.messages import MessageKind
from bot.outbox_status import OutboxStatus
from bot.sending import NO_TEMPLATE, Recipient
from db.pool import Conn


@dataclass(frozen=True)
class OutboxRow:
    id: int
    retailer_id: int | None
    to_phone: str
    kind: str
    language: str
    template: str
    body: str
    variables: Any
    status: str
    twilio_sid: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    next_attempt_at: datetime
    dedupe_key: str
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime
    window_refused_at: datetime | None = None
    temporary_failures: int = 0
    unconfirmed_since: datetime | None = None
    retry_of: int | None = None
    quiet_until: datetime | None = None  # held for quiet hours until then (`bot.quiet_hours`)
    # The Content SID of the latest attempt (None: free-form), written just before it is posted,
    # so a lookup after an unconfirmed attempt knows what it sent.
    content_sid: str | None = None


_COLUMNS = """id, retailer_id, to_phone, kind, language, template, body, variables, status,
    twilio_sid, error_code, error_message, attempts, next_attempt_at, dedupe_key, created_at,
    sent_at, updated_at, window_refused_at, temporary_failures, unconfirmed_since, retry_of,
    quiet_until, content_sid"""


def _row(record: asyncpg.Record) -> OutboxRow:
    return OutboxRow(**dict(record))


async def requeue_expired_leases(conn: Conn, now: datetime) -> int:
    """SENDING rows whose lease ended (their sender died) go back to QUEUED; return how many.
    Their sender may have died after Twilio took the message: they are marked unconfirmed since
    the claim (`updated_at`), so the next attempt looks the message up before sending."""
    result: str = await conn.execute(
        """UPDATE outbox_messages
           SET status = 'QUEUED', next_attempt_at = $1, updated_at = $1,
               unconfirmed_since = coalesce(unconfirmed_since, updated_at)
           WHERE status = 'SENDING' AND next_attempt_at <= $1""",
        now,
    )
    return int(result.split()[-1])


async def release_held(
    conn: Conn,
    now: datetime,
    *,
    template_kinds: Sequence[str],
    window: timedelta,
    max_age: timedelta,
) -> int:
    """HELD rows (no Content SID) that became sendable go back to the queue: the recipient wrote
    in since (the 24-hour window is open; after Twilio refused the window, since that refusal)
    or the kind now has a template. Only rows younger than `max_age`, so an old notice is not
    delivered days late."""
    result: str = await conn.execute(
        """UPDATE outbox_messages o
           SET status = 'QUEUED', next_attempt_at = $1, updated_at = $1
           WHERE o.status = 'HELD' AND o.error_code = $5 AND o.created_at > $4
             AND (o.kind = any($2::text[]) OR o.kind || ':' || o.language = any($2::text[])
                  OR EXISTS (SELECT 1 FROM retailers r
                             WHERE r.id = o.retailer_id
                               AND r.last_inbound_at > greatest($3, o.window_refused_at))
                  OR EXISTS (SELECT 1 FROM inbound_messages m
                             WHERE m.phone = o.to_phone
                               AND m.received_at > greatest($3, o.window_refused_at)))""",
        now,
        list(template_kinds),
        now - window,
        now - max_age,
        NO_TEMPLATE,
    )
    return int(result.split()[-1])


async def claim_due(
    conn: Conn, *, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxRow]:
    """Lease up to `limit` due QUEUED rows to this sender, in the order they fell due (then by
    id); others skip them."""
    if limit <= 0:
        return []
    records = await conn.fetch(
        f"""WITH due AS (
               SELECT id, next_attempt_at AS due_at FROM outbox_messages
               WHERE status = 'QUEUED' AND next_attempt_at <= $1
               ORDER BY next_attempt_at, id
               LIMIT $3
               FOR UPDATE SKIP LOCKED
           )
           UPDATE outbox_messages o
           SET status = 'SENDING', attempts = o.attempts + 1, next_attempt_at = $2, updated_at = $1
           FROM due WHERE o.id = due.id
           RETURNING due.due_at, {", ".join("o." + c.strip() for c in _COLUMNS.split(","))}""",
        now,
        lease_until,
        limit,
    )
    # RETURNING gives the rows in no set order, and their next_attempt_at is now the lease's end.
    ordered = sorted(records, key=lambda r: (r["due_at"], r["id"]))
    return [_row_without(r, "due_at") for r in ordered]


def _row_without(record: asyncpg.Record, *names: str) -> OutboxRow:
    values = dict(record)
    for name in names:
        del values[name]
    return OutboxRow(**values)


async def hold_claim(
    conn: Conn, claim: OutboxRow, *, content_sid: str | None, lease_until: datetime, now: datetime
) -> bool:
    """Just before posting `claim`: renew its lease to `lease_until` and note the Content SID the
    attempt sends (None: free-form); False when the claim is no longer ours (its lease ran out
    and another sender re-queued or took it), and then it must not be posted."""
    result: str = await conn.execute(
        """UPDATE outbox_messages
           SET next_attempt_at = $3, content_sid = $4, updated_at = $5
           WHERE id = $1 AND status = 'SENDING' AND attempts = $2""",
        claim.id,
        claim.attempts,
        lease_until,
        content_sid,
        now,
    )
    return result.endswith(" 1")


async def release_claims(conn: Conn, claims: Sequence[OutboxRow], now: datetime) -> int:
    """Give back claimed rows that were not tried (the sender is stopping)."""
    if not claims:
        return 0
    result: str = await conn.execute(
        """UPDATE outbox_messages o
           SET status = 'QUEUED', attempts = o.attempts - 1, next_attempt_at = $3, updated_at = $3
           FROM unnest($1::bigint[], $2::int[]) AS c(id, attempts)
           WHERE o.id = c.id AND o.status = 'SENDING' AND o.attempts = c.attempts""",
        [c.id for c in claims],
        [c.attempts for c in claims],
        now,
    )
    return int(result.split()[-1])


async def wait_for_quiet_end(conn: Conn, claim: OutboxRow, until: datetime, now: datetime) -> bool:
    """Give a claimed row back to wait for quiet hours to end at `until` (not counted as an
    attempt); False when the claim was lost meanwhile."""
    result: str = await conn.execute(
        """UPDATE outbox_messages
           SET status = 'QUEUED', attempts = attempts - 1, next_attempt_at = $3,
               quiet_until = $3, updated_at = $4
           WHERE id = $1 AND status = 'SENDING' AND attempts = $2""",
        claim.id,
        claim.attempts,
        until,
        now,
    )
    return result.endswith(" 1")


async def get_recipient(conn: Conn, row: OutboxRow, now: datetime) -> Recipient:
    """What decides how to send `row`, read just before sending it.

    The window opens with the recipient's last inbound message: `retailers.last_inbound_at`, or
    for a number that is not a retailer (an admin, a test message) its latest inbound message.
    For a payment reminder, `unpaid_now` is what each debit it lists (by `transaction_id`) still
    owes and `still_due` whether any does, or, when it lists none, whether the retailer owes
    anything at all. For a checkout follow-up, `checkout_open` is whether its pending order is
    still PENDING and unexpired at `now`, and the retailer has not written since it was queued. `twilio_opted_out`: Twilio reported an opt-out or a
    block and the recipient has not written in since. `earlier_delivered`: for a row sending
    again a failed message (`retry_of`, the first row of the chain), whether one of its rows was
    reported delivered after all.
    """
    record = await conn.fetchrow(
        """SELECT r.id AS retailer_id, r.opted_out, r.last_inbound_at, r.twilio_opted_out_at,
                  a.outstanding,
                  (SELECT max(received_at) FROM inbound_messages m WHERE m.phone = $2)
                      AS last_message_at,
                  $3::bigint IS NOT NULL AND EXISTS (
                      SELECT 1 FROM outbox_messages e
                      WHERE (e.id = $3 OR e.retry_of = $3) AND e.id <> $4
                        AND e.status IN ('DELIVERED', 'READ')) AS earlier_delivered
           FROM (SELECT 1) AS one
           LEFT JOIN retailers r ON r.id = $1 OR ($1::bigint IS NULL AND r.phone = $2)
           LEFT JOIN credit_accounts a ON a.retailer_id = r.id""",
        row.retailer_id,
        row.to_phone,
        row.retry_of,
        row.id,
    )
    assert record is not None
    seen = [t for t in (record["last_inbound_at"], record["last_message_at"]) if t is not None]
    blocked_at = record["twilio_opted_out_at"]
    still_due: bool | None = None
    unpaid_now: dict[int, int] | None = None
    checkout_open: bool | None = None
    if row.kind == MessageKind.PAYMENT_REMINDER and record["retailer_id"] is not None:
        ids = _transaction_ids(row.variables)
        if ids:
            open_rows = await conn.fetch(
                """SELECT id, amount - cleared_amount AS unpaid FROM credit_transactions
                   WHERE id = any($1::bigint[]) AND retailer_id = $2
                     AND status IN ('OPEN', 'PARTIAL')""",
                ids,
                record["retailer_id"],
            )
            unpaid_now = {r["id"]: r["unpaid"] for r in open_rows if r["unpaid"] > 0}
            still_due = bool(unpaid_now)
        elif record["outstanding"] is not None:
            still_due = record["outstanding"] > 0
    pending_id = row.variables.get("pending_order_id") if isinstance(row.variables, dict) else None
    if row.kind == MessageKind.PENDING_ORDER_FOLLOW_UP and isinstance(pending_id, int):
        # A message of theirs since it was queued overtook it: they came back by themselves,
        # and a follow-up arriving after that would make their next "haan" ambiguous.
        wrote_since = record["last_inbound_at"] is not None and (
            record["last_inbound_at"] > row.created_at
        )
        checkout_open = not wrote_since and bool(
            await conn.fetchval(
                """SELECT EXISTS (SELECT 1 FROM pending_orders
                   WHERE id = $1 AND status = 'PENDING' AND expires_at > $2)""",
                pending_id,
                now,
            )
        )
    return Recipient(
        last_inbound_at=max(seen) if seen else None,
        opted_out=bool(record["opted_out"]),
        still_due=still_due,
        unpaid_now=unpaid_now,
        checkout_open=checkout_open,
        twilio_opted_out=blocked_at is not None and not any(t > blocked_at for t in seen),
        earlier_delivered=bool(record["earlier_delivered"]),
    )


async def refresh_content(conn: Conn, claim: OutboxRow, body: str, variables: Any) -> None:
    """The text (and template variables) of a claimed row, made true at sending time."""
    await conn.execute(
        """UPDATE outbox_messages SET body = $3, variables = $4
           WHERE id = $1 AND status = 'SENDING' AND attempts = $2""",
        claim.id,
        claim.attempts,
        body,
        variables,
    )


def _transaction_ids(variables: Any) -> list[int]:
    items = variables.get("items") if isinstance(variables, dict) else None
    ids: list[int] = []
    for item in items if isinstance(items, list) else []:
        tid = item.get("transaction_id") if isinstance(item, dict) else None
        if isinstance(tid, int) and not isinstance(tid, bool):
            ids.append(tid)
    return ids


async def mark_accepted(
    conn: Conn,
    claim: OutboxRow,
    *,
    twilio_sid: str | None,
    status: OutboxStatus,
    content_sid: str | None,
    now: datetime,
    note: str | None = None,
) -> bool:
    """Record Twilio's acceptance of our claim; False when the claim was lost meanwhile."""
    result: str = await conn.execute(
        """UPDATE outbox_messages
           SET status = $3, twilio_sid = $4, content_sid = $5, sent_at = $6, updated_at = $6,
               error_code = NULL, error_message = $7, unconfirmed_since = NULL
           WHERE id = $1 AND status = 'SENDING' AND attempts = $2""",
        claim.id,
        claim.attempts,
        status.value,
        twilio_sid,
        content_sid,
        now,
        note,
    )
    return result.endswith(" 1")


@dataclass(frozen=True)
class OrphanSid:
    """Where `record_orphan_sid` put a SID: on the row itself, already there, or on a copy."""

    row_id: int
    placed: str  # "row", "already", "copy"


async def record_orphan_sid(
    conn: Conn,
    claim: OutboxRow,
    *,
    twilio_sid: str,
    status: OutboxStatus,
    content_sid: str | None,
    now: datetime,
) -> OrphanSid:
    """Twilio accepted `claim`'s message after the claim was lost (its lease ran out during the
    send): the SID is still recorded, never dropped. On the row when it has no SID and was not
    handed over since (re-queued, taken by another sender that has not posted yet: that one then
    finds the row no longer SENDING and does not post); else, unless the row has this very SID,
    on a new row copying the message (`retry_of` the first of its chain, error_code
    `DUPLICATE`), so its status callbacks land and an operator sees the second send."""
    note = "accepted by Twilio after this attempt's lease had passed"
    placed = await conn.fetchval(
        """UPDATE outbox_messages
           SET status = $2, twilio_sid = $3, content_sid = $4, sent_at = $5, updated_at = $5,
               error_code = NULL, error_message = $6, unconfirmed_since = NULL
           WHERE id = $1 AND twilio_sid IS NULL AND status IN ('QUEUED', 'SENDING', 'HELD')
           RETURNING id""",
        claim.id,
        status.value,
        twilio_sid,
        content_sid,
        now,
        note,
    )
    if placed is not None:
        return OrphanSid(claim.id, "row")
    copy_id = await conn.fetchval(
        """INSERT INTO outbox_messages (retailer_id, to_phone, kind, language, template, body,
               variables, content_sid, status, twilio_sid, error_code, error_message, attempts,
               dedupe_key, next_attempt_at, created_at, sent_at, updated_at, retry_of)
           SELECT retailer_id, to_phone, kind, language, template, body, variables, $4, $3, $2,
                  'DUPLICATE', left('a second copy of #' || id || ', ' || $6, 1000), 1,
                  dedupe_key || ':copy:' || $2, $5, $5, $5, $5, coalesce(retry_of, id)
           FROM outbox_messages
           WHERE id = $1 AND twilio_sid IS DISTINCT FROM $2
             AND NOT EXISTS (SELECT 1 FROM outbox_messages WHERE twilio_sid = $2)
           ON CONFLICT DO NOTHING
           RETURNING id""",
        claim.id,
        twilio_sid,
        status.value,
        content_sid,
        now,
        note,
    )
    if copy_id is None:
        return OrphanSid(claim.id, "already")
    return OrphanSid(copy_id, "copy")


async def mark_unsent(
    conn: Conn,
    claim: OutboxRow,
    *,
    status: OutboxStatus,
    error_code: str,
    error_message: str,
    now: datetime,
    next_attempt_at: datetime | None = None,
    window_refused: bool = False,
    temporary: bool = False,
    unconfirmed_since: datetime | None = None,
) -> bool:
    """Record a claim that did not reach the recipient: re-queued, held or failed.

    `window_refused`: Twilio refused it as outside the 24-hour window; remembered (as of `now`)
    so that it goes out with the kind's template, or is held until the recipient writes in,
    instead of being refused again. `temporary`: one more failure Twilio calls temporary, counted.
    `unconfirmed_since`: Twilio may have the message from an attempt begun then (an earlier
    such time is kept); None: it is known not to (the mark is cleared)."""
    result: str = await conn.execute(
        """UPDATE outbox_messages
           SET status = $3, error_code = $4, error_message = $5,
               next_attempt_at = coalesce($6, next_attempt_at), updated_at = $7,
               window_refused_at = CASE WHEN $8 THEN $7 ELSE window_refused_at END,
               temporary_failures = temporary_failures + $9::int,
               unconfirmed_since = CASE WHEN $10::timestamptz IS NULL THEN NULL
                                        ELSE coalesce(unconfirmed_since, $10) END
           WHERE id = $1 AND status = 'SENDING' AND attempts = $2""",
        claim.id,
        claim.attempts,
        status.value,
        error_code,
        error_message[:1000],
        next_attempt_at,
        now,
        window_refused,
        int(temporary),
        unconfirmed_since,
    )
    return result.endswith(" 1")


async def mark_reminder_sent(conn: Conn, claim: OutboxRow, at: datetime) -> int:
    """A payment reminder was handed to Twilio: its debits' `reminder_sent_at` and
    `reminder_count` move on, once per message (not again for a row sending it again, nor for one
    already handed over before). Call it in the transaction of `mark_accepted`; returns how many
    debits were counted."""
    if claim.kind != MessageKind.PAYMENT_REMINDER or claim.sent_at is not None or claim.retry_of:
        return 0
    ids = _transaction_ids(claim.variables)
    if not ids or claim.retailer_id is None:
        return 0
    result: str = await conn.execute(
        """UPDATE credit_transactions
           SET reminder_sent_at = $3, reminder_count = reminder_count + 1
           WHERE id = any($1::bigint[]) AND retailer_id = $2""",
        ids,
        claim.retailer_id,
        at,
    )
    return int(result.split()[-1])


async def known_sids(conn: Conn, sids: Sequence[str]) -> set[str]:
    """Which of these Twilio SIDs are already recorded on an outbox row."""
    rows = await conn.fetch(
        "SELECT twilio_sid FROM outbox_messages WHERE twilio_sid = any($1::text[])", list(sids)
    )
    return {r["twilio_sid"] for r in rows}


async def get_outbox_row(conn: Conn, row_id: int) -> OutboxRow | None:
    record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM outbox_messages WHERE id = $1", row_id)
    return _row(record) if record is not None else None


async def list_outbox(
    conn: Conn,
    *,
    status: str | None = None,
    retailer_id: int | None = None,
    to_phone: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[OutboxRow]:
    """Newest first (by id: rows are numbered as they are queued), optionally of one status,
    one retailer or one number; `before_id` pages on (rows numbered below it)."""
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM outbox_messages
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::bigint IS NULL OR retailer_id = $2)
              AND ($3::text IS NULL OR to_phone = $3)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC LIMIT $5""",
        status,
        retailer_id,
        to_phone,
        before_id,
        limit,
    )
    return [_row(r) for r in records]


@dataclass(frozen=True)
class OutboxDepth:
    """The outbox as the sender sees it: rows waiting by status (QUEUED, SENDING, HELD) and how
    long the oldest QUEUED row has been due (0 when none is)."""

    by_status: dict[str, int]
    oldest_due_age_seconds: float


async def get_outbox_depth(conn: Conn, now: datetime) -> OutboxDepth:
    """One round trip, each part over a partial index of its status (never the sent history)."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM outbox_messages WHERE status = 'QUEUED') AS queued,
                  (SELECT count(*) FROM outbox_messages WHERE status = 'SENDING') AS sending,
                  (SELECT count(*) FROM outbox_messages WHERE status = 'HELD') AS held,
                  (SELECT min(next_attempt_at) FROM outbox_messages
                    WHERE status = 'QUEUED' AND next_attempt_at <= $1) AS oldest_due""",
        now,
    )
    assert row is not None
    oldest: datetime | None = row["oldest_due"]
    return OutboxDepth(
        by_status={
            OutboxStatus.QUEUED: row["queued"],
            OutboxStatus.SENDING: row["sending"],
            OutboxStatus.HELD: row["held"],
        },
        oldest_due_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )
