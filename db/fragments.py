"""SQL fragments that the ledger and its readers share, each written once.

They are spliced into query text when a module builds its queries (constants, never user input),
so every reader of "open debit", "unpaid beyond the allowed days" and "move the outstanding" says
it the same way. Aliases follow the queries that use them: `t` = credit_transactions and
`ca` = credit_accounts.

This module imports nothing from `db`: `db.aging` and the other readers import it, and the ledger
package imports them, so it cannot live inside `db.ledger` without a cycle.
"""

from __future__ import annotations


def open_debit(alias: str = "") -> str:
    """WHERE condition: a debit still owed (an order or a debit adjustment, OPEN or PARTIAL) on
    credit_transactions, qualified by `alias` when given. Written as the partial indexes
    credit_transactions_open_debits_idx and credit_transactions_reminded_idx state it."""
    col = f"{alias}." if alias else ""
    return f"{col}status IN ('OPEN', 'PARTIAL') AND {col}direction = 'DEBIT'"


def beyond_allowed_days(day: str) -> str:
    """WHERE condition: debit `t` is dated more than its account `ca`'s max_outstanding_days
    before the business day `day` (a query parameter such as "$1"), as
    `bot.credit.is_beyond_max_days` counts it."""
    return f"t.txn_date < {day}::date - ca.max_outstanding_days"


def overdue_unpaid(day: str) -> str:
    """Expression: unpaid paise on account `ca`'s open debits beyond its allowed days as of the
    business day `day` (a query parameter): the order verdict's `overdue_unpaid`."""
    return f"""COALESCE((SELECT sum(t.amount - t.cleared_amount)
              FROM credit_transactions t
              WHERE t.retailer_id = ca.retailer_id
                AND {open_debit("t")}
                AND {beyond_allowed_days(day)}), 0)::bigint"""


def outstanding_update(retailer: str, delta: str, at: str) -> str:
    """Statement: move the running outstanding of account `retailer` by `delta` paise (signed;
    clearing passes a negative amount) and stamp `updated_at` with `at`; all three are query
    parameters. A caller may add conditions (`AND ...`) and a RETURNING clause."""
    return (
        f"UPDATE credit_accounts SET outstanding = outstanding + {delta}, updated_at = {at}"
        f" WHERE retailer_id = {retailer}"
    )


def live_override(day: str) -> str:
    """Expression: account `ca`'s override of the overdue rule if it still holds on the business
    day `day` (a query parameter), else NULL (`bot.credit.override_live`: through its last day)."""
    return f"CASE WHEN ca.overdue_override_until >= {day}::date THEN ca.overdue_override_until END"


def balance_update(retailer: str, owed_delta: str, advance_delta: str, at: str) -> str:
    """Statement: move account `retailer`'s outstanding by `owed_delta` and its advance by
    `advance_delta` paise (signed), stamping `updated_at` with `at`; all query parameters or
    expressions of them. The CHECKs keep both non-negative and never both above zero."""
    return (
        f"UPDATE credit_accounts SET outstanding = outstanding + {owed_delta},"
        f" advance = advance + {advance_delta}, updated_at = {at}"
        f" WHERE retailer_id = {retailer}"
    )
