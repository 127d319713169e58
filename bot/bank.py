"""Bank statements: read an exported CSV into lines, and match each credit to a retailer (pure).

Reading (`read_statement`). The generic layout `date,amount,narration,reference` (amounts in
rupees, credits positive, debits negative) is always accepted. The column names of common Indian
bank exports are recognised by their normalised spelling (lowercase, letters and digits only):
HDFC (`Date, Narration, Chq./Ref.No., Value Dt, Withdrawal Amt., Deposit Amt., Closing
Balance`), ICICI (`Value Date, Transaction Date, Cheque Number, Transaction Remarks, Withdrawal
Amount (INR ), Deposit Amount (INR ), Balance (INR )`), SBI (`Txn Date, Value Date,
Description, Ref No./Cheque No., Debit, Credit, Balance`), Axis (`Tran Date, CHQNO,
PARTICULARS, DR, CR, BAL`) and exports with one amount column and a `Dr / Cr` column (Kotak:
`Transaction Date, Description, Chq / Ref No., Amount, Dr / Cr`). Other layouts are mapped by
naming their columns (`ColumnMap`, the CLI's `--date-col` and the like). The header may follow
a preamble (account details); rows that do not start with a date (blank, separators, summaries)
are skipped and counted. A reference column's UTR is taken from inside it (`UPI-412345678901`,
`TRANSFER FROM ...`), else from the narration. A transaction row with anything wrong is reported with every
problem it has, and then nothing of the file is imported.

Matching (`match_line`), in this order: a UTR already recorded as a payment's reference (a
duplicate: nothing is recorded); the retailer's UPI address in the narration; the retailer's
phone number in the narration; an amount exactly one retailer owes. Anything else (two retailers
named, two owing the amount, nobody) is left for an operator.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bot.money import InvalidAmount, format_inr, parse_rupees

MAX_NARRATION = 1000
MAX_REFERENCE = 100
# A header row is looked for in this many rows from the top (bank exports start with details).
HEADER_SEARCH_ROWS = 40

# --- columns and layouts ------------------------------------------------------------------------


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
class _Columns:
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


def _resolve(header: Sequence[str], mapping: ColumnMap) -> _Columns | None:
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
    return _Columns(date_col, narration, reference, amount, credit, debit, kind)


def layout_name(header: Sequence[str], mapping: ColumnMap) -> str:
    keys = {header_key(h) for h in header if h.strip()}
    if mapping.given():
        return "mapped"
    if keys == GENERIC:
        return "generic"
    for name, signature in BANK_SIGNATURES:
        if signature <= keys:
            return name
    return "recognised columns"


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
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header_at, columns = None, None
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = _resolve(row, mapping)
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


def _read_row(line_no: int, row: Sequence[str], c: _Columns) -> BankLine | LineProblem | None:
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


def _row_amount(row: Sequence[str], c: _Columns, problems: list[str]) -> int | None:
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


# --- matching -----------------------------------------------------------------------------------

# The app's name after "@" is letters (okhdfcbank, ybl, paytm); banks glue narration parts with
# "-" or "/", so a handle found with dashes is also tried without each dashed prefix.
_VPA_IN_TEXT = re.compile(r"[a-z0-9][a-z0-9._-]{1,255}@[a-z]{2,64}")
# An Indian mobile number, alone or after +91 / 91- / 0; twelve bare digits are an RRN, not
# 91 and a number.
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+91[- ]?|91[- ]|0)?([6-9][0-9]{9})(?![0-9])")


@dataclass(frozen=True)
class Clues:
    vpas: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # national 10-digit numbers


def clues_in(line: BankLine) -> Clues:
    """The UPI addresses and phone numbers a line's narration names."""
    text = line.narration.lower()
    found: list[str] = []
    for vpa in _VPA_IN_TEXT.findall(text):
        handle, app = vpa.split("@")
        parts = handle.split("-")
        found.extend(f"{'-'.join(parts[i:])}@{app}" for i in range(len(parts)) if parts[i])
    vpas = tuple(dict.fromkeys(v for v in found if len(v.split("@")[0]) >= 2))
    phones = tuple(dict.fromkeys(_PHONE_IN_TEXT.findall(line.narration)))
    return Clues(vpas, phones)


@dataclass(frozen=True)
class MatchFacts:
    """What matching needs, loaded for the lines at hand.

    `known_refs`: normalised reference -> (retailer id, payment transaction id) of recorded
    payments; `vpas` / `phones` (national numbers): the retailers they belong to; `owing`:
    amount -> the retailers whose outstanding is exactly that."""

    known_refs: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    vpas: Mapping[str, int] = field(default_factory=dict)
    phones: Mapping[str, int] = field(default_factory=dict)
    owing: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def after_payment(self, retailer_id: int, before: int, after: int) -> MatchFacts:
        """The facts once `retailer_id`'s outstanding moved from `before` to `after` paise (only
        the amounts already in `owing` are tracked: they are the lines' amounts)."""
        owing = {
            amount: tuple(r for r in ids if r != retailer_id) for amount, ids in self.owing.items()
        }
        if after in owing:
            owing[after] = (*owing[after], retailer_id)
        return replace(self, owing=owing)


@dataclass(frozen=True)
class Match:
    retailer_id: int
    by: str  # utr | vpa | phone | amount
    duplicate_of: int | None = None  # the payment already recorded with this UTR


@dataclass(frozen=True)
class NoMatch:
    reason: str


def match_line(line: BankLine, facts: MatchFacts) -> Match | NoMatch:
    """Whose payment a credit line is, when that is certain (see the module docstring)."""
    if line.reference and line.reference in facts.known_refs:
        retailer_id, payment_id = facts.known_refs[line.reference]
        return Match(retailer_id, "utr", duplicate_of=payment_id)
    clues = clues_in(line)
    by_vpa = {facts.vpas[v] for v in clues.vpas if v in facts.vpas}
    by_phone = {facts.phones[p] for p in clues.phones if p in facts.phones}
    if len(by_vpa) > 1:
        return NoMatch("the narration names the UPI addresses of several retailers")
    if by_vpa and by_phone and by_phone != by_vpa:
        return NoMatch("the UPI address and the phone number belong to different retailers")
    if by_vpa:
        return Match(next(iter(by_vpa)), "vpa")
    if len(by_phone) > 1:
        return NoMatch("the narration names the phone numbers of several retailers")
    if by_phone:
        return Match(next(iter(by_phone)), "phone")
    owing = facts.owing.get(line.amount, ())
    if len(owing) == 1:
        return Match(owing[0], "amount")
    if len(owing) > 1:
        return NoMatch(f"{len(owing)} retailers owe exactly {format_inr(line.amount)}")
    return NoMatch("no retailer has this UTR, UPI address or phone number, or owes this amount")


def reference_variants(reference: str) -> tuple[str, ...]:
    """How an operator may have typed this UTR as a payment reference (lowercased, as the
    ledger's reference index compares): as normalised, and a number with its padding."""
    ref = reference.lower()
    variants = [ref]
    if ref.isdigit():
        variants.extend(ref.zfill(n) for n in (12, 16, 22) if n > len(ref))
    return tuple(dict.fromkeys(variants))
