"""Bank statement layouts: which column of an exported CSV holds the date, the narration, the
reference and the money (pure).

The generic layout `date,amount,narration,reference` (amounts in rupees, credits positive, debits
negative) is always accepted. The column names of common Indian bank exports are recognised by
their normalised spelling (lowercase, letters and digits only): HDFC (`Date, Narration,
Chq./Ref.No., Value Dt, Withdrawal Amt., Deposit Amt., Closing Balance`), ICICI (`Value Date,
Transaction Date, Cheque Number, Transaction Remarks, Withdrawal Amount (INR ), Deposit Amount
(INR ), Balance (INR )`), SBI (`Txn Date, Value Date, Description, Ref No./Cheque No., Debit,
Credit, Balance`), Axis (`Tran Date, CHQNO, PARTICULARS, DR, CR, BAL`) and exports with one amount
column and a `Dr / Cr` column (Kotak: `Transaction Date, Description, Chq / Ref No., Amount,
Dr / Cr`). Other layouts are mapped by naming their columns (`ColumnMap`, the CLI's `--date-col`
and the like).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def header_key(name: str) -> str:
    """A column name compared by its letters and digits (`Chq./Ref.No.` -> `chqrefno`)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


# Each role's spellings, most specific first (a transaction date before a value date).
DATE_NAMES = (
    "date",
    "txndate",
    "transactiondate",
    "trandate",
    "postingdate",
    "valuedate",
    "valuedt",
)
NARRATION_NAMES = (
    "narration", "description", "particulars", "transactionremarks", "remarks",
    "transactiondetails", "details",
)  # fmt: skip
REFERENCE_NAMES = (
    "reference", "utr", "utrno", "utrnumber", "chqrefno", "refnochequeno", "chequenumber",
    "chqno", "chequeno", "refno", "referenceno", "chqrefnumber",
)  # fmt: skip
CREDIT_NAMES = (
    "depositamt", "depositamountinr", "depositamount", "deposits", "credit", "creditamount",
    "creditamt", "cr",
)  # fmt: skip
DEBIT_NAMES = (
    "withdrawalamt", "withdrawalamountinr", "withdrawalamount", "withdrawals", "debit",
    "debitamount", "debitamt", "dr",
)  # fmt: skip
AMOUNT_NAMES = ("amount", "amountinr", "transactionamount", "txnamount")
KIND_NAMES = ("drcr", "crdr", "debitcredit", "type", "transactiontype")

# Layout names for the report, by headers only that bank's export has.
BANK_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("HDFC", frozenset({"chqrefno", "withdrawalamt", "depositamt"})),
    ("ICICI", frozenset({"transactionremarks", "depositamountinr"})),
    ("SBI", frozenset({"txndate", "refnochequeno"})),
    ("Axis", frozenset({"trandate", "particulars", "chqno"})),
    ("Kotak", frozenset({"chqrefno", "amount", "drcr"})),
)
GENERIC = frozenset({"date", "amount", "narration", "reference"})


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds what: by name as the file spells it (compared by `header_key`).

    A statement needs a date, a narration and either an amount (signed, or with a Dr/Cr `kind`
    column) or a credit column (with an optional debit column)."""

    date: str | None = None
    narration: str | None = None
    reference: str | None = None
    amount: str | None = None
    credit: str | None = None
    debit: str | None = None
    kind: str | None = None

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Columns:
    """Resolved column positions."""

    date: int
    narration: int
    reference: int | None
    amount: int | None
    credit: int | None
    debit: int | None
    kind: int | None


def _find(keys: Sequence[str], names: Iterable[str], taken: set[int]) -> int | None:
    for name in names:
        for i, key in enumerate(keys):
            if key == name and i not in taken:
                return i
    return None


def resolve(header: Sequence[str], mapping: ColumnMap) -> Columns | None:
    """The columns of `header`, by the names `mapping` gives or else the known spellings."""
    keys = [header_key(h) for h in header]
    taken: set[int] = set()

    def pick(role: str, names: Iterable[str]) -> int | None:
        wanted = getattr(mapping, role)
        found = _find(keys, [header_key(wanted)] if wanted else names, taken)
        if found is not None:
            taken.add(found)
        return found

    date_col = pick("date", DATE_NAMES)
    narration = pick("narration", NARRATION_NAMES)
    reference = pick("reference", REFERENCE_NAMES)
    credit = debit = amount = kind = None
    if not (mapping.amount and not mapping.credit):
        credit = pick("credit", CREDIT_NAMES)
        debit = pick("debit", DEBIT_NAMES) if credit is not None else None
    if credit is None:
        amount = pick("amount", AMOUNT_NAMES)
        kind = pick("kind", KIND_NAMES) if amount is not None else None
    if date_col is None or narration is None or (credit is None and amount is None):
        return None
    if any(getattr(mapping, role) and col is None for role, col in (
        ("reference", reference), ("debit", debit), ("kind", kind), ("amount", amount),
        ("credit", credit),
    )):  # fmt: skip
        return None
    return Columns(date_col, narration, reference, amount, credit, debit, kind)


def layout_name(header: Sequence[str], mapping: ColumnMap) -> str:
    """The layout's name for the import report: mapped, generic, a bank's, or recognised."""
    keys = {header_key(h) for h in header if h.strip()}
    if mapping.given():
        return "mapped"
    if keys == GENERIC:
        return "generic"
    for name, signature in BANK_SIGNATURES:
        if signature <= keys:
            return name
    return "recognised columns"
