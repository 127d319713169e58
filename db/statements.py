"""A retailer's statement (DESIGN section 10) and what they owe item by item (chat `statement`).

The statement lists every ledger row of a period in date order with a running balance: what the
retailer owes (positive) or holds as advance (negative). DEBIT-direction rows (orders, debit
adjustments, reversed ones included: their reversal is its own row) add their amount; PAYMENT,
credit ADJUSTMENT (returns among them) and REVERSAL rows take theirs off. So the closing balance
on today's date equals the account's outstanding less its advance (docs/decisions.md, "Advances"), which the
property test checks. It is read in one REPEATABLE READ READ ONLY transaction: the opening sum,
the rows and the account come from one snapshot, whatever is written meanwhile.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from bot.money import rupees_json
from bot.statements import DueItem, Dues
from db.errors import retailer_not_found
from db.fragments import open_debit
from db.pool import Conn

# What a row is on a statement, by (type, direction, reason).
_KINDS = {
    ("DEBIT", "DEBIT"): "order",
    ("PAYMENT", "CREDIT"): "payment",
    ("ADJUSTMENT", "DEBIT"): "debit adjustment",
    ("ADJUSTMENT", "CREDIT"): "credit adjustment",
    ("REVERSAL", "CREDIT"): "reversal",
}


def entry_kind(txn_type: str, direction: str, reason: str | None) -> str:
    """How a ledger row reads on a statement: order, payment, return, debit/credit adjustment,
    reversal."""
    if txn_type == "ADJUSTMENT" and direction == "CREDIT" and reason == "return":
        return "return"
    return _KINDS.get((txn_type, direction), txn_type.lower())


@dataclass(frozen=True)
class StatementEntry:
    transaction_id: int
    day: date  # the business day of the row
    created_at: datetime
    kind: str  # entry_kind
    type: str
    direction: str
    status: str
    amount: int
    debit: int  # what it adds to the balance (0 or amount)
    credit: int  # what it takes off (0 or amount)
    balance: int  # the running balance after it
    order_id: int | None
    related_transaction_id: int | None
    reference: str | None
    reason: str | None
    notes: str | None
    due_date: date | None
    performed_by: str  # who recorded it
    source: str | None  # of a payment: gateway, bank or operator (payment_source, 0014)
    advance_applied: int  # of a debit: paid at once from the advance (informational)


@dataclass(frozen=True)
class Statement:
    retailer_id: int
    name: str
    shop_name: str
    phone: str
    from_date: date | None  # None: from the first entry
    to_date: date
    opening_balance: int
    closing_balance: int
    total_debits: int
    total_credits: int
    entries: tuple[StatementEntry, ...]
    # The account as it stands in the same snapshot (equal to the closing balance when
    # `to_date` is today: outstanding - advance).
    outstanding: int
    advance: int


def snapshot(conn: Conn) -> AbstractAsyncContextManager[object]:
    """One REPEATABLE READ READ ONLY transaction, so every read inside sees one snapshot; inside a
    caller's transaction, that one (its snapshot is the caller's business)."""
    if conn.is_in_transaction():
        return nullcontext()
    return conn.transaction(isolation="repeatable_read", readonly=True)


_SIGNED = "CASE WHEN t.direction = 'DEBIT' THEN t.amount ELSE -t.amount END"

_OPENING = f"""
    SELECT coalesce(sum({_SIGNED}), 0)::bigint FROM credit_transactions t
    WHERE t.retailer_id = $1 AND t.txn_date < $2
"""

_ROWS = """
    SELECT t.id, t.txn_date, t.created_at, t.type, t.direction, t.status, t.amount, t.order_id,
           t.related_transaction_id, t.reference, t.reason, t.notes, t.due_date, t.performed_by,
           coalesce((SELECT (a.new_value ->> 'advanceApplied')::bigint FROM audit_log a
                     WHERE a.retailer_id = t.retailer_id AND a.reference = 'txn:' || t.id
                       AND a.new_value ? 'advanceApplied'
                     LIMIT 1), 0) AS advance_applied,
           CASE WHEN t.type = 'PAYMENT' THEN payment_source(t.id) END AS source
    FROM credit_transactions t
    WHERE t.retailer_id = $1 AND ($2::date IS NULL OR t.txn_date >= $2) AND t.txn_date <= $3
    ORDER BY t.txn_date, t.id
