"""Bank statements read: an exported CSV into lines, or every problem of its bad rows (pure).

The header (see `bot.bank.layouts`) may follow a preamble (account details); rows that do not
start with a date (blank, separators, summaries) are skipped and counted. A reference column's UTR
is taken from inside it (`UPI-412345678901`, `TRANSFER FROM ...`), else from the narration. A
transaction row with anything wrong is reported with every problem it has, and then nothing of
the file is imported. `line_keys` says what makes a line the same line in another import.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.bank.layouts import ColumnMap, Columns, layout_name, resolve
from bot.money import InvalidAmount, parse_rupees

MAX_NARRATION = 1000
MAX_REFERENCE = 100
# A header row is looked for in this many rows from the top (bank exports start with details).
HEADER_SEARCH_ROWS = 40

# --- values -------------------------------------------------------------------------------------

_DATE_FORMATS = (
    "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d",
    "%d-%b-%Y", "%d-%b-%y", "%d %b %Y", "%d %b %y", "%d/%b/%Y", "%d/%b/%y", "%d-%B-%Y",
    "%d %B %Y",
)  # fmt: skip
_LOOKS_LIKE_DATE = re.compile(r"^\d{1,4}[-/. ][0-9A-Za-z]{1,9}[-/. ]\d{2,4}$")
_TIME_PART = re.compile(r"\s+\d{1,2}:\d{2}(:\d{2})?(\s*[AaPp][Mm])?$")
_SEPARATOR = re.compile(r"^[-*=_.\s]*$")


def parse_day(text: str) -> date | None:
    """A statement date, day first as Indian banks write it (`05/01/2026`, `05-Jan-26`)."""
    value = _TIME_PART.sub("", text.strip())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()  # a calendar day: no zone
        except ValueError:
            continue
    return None


def looks_like_date(text: str) -> bool:
    return bool(_LOOKS_LIKE_DATE.match(_TIME_PART.sub("", text.strip())))


_NO_VALUE = frozenset({"", "-", "0", "0.0", "0.00", "na", "n/a", "nil"})
_CR = frozenset({"cr", "c", "credit", "deposit", "+"})
_DR = frozenset({"dr", "d", "debit", "withdrawal", "-"})
_SUFFIX = re.compile(r"^(.*?)\s*\(?(cr|dr)\)?\.?$", re.IGNORECASE)


def parse_amount(text: str) -> tuple[int, int | None] | None:
    """(paise, sign) of an amount cell: the sign is +1/-1 when the cell says (`-`, `(...)`,
    `Cr`/`Dr`), else None; (0, None) for an empty cell; None when it is not an amount."""
    value = text.strip().replace("\u20b9", "").replace("INR", "").replace("Rs.", "").strip()
    if value.lower() in _NO_VALUE:
        return 0, None
    sign: int | None = None
    suffix = _SUFFIX.match(value)
    if suffix and suffix.group(2):
        value, sign = suffix.group(1).strip(), (1 if suffix.group(2).lower() == "cr" else -1)
    if value.startswith("(") and value.endswith(")"):
        value, sign = value[1:-1].strip(), -1
    if value.startswith(("-", "+")):
        sign = -1 if value[0] == "-" else 1
        value = value[1:].strip()
    try:
        paise = parse_rupees(value, allow_zero=True)
    except InvalidAmount:
        return None
    return int(paise), sign


_TOKEN = re.compile(r"^[A-Z0-9][A-Z0-9/_.-]*$")


def normalize_reference(raw: str | None) -> str | None:
    """A UTR or cheque number as compared: uppercase; a number without the leading zeros some
    exports pad it with. None when the cell holds no reference (empty, `-`, words)."""
    if raw is None:
        return None
    value = raw.strip().upper()
    if value.lower() in _NO_VALUE or not _TOKEN.match(value):
        return None  # words ("TRANSFER FROM ...") are not a reference
    if value.isdigit():
        value = value.lstrip("0")
    return value or None


# A UPI/IMPS reference (RRN) is 12 digits; a NEFT/RTGS UTR is a bank code then 12 to 18 more.
_RRN = re.compile(r"(?<![0-9A-Za-z])([0-9]{12})(?![0-9A-Za-z])")
_UTR = re.compile(r"(?<![0-9A-Za-z])([A-Z]{4}[0-9A-Z]{12,18})(?![0-9A-Za-z])")


def reference_in(narration: str) -> str | None:
    """The UTR a narration carries (`UPI/412345678901/...`, `NEFT-HDFCN52026010512345-...`)."""
    found = _RRN.search(narration)
    if found:
        return found.group(1)
    for token in _UTR.findall(narration.upper()):
        if sum(ch.isdigit() for ch in token) >= 8:
            return str(token)
    return None


# --- reading a statement ------------------------------------------------------------------------


@dataclass(frozen=True)
class BankLine:
    """One transaction: `amount` in paise, credits (money in) positive, debits negative."""

    line_no: int  # the row's number in the file (1 = first row)
    txn_date: date
    amount: int
    narration: str
    reference: str | None  # normalised; from the reference column, else found in the narration


@dataclass(frozen=True)
class LineProblem:
    line_no: int
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    layout: str
    lines: tuple[BankLine, ...] = ()
    problems: tuple[LineProblem, ...] = ()
    skipped: int = 0  # rows that are not transactions

    @property
    def ok(self) -> bool:
        return not self.problems


class UnreadableStatement(ValueError):
    """No header row with a date, a narration and an amount was found."""


def _cell(row: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


def read_statement(text: str, mapping: ColumnMap = ColumnMap()) -> Statement:
    """Every transaction of a CSV statement, or every problem of its bad rows."""
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as exc:  # a lone carriage return in a cell, say: the file, not a row
        raise UnreadableStatement(f"not a readable CSV file: {exc}") from None
    header_at, columns = None, None
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = resolve(row, mapping)
        if columns is not None:
            header_at = i
            break
    if header_at is None or columns is None:
        wanted = mapping.given() or {"date": "date", "amount": "amount", "narration": "narration"}
        raise UnreadableStatement(
            "no header row with the columns "
            + ", ".join(f"{role} ({name})" for role, name in wanted.items())
            + " was found; name the columns (date, narration, amount or credit/debit)"
        )
    layout = layout_name(rows[header_at], mapping)
    lines: list[BankLine] = []
    problems: list[LineProblem] = []
    skipped = 0
    for offset, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        parsed = _read_row(offset, row, columns)
        if parsed is None:
            skipped += 1
        elif isinstance(parsed, LineProblem):
            problems.append(parsed)
        else:
            lines.append(parsed)
    return Statement(layout, tuple(lines), tuple(problems), skipped)


def _read_row(line_no: int, row: Sequence[str], c: Columns) -> BankLine | LineProblem | None:
    if all(_SEPARATOR.match(cell) for cell in row):
        return None
    date_text = _cell(row, c.date)
    narration = _cell(row, c.narration)
    money_cells = [_cell(row, i) for i in (c.amount, c.credit, c.debit) if i is not None]
    has_money = any(cell.lower() not in _NO_VALUE for cell in money_cells)
    # A transaction starts with its date; summaries, totals and wrapped narrations do not.
    if not looks_like_date(date_text):
        return None
    problems: list[str] = []
    day = parse_day(date_text)
    if day is None:
        problems.append(f"date {date_text!r} is not a date like 31/01/2026")
    if not has_money and day is not None:
        return None  # a dated row without money: a balance brought forward, not a transaction
    amount = _row_amount(row, c, problems)
    if "\x00" in narration:
        problems.append("the narration contains a NUL character")
    if len(narration) > MAX_NARRATION:
        problems.append(f"the narration is longer than {MAX_NARRATION} characters")
    raw_reference = _cell(row, c.reference)
    if "\x00" in raw_reference:
        problems.append("the reference contains a NUL character")
    if len(raw_reference) > MAX_REFERENCE:
        problems.append(f"the reference is longer than {MAX_REFERENCE} characters")
    if problems:
        return LineProblem(line_no, tuple(problems))
    assert day is not None and amount is not None
    # A UTR inside the cell (`UPI-412345678901`, `TRANSFER FROM 4123...`) is the reference.
    reference = (
        reference_in(raw_reference) or normalize_reference(raw_reference) or reference_in(narration)
    )
    return BankLine(line_no, day, amount, narration, reference)


def _row_amount(row: Sequence[str], c: Columns, problems: list[str]) -> int | None:
    """The row's signed amount in paise; problems appended when a cell is not an amount."""

    def read(index: int | None, what: str) -> tuple[int, int | None] | None:
        text = _cell(row, index)
        value = parse_amount(text)
        if value is None:
            problems.append(f"{what} {text!r} is not an amount like 1,25,000.50")
        return value

    if c.credit is not None:
        credit = read(c.credit, "credit")
        debit = read(c.debit, "debit") if c.debit is not None else (0, None)
        if credit is None or debit is None:
            return None
        if credit[0] and debit[0]:
            problems.append("the row has both a credit and a debit")
            return None
        return credit[0] if credit[0] else -debit[0]
    value = read(c.amount, "amount")
    if value is None:
        return None
    paise, sign = value
    if c.kind is not None:
        kind = _cell(row, c.kind).lower().rstrip(".")
        if kind in _CR:
            sign = 1
        elif kind in _DR:
            sign = -1
        elif paise:
            problems.append(f"Dr/Cr {_cell(row, c.kind)!r} is neither Cr nor Dr")
            return None
    return paise * (sign or 1)


def line_key(line: BankLine, occurrence: int = 1) -> str:
    """What makes a line the same line in another import: its reference, or (without one) a
    fingerprint of date, amount and narration with its occurrence among identical lines."""
    if line.reference:
        return f"ref:{line.reference}"
    digest = hashlib.sha256(
        f"{line.txn_date.isoformat()}|{line.amount}|{' '.join(line.narration.lower().split())}".encode()
    ).hexdigest()[:24]
    return f"fp:{digest}:{occurrence}"


def line_keys(lines: Sequence[BankLine]) -> list[str]:
    """`line_key` of each line, identical lines counted in file order."""
    seen: dict[str, int] = {}
    keys = []
    for line in lines:
        base = line_key(line)
        if base.startswith("ref:"):
            keys.append(base)
            continue
        seen[base] = seen.get(base, 0) + 1
        keys.append(line_key(line, seen[base]))
    return keys
