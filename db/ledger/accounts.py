"""The account primitives every ledger operation uses: the per-retailer lock, the verdict's facts,
the retailer's contact, the running outstanding, one writer of credit_transactions rows, and the
checks on an operation's input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import asyncpg

from bot.credit import CreditFacts, CreditStatus, Direction
from bot.limits import max_length
from bot.phone import InvalidPhone, looks_like_phone, normalize_phone
from bot.text import is_digits
from db.errors import Unprocessable, retailer_not_found
from db.fragments import balance_update, live_override, outstanding_update, overdue_unpaid
from db.pool import Conn

# --- facts and locking ----------------------------------------------------------------------

# What `credit_facts_from_row` reads, with `r` = retailers and `ca` = credit_accounts ($2: the
# business day): every reader of the order verdict's inputs selects exactly these.
CREDIT_FACTS_COLUMNS = f"""
    r.credit_status, r.paused_by, ca.credit_limit, ca.outstanding, ca.advance,
    ca.max_order_value, ca.max_outstanding_days, ca.payment_terms_days,
    {overdue_unpaid("$2")} AS overdue_unpaid, {live_override("$2")} AS override_until
"""


async def lock_account(conn: Conn, retailer_id: int) -> None:
    """Lock the retailer's credit account row (the per-retailer mutex); NotFound when none."""
    found = await conn.fetchval(
        "SELECT retailer_id FROM credit_accounts WHERE retailer_id = $1 FOR UPDATE", retailer_id
    )
    if found is None:
        raise retailer_not_found(retailer_id)


async def get_credit_facts(conn: Conn, retailer_id: int, today: date) -> CreditFacts | None:
    """What the order verdict needs, as of business day `today`; None for an unknown retailer."""
    row = await conn.fetchrow(
        f"""SELECT {CREDIT_FACTS_COLUMNS}
            FROM credit_accounts ca JOIN retailers r ON r.id = ca.retailer_id
            WHERE ca.retailer_id = $1""",
        retailer_id,
        today,
    )
    return None if row is None else credit_facts_from_row(row)


def credit_facts_from_row(row: asyncpg.Record) -> CreditFacts:
    """CreditFacts from a row that selected CREDIT_FACTS_COLUMNS."""
    return CreditFacts(
        status=CreditStatus(row["credit_status"]),
        credit_limit=row["credit_limit"],
        outstanding=row["outstanding"],
        max_order_value=row["max_order_value"],
        max_outstanding_days=row["max_outstanding_days"],
        payment_terms_days=row["payment_terms_days"],
        overdue_unpaid=row["overdue_unpaid"],
        advance=row["advance"],
        override_until=row["override_until"],
        paused_by=row["paused_by"],
    )


# --- addressing -----------------------------------------------------------------------------


async def resolve_retailer(conn: Conn, ref: str) -> int | None:
    """A retailer's id from an id (`42`) or a phone number in any spelling normalize_phone takes."""
    text = ref.strip()
    if not text:
        return None
    if is_digits(text) and not looks_like_phone(text):
        if len(text) > 18:
            return None
        found: int | None = await conn.fetchval("SELECT id FROM retailers WHERE id = $1", int(text))
        return found
    try:
        phone = normalize_phone(text)
    except InvalidPhone:
        return None
    by_phone: int | None = await conn.fetchval("SELECT id FROM retailers WHERE phone = $1", phone)
    return by_phone


@dataclass(frozen=True)
class Contact:
    retailer_id: int
    phone: str
    name: str
    language: str
    status: CreditStatus
    paused_by: str | None


async def get_contact(conn: Conn, retailer_id: int) -> Contact:
    """Who to tell and the credit status; NotFound for an unknown retailer."""
    row = await conn.fetchrow(
        """SELECT id, phone, name, language, credit_status, paused_by
           FROM retailers WHERE id = $1""",
        retailer_id,
    )
    if row is None:
        raise retailer_not_found(retailer_id)
    return Contact(
        retailer_id=row["id"],
        phone=row["phone"],
        name=row["name"],
        language=row["language"],
        status=CreditStatus(row["credit_status"]),
        paused_by=row["paused_by"],
    )


