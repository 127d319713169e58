"""Reading bank statements and matching their lines, as tables (no database)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.bank import (
    BankLine,
    ColumnMap,
    Match,
    MatchFacts,
    NoMatch,
    UnreadableStatement,
    clues_in,
    line_keys,
    match_line,
    normalize_reference,
    parse_amount,
    parse_day,
    read_statement,
    reference_in,
)

DATA = Path(__file__).parent / "data" / "bank"
DAY = date(2026, 1, 15)
# Every sample export holds the same six transactions (see tests/data/bank/*.csv).
EXPECTED = [
    (500_000, "512345678901"),
    (300_000, "612345678902"),
    (400_000, "HDFCN52026011512345"),
    (275_000, "UTIBN52026011600001"),
    (100_000, "412345678901"),
    (-200_000, None),
]


@pytest.mark.parametrize(
    ("file", "layout", "skipped"),
    [
        ("generic.csv", "generic", 0),
        ("hdfc.csv", "HDFC", 6),
        ("icici.csv", "ICICI", 0),
        ("sbi.csv", "SBI", 2),
        ("axis.csv", "Axis", 1),
        ("drcr.csv", "Kotak", 0),
    ],
)
def test_each_recognised_layout_reads_the_same_transactions(
    file: str, layout: str, skipped: int
) -> None:
    statement = read_statement((DATA / file).read_text())
    assert statement.ok, statement.problems
    assert statement.layout == layout
    assert statement.skipped == skipped
    got = [(line.amount, line.reference) for line in statement.lines]
    # A withdrawal's cheque or ATM number is kept; it is never matched.
    assert got[:5] == EXPECTED[:5]
    assert got[5][0] == -200_000
    assert all(line.txn_date == DAY for line in statement.lines)
    assert "ramesh.kirana@okhdfcbank" in statement.lines[0].narration.lower()


def test_other_layouts_are_mapped_by_naming_their_columns() -> None:
    text = (DATA / "mapped.csv").read_text()
    with pytest.raises(UnreadableStatement, match="no header row"):
        read_statement(text)
    mapping = ColumnMap(date="Posted On", amount="Amt", narration="Info", reference="UTR No")
    statement = read_statement(text, mapping)
    assert statement.layout == "mapped"
    assert [(line.amount, line.reference) for line in statement.lines] == [
        (500_000, "512345678901"),
        (-200_000, None),
    ]


def test_a_bad_row_reports_every_problem_it_has() -> None:
    statement = read_statement((DATA / "bad_line.csv").read_text())
    assert not statement.ok
    assert len(statement.problems) == 1
    bad = statement.problems[0]
    assert bad.line_no == 3
    assert bad.problems == (
        "date '31/02/2026' is not a date like 31/01/2026",
        "amount '12,34x' is not an amount like 1,25,000.50",
    )


@pytest.mark.parametrize(
    ("row", "problems"),
    [
        ("15/01/2026,5000,x,ref", None),
        ('15/01/2026,"5,000.00 Cr",x,ref', None),
        ("15/01/2026,(200),x,ref", None),
        ("15/01/2026,5000,x," + "R" * 101, ["the reference is longer than 100 characters"]),
        ("15/01/2026,5000," + "n" * 1001 + ",r", ["the narration is longer than 1000 characters"]),
        ("15/01/2026,5.005,x,r", ["amount '5.005' is not an amount like 1,25,000.50"]),
        ("15/13/2026,abc,x,r", ["date '15/13/2026' is not a date like 31/01/2026",
                                "amount 'abc' is not an amount like 1,25,000.50"]),
    ],
)  # fmt: skip
def test_rows(row: str, problems: list[str] | None) -> None:
    statement = read_statement("date,amount,narration,reference\n" + row + "\n")
    if problems is None:
        assert statement.ok and len(statement.lines) == 1
    else:
        assert [list(p.problems) for p in statement.problems] == [problems]


def test_credit_and_debit_on_one_row_is_a_problem() -> None:
    text = "Date,Narration,Withdrawal Amt.,Deposit Amt.\n15/01/26,x,100.00,200.00\n"
    statement = read_statement(text)
    assert statement.problems[0].problems == ("the row has both a credit and a debit",)


def test_dated_rows_without_money_are_balances_not_transactions() -> None:
    text = "Txn Date,Description,Debit,Credit\n01 Jan 2026,Opening Balance,,\n"
    statement = read_statement(text)
    assert statement.ok and statement.lines == () and statement.skipped == 1


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("15/01/2026", date(2026, 1, 15)),
        ("15/01/26", date(2026, 1, 15)),
        ("15-01-2026", date(2026, 1, 15)),
        ("15 Jan 2026", date(2026, 1, 15)),
        ("15-Jan-26", date(2026, 1, 15)),
        ("2026-01-15", date(2026, 1, 15)),
        ("05/01/2026 10:15:00", date(2026, 1, 5)),
        ("31/02/2026", None),
        ("yesterday", None),
    ],
)
def test_parse_day(text: str, day: date | None) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,25,000.50", (12_500_050, None)),
        ("₹ 500", (50_000, None)),
        ("500.00 Cr", (50_000, 1)),
        ("500.00 DR", (50_000, -1)),
        ("-500", (50_000, -1)),
        ("(500)", (50_000, -1)),
        ("", (0, None)),
        ("0.00", (0, None)),
        ("5OO", None),
    ],
)
def test_parse_amount(text: str, value: tuple[int, int | None] | None) -> None:
    assert parse_amount(text) == value


@pytest.mark.parametrize(
    ("raw", "ref"),
    [
        ("0000512345678901", "512345678901"),
        ("hdfcn52026011512345", "HDFCN52026011512345"),
        ("-", None),
        ("000000", None),
        ("TRANSFER FROM", None),
    ],
)
def test_normalize_reference(raw: str, ref: str | None) -> None:
    assert normalize_reference(raw) == ref


@pytest.mark.parametrize(
    ("narration", "ref"),
    [
        ("UPI/512345678901/RAMESH/ramesh@okhdfc", "512345678901"),
        ("NEFT CR-ICIC0000123-SUNITA-HDFCN52026011512345", "HDFCN52026011512345"),
        ("ATM WDL MG ROAD", None),
        ("MOBILE 9812345678", None),
    ],
)
def test_reference_in_narration(narration: str, ref: str | None) -> None:
    assert reference_in(narration) == ref


def _line(narration: str, amount: int = 100_000, reference: str | None = None) -> BankLine:
    return BankLine(2, DAY, amount, narration, reference)


@pytest.mark.parametrize(
    ("narration", "vpas", "phones"),
    [
        ("UPI/512345678901/RAMESH/Ramesh.Kirana@OKHDFCBANK/HDFC", ["ramesh.kirana@okhdfcbank"], []),
        ("IMPS MOHAN 9876500005 SBIN", [], ["9876500005"]),
        (
            "UPI-RAMESH KIRANA-ramesh.kirana@okhdfcbank-HDFC0000001-512345678901-PAYMENT",
            ["kirana-ramesh.kirana@okhdfcbank", "ramesh.kirana@okhdfcbank"],
            [],
        ),
        ("from +91 9876500005 and 09812345678", [], ["9876500005", "9812345678"]),
        ("UPI 9876500005@ybl", ["9876500005@ybl"], ["9876500005"]),
        # Twelve bare digits are a UPI reference, not 91 and a number.
        ("UPI/919876500005/X", [], []),
        ("A/C 12345 RRN 1234567890123", [], []),
    ],
)
def test_clues(narration: str, vpas: list[str], phones: list[str]) -> None:
    clues = clues_in(_line(narration))
    assert (list(clues.vpas), list(clues.phones)) == (vpas, phones)


FACTS = MatchFacts(
    known_refs={"412345678901": (1, 99)},
    vpas={"ramesh.kirana@okhdfcbank": 1, "sunita@ybl": 2},
    phones={"9876500005": 5, "9812300001": 2},
    owing={400_000: (2,), 275_000: (3, 4), 100_000: ()},
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (_line("UPI/RAMESH", reference="412345678901"), Match(1, "utr", duplicate_of=99)),
        (_line("UPI/RAMESH/ramesh.kirana@okhdfcbank"), Match(1, "vpa")),
        (_line("IMPS MOHAN STORES 9876500005"), Match(5, "phone")),
        (_line("NEFT SUNITA", amount=400_000), Match(2, "amount")),
        (
            _line("ramesh.kirana@okhdfcbank 9876500005"),
            NoMatch("the UPI address and the phone number belong to different retailers"),
        ),
        (
            _line("ramesh.kirana@okhdfcbank sunita@ybl"),
            NoMatch("the narration names the UPI addresses of several retailers"),
        ),
        (
            _line("9876500005 9812300001"),
            NoMatch("the narration names the phone numbers of several retailers"),
        ),
        (_line("NEFT SHARMA", amount=275_000), NoMatch("2 retailers owe exactly ₹2,750")),
        (
            _line("NEFT SOMEONE"),
            NoMatch("no retailer has this UTR, UPI address or phone number, or owes this amount"),
        ),
    ],
)
def test_match_line(line: BankLine, expected: Match | NoMatch) -> None:
    assert match_line(line, FACTS) == expected


def test_after_a_payment_the_owed_amounts_move() -> None:
    facts = FACTS.after_payment(2, 400_000, 275_000)
    assert facts.owing[400_000] == ()
    assert facts.owing[275_000] == (3, 4, 2)


def test_line_keys_tell_identical_lines_apart_and_stay_the_same_on_reimport() -> None:
    a = BankLine(2, DAY, 50_000, "CASH DEPOSIT", None)
    b = BankLine(3, DAY, 50_000, "cash  deposit", None)
    c = BankLine(4, DAY, 50_000, "UPI", "512345678901")
    keys = line_keys([a, b, c])
    assert keys[0] != keys[1] and keys[0].startswith("fp:") and keys[2] == "ref:512345678901"
    assert line_keys([a, b, c]) == keys
