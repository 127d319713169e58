"""TEMPORARY (issue 12, helper O): a stand-in for `apply_credit`, which the advances work
(issue 11, helper S) writes in `db/ledger/clearing.py` as docs/ADVANCES.md describes. It clears
open debits oldest first (a named debit first) and returns what is left; until the `advance`
column exists that rest is returned but not kept. Replaced by the real primitive when it lands.
"""

from __future__ import annotations

from datetime import datetime

from db.fragments import open_debit
from db.ledger.accounts import move_outstanding
from db.ledger.clearing import Allocation
from db.pool import Conn


async def apply_credit(
    conn: Conn, retailer_id: int, amount: int, now: datetime, *, first: int | None = None
) -> tuple[tuple[Allocation, ...], int]:
    """Clear the retailer's open debits with `amount` (debit `first` first, then oldest first);
    return the allocations and the part left over (the advance). The caller holds the account
    lock and writes the crediting row and its audit entry."""
    rows = await conn.fetch(
        f"""SELECT id, amount - cleared_amount AS unpaid FROM credit_transactions
            WHERE retailer_id = $1 AND {open_debit()}
            ORDER BY id <> coalesce($2, 0), txn_date, id""",
        retailer_id,
        first,
    )
    allocations: list[Allocation] = []
    left = amount
    for row in rows:
        if left == 0:
            break
        take = min(left, row["unpaid"])
        allocations.append(Allocation(row["id"], take))
        left -= take
    await conn.executemany(
        """UPDATE credit_transactions
           SET cleared_amount = cleared_amount + $2, cleared_at = $3,
               status = CASE WHEN cleared_amount + $2 = amount THEN 'CLEARED' ELSE 'PARTIAL' END
           WHERE id = $1""",
        [(a.transaction_id, a.amount, now) for a in allocations],
    )
    await move_outstanding(conn, retailer_id, -(amount - left), now)
    return tuple(allocations), left
