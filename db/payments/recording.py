"""`take`: a received amount recorded whole as a retailer's payment through the ledger (what it
clears nothing of becomes their advance), its receipt queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.messages import MessageKind, Renderer, Reply
from db import ledger
from db.errors import Conflict
from db.outbox import enqueue
from db.payments.received import Received
from db.pool import Conn


@dataclass(frozen=True)
class Taken:
    """What `take` did with a received amount. `status` is RECORDED or DUPLICATE (EXCESS is only
    on rows stored before the ledger kept advances: `take` no longer writes it)."""

    status: str
    retailer_id: int
    recorded: int  # the whole amount left of it (less what was refunded while it waited)
    payment_transaction_id: int | None
    duplicate_of: int | None
    outstanding_before: int
    outstanding_after: int
    to_advance: int = 0  # the part that cleared nothing and became the retailer's advance
    advance_after: int = 0
    resumed: bool = False  # a SYSTEM pause this payment lifted

    @property
    def cleared(self) -> int:
        """What the payment took off what was owed."""
        return self.recorded - self.to_advance


async def take(
    conn: Conn,
    received: Received,
    *,
    retailer_id: int,
    matched_by: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None = None,
    duplicate_of: int | None = None,
) -> Taken:
    """Record `received` (locked, UNMATCHED) as the retailer's payment, in the caller's
    transaction, and queue its receipt.

    The whole amount is recorded (`ledger.record_payment` with `as_advance`): it clears what is
    owed, oldest first, and what is above that becomes the retailer's advance (the money is
    theirs, and paid into their next orders); a SYSTEM pause whose overdue it pays is lifted
    with `tolerance` (the configured OVERDUE_TOLERANCE_PAISE, as the 11:00 run uses), in this
    transaction. `duplicate_of` (a payment already recorded with this reference), or the ledger
    finding one, records nothing: status DUPLICATE."""
    await ledger.lock_account(conn, retailer_id)
    balance = await conn.fetchrow(
        "SELECT outstanding, advance FROM credit_accounts WHERE retailer_id = $1", retailer_id
    )
    assert balance is not None  # the lock found the account
    before, advance_before = balance["outstanding"], balance["advance"]
    # What is left of it: a refund may have given part back while it waited for an operator (one
    # that gave back all of it made the row DISMISSED, so something is left here).
    available = received.amount - received.refunded
    taken = Taken(
        "DUPLICATE", retailer_id, 0, None, duplicate_of, before, before,
        advance_after=advance_before,
    )  # fmt: skip
    if duplicate_of is None:
        try:
            result = await ledger.record_payment(
                conn,
                retailer_id=retailer_id,
                amount=available,
                reference=received.reference,
                performed_by=performed_by,
                now=now,
                tz=tz,
                as_advance=True,
                tolerance=tolerance,
                notify_resumed=False,  # the receipt says credit is active again
            )
        except Conflict as exc:
            if exc.code != "DUPLICATE_REFERENCE":
                raise
            taken = Taken(
                "DUPLICATE", retailer_id, 0, None, int(exc.extra.get("paymentId") or 0) or None,
                before, before, advance_after=advance_before,
            )  # fmt: skip
        else:
            taken = Taken(
                "RECORDED", retailer_id, available, result.payment_id, None,
                result.outstanding_before, result.outstanding_after,
                to_advance=result.to_advance, advance_after=result.advance_after,
                resumed=result.resumed is not None,
            )  # fmt: skip
    await conn.execute(
        """UPDATE received_payments
           SET status = $2, retailer_id = $3, matched_by = $4, payment_transaction_id = $5,
               duplicate_of = $6, recorded_amount = $7, excess = 0, updated_at = $8
           WHERE id = $1""",
        received.id,
        taken.status,
        retailer_id,
        matched_by,
        taken.payment_transaction_id,
        taken.duplicate_of,
        taken.recorded,
        now,
    )
    if taken.status == "RECORDED":
        await _queue_receipt(conn, received, taken, now=now, renderer=renderer)
    return taken


def receipt_vars(name: str, received: Received, taken: Taken) -> dict[str, object]:
    """The `payment_received` template's variables: what arrived, what it cleared, what became
    advance (and the advance now), whether credit resumed, what is still owed."""
    return {
        "name": name,
        "amount": taken.recorded,
        "cleared": taken.cleared,
        "to_advance": taken.to_advance,
        "advance": taken.advance_after,
        "resumed": taken.resumed,
        "outstanding": taken.outstanding_after,
        "reference": received.reference or "",
        "source": received.source,
    }


async def _queue_receipt(
    conn: Conn, received: Received, taken: Taken, *, now: datetime, renderer: Renderer | None
) -> None:
    row = await conn.fetchrow(
        "SELECT phone, name, language FROM retailers WHERE id = $1", taken.retailer_id
    )
    assert row is not None
    await enqueue(
        conn,
        kind=MessageKind.PAYMENT_RECEIVED,
        reply=Reply("payment_received", receipt_vars(row["name"], received, taken)),
        to_phone=row["phone"],
        language=row["language"],
        dedupe_key=f"payment_received:{received.id}",
        now=now,
        retailer_id=taken.retailer_id,
        renderer=renderer,
    )
