"""Bank statements: read an exported CSV into lines, and match each credit to a retailer (pure).

The modules, each importing only those above it:
- `layouts`: which column holds what (the generic layout, the banks' exports, a `ColumnMap`)
- `reading`: `read_statement` (cells, rows, problems) and `line_keys` (a line's identity)
- `matching`: `match_line`, whose payment a credit line is, when that is certain

Import the names from here: `from bot.bank import X`. The I/O (loading the facts, recording the
lines) is in `db.bank`.
"""

from bot.bank.layouts import (
    AMOUNT_NAMES,
    BANK_SIGNATURES,
    CREDIT_NAMES,
    DATE_NAMES,
    DEBIT_NAMES,
    GENERIC,
    KIND_NAMES,
    NARRATION_NAMES,
    REFERENCE_NAMES,
    ColumnMap,
    Columns,
    header_key,
    layout_name,
    resolve,
)
from bot.bank.matching import (
    Clues,
    Match,
    MatchFacts,
    NoMatch,
    clues_in,
    match_line,
    reference_variants,
)
from bot.bank.reading import (
    HEADER_SEARCH_ROWS,
    MAX_NARRATION,
    MAX_REFERENCE,
    BankLine,
    LineProblem,
    Statement,
    UnreadableStatement,
    line_key,
    line_keys,
    looks_like_date,
    normalize_reference,
    parse_amount,
    parse_day,
    read_statement,
    reference_in,
)

__all__ = [
    "AMOUNT_NAMES",
    "BANK_SIGNATURES",
    "CREDIT_NAMES",
    "DATE_NAMES",
    "DEBIT_NAMES",
    "GENERIC",
    "HEADER_SEARCH_ROWS",
    "KIND_NAMES",
    "MAX_NARRATION",
    "MAX_REFERENCE",
    "NARRATION_NAMES",
    "REFERENCE_NAMES",
    "BankLine",
    "Clues",
    "ColumnMap",
    "Columns",
    "LineProblem",
    "Match",
    "MatchFacts",
    "NoMatch",
    "Statement",
    "UnreadableStatement",
    "clues_in",
    "header_key",
    "layout_name",
    "line_key",
    "line_keys",
    "looks_like_date",
    "match_line",
    "normalize_reference",
    "parse_amount",
    "parse_day",
    "read_statement",
    "reference_in",
    "reference_variants",
    "resolve",
]
