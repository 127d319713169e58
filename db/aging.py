"""Per-retailer aging kept on `credit_accounts` (migrations 0002, 0021), and its recomputation.

A row's `aged_*`, `oldest_due_date` and `beyond_unpaid` were computed for the business day in
`aging_as_of` and stay exact through `aging_valid_until`: the day before the first of its open
debits crosses a boundary (falls due, passes 30, 60 or 90 days past due, or passes the account's
allowed days). Between those days nothing they sum changes bucket, so the figures are the same
for each of them. The ledger operations recompute a retailer's row after each change (in the
same transaction), the daily guardrails evaluation recomputes every row not exact for its day
(about one in twenty on a day: those whose debits crossed a boundary), and a trigger marks a row
stale when a debit changes behind the ledger's back. Readers use fresh rows (`FRESH`) as they
are and compute stale ones (`STALE`) from the open debits (`AGING_SELECT`), so answers are always
exact, before the day's refresh as after it.

Bucket boundaries match `bot.credit.aging_bucket`: days past due = today - due date; current
when not yet past due, then 1-30, 31-60, 61-90 and over 90 days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from db.fragments import beyond_allowed_days, open_debit
from db.pool import Conn

# The first day after $1 on which open debit `t` of account `ca` moves: from current to 1-30 days
# past due (due date + 1), to 31-60 (+ 31), to 61-90 (+ 61), to over 90 (+ 91), or into "beyond
# the allowed days" (txn_date + max_outstanding_days + 1); NULL when it has no move left.
# `least` ignores NULLs.
_NEXT_CROSSING = """least(
    CASE WHEN t.due_date + 1 > $1::date THEN t.due_date + 1
         WHEN t.due_date + 31 > $1::date THEN t.due_date + 31
         WHEN t.due_date + 61 > $1::date THEN t.due_date + 61
         WHEN t.due_date + 91 > $1::date THEN t.due_date + 91 END,
    CASE WHEN t.txn_date + ca.max_outstanding_days + 1 > $1::date
         THEN t.txn_date + ca.max_outstanding_days + 1 END)"""

# Columns per retailer from its open debits, as of $1 (the business day). `{where}` filters
# credit_accounts (alias ca).
AGING_SELECT = f"""
    SELECT ca.retailer_id, ca.credit_limit, ca.outstanding,
           coalesce(sum(t.amount - t.cleared_amount)
                    FILTER (WHERE t.due_date >= $1::date), 0)::bigint AS aged_current,
           coalesce(sum(t.amount - t.cleared_amount)
                    FILTER (WHERE t.due_date < $1::date
                              AND t.due_date >= $1::date - 30), 0)::bigint AS aged_1_30,
           coalesce(sum(t.amount - t.cleared_amount)
                    FILTER (WHERE t.due_date < $1::date - 30
                              AND t.due_date >= $1::date - 60), 0)::bigint AS aged_31_60,
           coalesce(sum(t.amount - t.cleared_amount)
                    FILTER (WHERE t.due_date < $1::date - 60
                              AND t.due_date >= $1::date - 90), 0)::bigint AS aged_61_90,
           coalesce(sum(t.amount - t.cleared_amount)
                    FILTER (WHERE t.due_date < $1::date - 90), 0)::bigint AS aged_90_plus,
           min(t.due_date) AS oldest_due_date,
           coalesce(sum(t.amount - t.cleared_amount)
                    FILTER (WHERE {beyond_allowed_days("$1")}),
                    0)::bigint AS beyond_unpaid,
           -- the last day these figures hold: the day before the first boundary an open debit
           -- crosses after $1 (no open debit: until a change, which recomputes the row)
           coalesce(min({_NEXT_CROSSING}) - 1, DATE 'infinity') AS valid_until
    FROM credit_accounts ca
    LEFT JOIN credit_transactions t
           ON t.retailer_id = ca.retailer_id
          AND {open_debit("t")}
    WHERE {{where}}
    GROUP BY ca.retailer_id
"""

# Accounts owing something whose stored aging holds for day $1, and those whose does not (few
# on any day). Each is the other's complement: `aging_valid_until` is '-infinity' while
# `aging_as_of` is NULL (until the row is first aged, and whenever it is marked stale; a trigger
# of migration 0021 keeps it so). Written on the expression of credit_accounts_aging_valid_idx,
# which is NULL for accounts owing nothing, so the planner's estimates count only accounts owing
# something (a partial index's predicate would not inform them) and both read that index alone.
VALID_UNTIL = "(CASE WHEN ca.outstanding > 0 THEN ca.aging_valid_until END)"
FRESH = f"{VALID_UNTIL} >= $1::date AND ca.aging_as_of <= $1::date"
STALE = f"({VALID_UNTIL} < $1::date OR (ca.outstanding > 0 AND ca.aging_as_of > $1::date))"

_REFRESH = f"""
    WITH s AS ({AGING_SELECT.format(where="ca.retailer_id = any($2::bigint[])")})
    UPDATE credit_accounts ca
    SET aging_as_of = $1, aged_current = s.aged_current, aged_1_30 = s.aged_1_30,
        aged_31_60 = s.aged_31_60, aged_61_90 = s.aged_61_90, aged_90_plus = s.aged_90_plus,
        oldest_due_date = s.oldest_due_date, beyond_unpaid = s.beyond_unpaid,
        aging_valid_until = s.valid_until
    FROM s WHERE ca.retailer_id = s.retailer_id
"""

BATCH = 5000


async def refresh_aging(conn: Conn, today: date, retailer_ids: Sequence[int]) -> None:
    """Recompute these retailers' aging as of `today` (call it inside the ledger change's
    transaction, after the change, with the account rows locked)."""
    await conn.execute(_REFRESH, today, list(retailer_ids))


# Locks the batch's accounts that are still stale, in id order (so two refreshes at once cannot
# deadlock; the ledger operations hold one account each). In READ COMMITTED a row found locked
# is waited for and then checked again, so an account a payment aged meanwhile drops out here.
_LOCK_STALE = f"""
    SELECT retailer_id FROM credit_accounts ca
    WHERE ca.retailer_id = any($2::bigint[]) AND {STALE}
    ORDER BY retailer_id
    FOR UPDATE
"""


async def refresh_stale_aging(conn: Conn, today: date) -> int:
    """Recompute every account whose stored aging does not hold for `today`, in batches of their own transactions
    (so accounts are locked briefly); return how many were recomputed.

    Lock, then compute: each batch first locks its accounts (as the ledger operations do), and
    only then ages them, in a later statement of the same transaction, whose snapshot includes
    every change committed before the locks were granted. A payment that held an account while
    the refresh waited is therefore in the figures written; computing first and waiting in the
    UPDATE would write the aging from before the payment, stamped as fresh. Needs READ COMMITTED
    (the default; a REPEATABLE READ caller would keep its older snapshot).
    """
    ids = [
        r["retailer_id"]
        for r in await conn.fetch(
            f"SELECT retailer_id FROM credit_accounts ca WHERE {STALE} ORDER BY retailer_id",
            today,
        )
    ]
    refreshed = 0
    for start in range(0, len(ids), BATCH):
        async with conn.transaction():
            locked = [
                r["retailer_id"]
                for r in await conn.fetch(_LOCK_STALE, today, ids[start : start + BATCH])
            ]
            if locked:
                await conn.execute(_REFRESH, today, locked)
            refreshed += len(locked)
    return refreshed