# --- the running outstanding and the transaction rows ---------------------------------------


async def get_outstanding(conn: Conn, retailer_id: int) -> int:
    """The account's running outstanding (read under its lock)."""
    value: int = await conn.fetchval(
        "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", retailer_id
    )
    return value


async def get_balance(conn: Conn, retailer_id: int) -> tuple[int, int]:
    """The account's (outstanding, advance), read under its lock."""
    row = await conn.fetchrow(
        "SELECT outstanding, advance FROM credit_accounts WHERE retailer_id = $1", retailer_id
    )
    assert row is not None
    return row["outstanding"], row["advance"]


_MOVE_OUTSTANDING = outstanding_update("$1", "$2", "$3")


async def move_outstanding(conn: Conn, retailer_id: int, delta: int, now: datetime) -> None:
    """Add `delta` paise (negative to take off) to the account's running outstanding."""
    await conn.execute(_MOVE_OUTSTANDING, retailer_id, delta, now)


_MOVE_BALANCE = balance_update("$1", "$2", "$3", "$4")


async def move_balance(
    conn: Conn, retailer_id: int, owed_delta: int, advance_delta: int, now: datetime
) -> None:
    """Move the account's outstanding and advance by these signed paise in one statement."""
    await conn.execute(_MOVE_BALANCE, retailer_id, owed_delta, advance_delta, now)


def debit_status(amount: int, cleared: int) -> Literal["OPEN", "PARTIAL", "CLEARED"]:
    """A debit's status once `cleared` of its `amount` is paid."""
    if cleared == 0:
        return "OPEN"
    return "CLEARED" if cleared >= amount else "PARTIAL"


_INSERT_TRANSACTION = """
    INSERT INTO credit_transactions (retailer_id, type, direction, amount, status, due_date,
                                     txn_date, order_id, related_transaction_id, reference,
                                     reason, notes, performed_by, created_at, cleared_amount,
                                     cleared_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
            CASE WHEN $15::bigint > 0 THEN $14::timestamptz END)
    RETURNING id
"""


async def insert_transaction(
    conn: Conn,
    retailer_id: int,
    *,
    txn_type: Literal["DEBIT", "PAYMENT", "ADJUSTMENT", "REVERSAL"],
    direction: Direction,
    amount: int,
    status: Literal["OPEN", "PARTIAL", "CLEARED", "APPLIED"],
    txn_date: date,
    performed_by: str,
    now: datetime,
    due_date: date | None = None,
    order_id: int | None = None,
    related_transaction_id: int | None = None,
    reference: str | None = None,
    reason: str | None = None,
    notes: str | None = None,
    cleared_amount: int = 0,
) -> int:
    """Write one credit_transactions row (the columns not given are NULL); return its id. The
    caller moves the outstanding and writes the audit entry in the same transaction. A debit
    paid at once from an advance (`apply_debit`) is written with `cleared_amount` (cleared at
    `now`) and the status `debit_status` gives."""
    txn_id: int = await conn.fetchval(
        _INSERT_TRANSACTION,
        retailer_id,
        txn_type,
        direction.value,
        amount,
        status,
        due_date,
        txn_date,
        order_id,
        related_transaction_id,
        reference,
        reason,
        notes,
        performed_by,
        now,
        cleared_amount,
    )
    return txn_id


# --- input checks ---------------------------------------------------------------------------


def require_positive(amount: int) -> None:
    """Unprocessable `INVALID_AMOUNT` unless the amount is above zero."""
    if amount <= 0:
        raise Unprocessable("INVALID_AMOUNT", "the amount must be positive")


def require_text(value: str | None, field: str) -> str:
    """The value stripped; Unprocessable when it is empty or longer than the field's limit."""
    text = (value or "").strip()
    if not text:
        raise Unprocessable("REASON_REQUIRED", f"a {field} is required")
    max_len = max_length(field)
    if len(text) > max_len:
        raise Unprocessable("INVALID_FIELD", f"the {field} is longer than {max_len} characters")
    return text
