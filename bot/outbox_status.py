"""An outbox row's status: the stored values, Twilio's statuses read as ours, and their order.

Delivery statuses never move backwards: the order is a table (`RANK`), and the SQL guard of the
status callback (`statuses_below`) is built from the same table as the pure rule
(`advance_status`), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


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
