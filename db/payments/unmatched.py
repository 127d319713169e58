"""An operator's decision on received money nobody was matched to: `assign` it to a retailer
(learning their UPI address from a bank line) or `dismiss` it; and a retailer's UPI address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.bank import BankLine, clues_in
from bot.messages import Renderer
from bot.payments.pay import InvalidVpa, normalize_vpa, vpa_or_none
from db.audit import insert_audit
from db.errors import Conflict, Unprocessable, retailer_not_found
from db.payments.received import BANK, Received, lock_received
from db.payments.recording import Taken, take
from db.pool import Conn


@dataclass(frozen=True)
class Assigned:
    received: Received
    taken: Taken
    vpa_learned: str | None


async def _lock_unmatched(conn: Conn, received_id: int) -> Received:
    """The row, locked; Conflict NOT_UNMATCHED when an operator or a refund settled it."""
    received = await lock_received(conn, received_id)
    if received.status != "UNMATCHED":
        raise Conflict(
            "NOT_UNMATCHED",
            f"received payment {received_id} is {received.status}, not UNMATCHED",
            currentStatus=received.status,
        )
    return received


async def assign(
    conn: Conn,
    received_id: int,
    retailer_id: int,
    *,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None = None,
) -> Assigned:
    """An operator says whose an UNMATCHED row is: it is recorded for them like a match (what
    it clears nothing of becomes their advance; a SYSTEM pause it pays is lifted with
    `tolerance`), audited under the operator. A bank line naming exactly one
    UPI address teaches it to a retailer who has none, so their next transfer matches alone."""
    async with conn.transaction():
        received = await _lock_unmatched(conn, received_id)
        exists = await conn.fetchval("SELECT 1 FROM retailers WHERE id = $1", retailer_id)
        if exists is None:
            raise retailer_not_found(retailer_id)
        duplicate_of = None
        if received.reference:
            duplicate_of = await conn.fetchval(
                """SELECT id FROM credit_transactions
                   WHERE retailer_id = $1 AND type = 'PAYMENT'
                     AND norm_key(reference) = norm_key($2)""",
                retailer_id,
                received.reference,
            )
        taken = await take(
            conn, received, retailer_id=retailer_id, matched_by="operator",
            performed_by=performed_by, now=now, tz=tz, tolerance=tolerance, renderer=renderer,
            duplicate_of=duplicate_of,
        )  # fmt: skip
        await conn.execute(
            "UPDATE received_payments SET resolved_by = $2, resolved_at = $3 WHERE id = $1",
            received.id,
            performed_by,
            now,
        )
        learned = await _learn_vpa(conn, received, retailer_id, performed_by, now)
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="RECEIVED_PAYMENT_ASSIGNED",
            reference=f"received:{received.id}",
            old_value={"status": "UNMATCHED"},
            new_value={
                "status": taken.status,
                "amount": received.amount,
                "recorded": taken.recorded,
                "toAdvance": taken.to_advance,
                "paymentTransactionId": taken.payment_transaction_id,
            },
            performed_by=performed_by,
            at=now,
        )
        fresh = await lock_received(conn, received.id)
    return Assigned(fresh, taken, learned)


async def _learn_vpa(
    conn: Conn, received: Received, retailer_id: int, performed_by: str, now: datetime
) -> str | None:
    if received.source != BANK:
        return None
    line = BankLine(0, received.received_on, received.amount, received.narration, None)
    vpas = clues_in(line).vpas
    vpa = vpa_or_none(vpas[0]) if len(vpas) == 1 else None
    if vpa is None:
        return None
    taken = await conn.fetchval(
        "SELECT 1 FROM retailers WHERE vpa = $1 OR (id = $2 AND vpa IS NOT NULL)", vpa, retailer_id
    )
    if taken:
        return None
    await set_vpa(conn, retailer_id, vpa, performed_by=performed_by, now=now)
    return vpa


async def dismiss(
    conn: Conn, received_id: int, *, reason: str, performed_by: str, now: datetime
) -> Received:
    """An operator says an UNMATCHED row is no retailer's payment (a settlement, a refund)."""
    async with conn.transaction():
        await _lock_unmatched(conn, received_id)
        await conn.execute(
            """UPDATE received_payments SET status = 'DISMISSED', note = $2, resolved_by = $3,
                   resolved_at = $4, updated_at = $4
               WHERE id = $1""",
            received_id,
            reason,
            performed_by,
            now,
        )
        return await lock_received(conn, received_id)


async def set_vpa(
    conn: Conn, retailer_id: int, vpa: str | None, *, performed_by: str, now: datetime
) -> str | None:
    """Set (or clear, with None) a retailer's UPI address, audited; Conflict when another
    retailer has it, Unprocessable when it is not a UPI address."""
    if vpa is not None:
        try:
            vpa = normalize_vpa(vpa)
        except InvalidVpa:
            raise Unprocessable(
                "INVALID_FIELD", "vpa is not a UPI address like name@bank"
            ) from None
    async with conn.transaction():
        old = await conn.fetchrow("SELECT vpa FROM retailers WHERE id = $1 FOR UPDATE", retailer_id)
        if old is None:
            raise retailer_not_found(retailer_id)
        owner = vpa and await conn.fetchval(
            "SELECT id FROM retailers WHERE vpa = $1 AND id <> $2", vpa, retailer_id
        )
        if owner:
            raise Conflict(
                "VPA_TAKEN", f"{vpa} is retailer {owner}'s UPI address", retailerId=owner
            )
        await conn.execute("UPDATE retailers SET vpa = $2 WHERE id = $1", retailer_id, vpa)
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="VPA_CHANGED",
            reference=f"retailer:{retailer_id}",
            old_value={"vpa": old["vpa"]},
            new_value={"vpa": vpa},
            performed_by=performed_by,
            at=now,
        )
    return vpa