"""


async def get_statement(
    conn: Conn, retailer_id: int, *, from_date: date | None, to_date: date
) -> Statement:
    """The retailer's statement for business days `from_date` (None: from the start) to `to_date`,
    read from one snapshot. NotFound for an unknown retailer."""
    async with snapshot(conn):
        head = await conn.fetchrow(
            """SELECT r.name, r.shop_name, r.phone, ca.outstanding, ca.advance
                FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
                WHERE r.id = $1""",
            retailer_id,
        )
        if head is None:
            raise retailer_not_found(retailer_id)
        opening: int = (
            await conn.fetchval(_OPENING, retailer_id, from_date) if from_date is not None else 0
        )
        rows = await conn.fetch(_ROWS, retailer_id, from_date, to_date)
    balance = opening
    entries: list[StatementEntry] = []
    for r in rows:
        debit = r["amount"] if r["direction"] == "DEBIT" else 0
        credit = r["amount"] - debit
        balance += debit - credit
        entries.append(
            StatementEntry(
                transaction_id=r["id"],
                day=r["txn_date"],
                created_at=r["created_at"],
                kind=entry_kind(r["type"], r["direction"], r["reason"]),
                type=r["type"],
                direction=r["direction"],
                status=r["status"],
                amount=r["amount"],
                debit=debit,
                credit=credit,
                balance=balance,
                order_id=r["order_id"],
                related_transaction_id=r["related_transaction_id"],
                reference=r["reference"],
                reason=r["reason"],
                notes=r["notes"],
                due_date=r["due_date"],
                performed_by=r["performed_by"],
                source=r["source"],
                advance_applied=r["advance_applied"],
            )
        )
    return Statement(
        retailer_id=retailer_id,
        name=head["name"],
        shop_name=head["shop_name"],
        phone=head["phone"],
        from_date=from_date,
        to_date=to_date,
        opening_balance=opening,
        closing_balance=balance,
        total_debits=sum(e.debit for e in entries),
        total_credits=sum(e.credit for e in entries),
        entries=tuple(entries),
        outstanding=head["outstanding"],
        advance=head["advance"],
    )


CSV_HEADER = (
    "date",
    "entry",
    "transaction_id",
    "order_id",
    "reference",
    "details",
    "debit_inr",
    "credit_inr",
    "balance_inr",
    "due_date",
    "recorded_by",
    "recorded_at",
    "payment_source",
)


def _details(e: StatementEntry) -> str:
    parts = [p for p in (e.notes, e.reason if e.kind != "return" else None) if p]
    if e.status == "REVERSED":
        parts.append("reversed")
    if e.advance_applied:
        parts.append(f"advance applied {rupees_json(e.advance_applied)}")
    return "; ".join(parts)


def statement_csv(s: Statement, tz: tzinfo) -> str:
    """The statement as CSV: a header row, an opening balance row, one row per entry (amounts in
    rupees, 2 decimals), a closing balance row."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    start = s.from_date.isoformat() if s.from_date else ""
    w.writerow([start, "opening balance", "", "", "", "", "", "",
                rupees_json(s.opening_balance), "", "", "", ""])  # fmt: skip
    for e in s.entries:
        w.writerow(
            [
                e.day.isoformat(),
                e.kind,
                e.transaction_id,
                e.order_id or "",
                csv_cell(e.reference or ""),
                csv_cell(_details(e)),
                rupees_json(e.debit) if e.debit else "",
                rupees_json(e.credit) if e.credit else "",
                rupees_json(e.balance),
                e.due_date.isoformat() if e.due_date else "",
                csv_cell(e.performed_by),
                e.created_at.astimezone(tz).isoformat(timespec="seconds"),
                e.source or "",
            ]
        )
    w.writerow([s.to_date.isoformat(), "closing balance", "", "", "", "", "", "",
                rupees_json(s.closing_balance), "", "", "", ""])  # fmt: skip
    return out.getvalue()


_PHONE = re.compile(r"^\+[0-9]{7,15}$")


def csv_cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula (a leading =, +, - or @ is quoted away); a
    phone number (who recorded an entry) is left as it is: it cannot be a formula."""
    if _PHONE.match(text):
        return text
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- what is owed, item by item (chat) --------------------------------------------------------


async def get_dues(conn: Conn, retailer_id: int, today: date, *, shown: int) -> Dues:
    """The retailer's open debits, soonest due first (the first `shown`), with the count, the
    unpaid total and the overdue part (due before business day `today`) of them all: one
    statement on the open-debits index."""
    rows = await conn.fetch(
        f"""SELECT id, order_id, amount, amount - cleared_amount AS unpaid, txn_date, due_date,
                   reason, notes,
                   count(*) OVER () AS n, sum(amount - cleared_amount) OVER () AS total,
                   coalesce(sum(amount - cleared_amount) FILTER (WHERE due_date < $3) OVER (),
                            0) AS overdue
            FROM credit_transactions
            WHERE retailer_id = $1 AND {open_debit()}
            ORDER BY due_date, id
            LIMIT $2""",
        retailer_id,
        shown,
        today,
    )
    if not rows:
        return Dues()
    return Dues(
        items=tuple(
            DueItem(
                r["id"],
                r["order_id"],
                r["amount"],
                r["unpaid"],
                r["txn_date"],
                r["due_date"],
                r["reason"],
                r["notes"],
            )
            for r in rows
        ),
        count=rows[0]["n"],
        total=int(rows[0]["total"]),
        overdue=int(rows[0]["overdue"]),
    )
