"""Bank statement import: each credit line matched and recorded once, or held for an operator.

`import_statement` takes a statement read by `bot.bank.read_statement` (refused whole when a row
has problems), loads what matching needs for just these lines (recorded references, the UPI
addresses and phone numbers the narrations name, who owes each amount), then takes the credit
lines one transaction each: the line's row is claimed by its key (its UTR, or a fingerprint), so
a line imported before (this file again, or an overlapping statement) is skipped and records
nothing; a matched line is recorded through `db.payments.take` (whole: what it clears nothing of
becomes the retailer's advance, so an import no longer produces EXCESS); the rest stay UNMATCHED
with the reason, for `GET /api/v1/admin/bank/unmatched`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot.bank import (
    BankLine,
    Match,
    MatchFacts,
    Statement,
    clues_in,
    line_keys,
    match_line,
    reference_variants,
)
from bot.messages import Renderer
from db.errors import Unprocessable
from db.payments import BANK, claim_received, take
from db.pool import Conn


@dataclass(frozen=True)
class LineResult:
    line_no: int
    amount: int
    reference: str | None
    # RECORDED | DUPLICATE | UNMATCHED | ALREADY_IMPORTED | DEBIT (EXCESS: imports before the
    # ledger kept advances)
    status: str
    retailer_id: int | None = None
    matched_by: str | None = None
    reason: str | None = None
    received_id: int | None = None
    to_advance: int = 0  # the part of a RECORDED line that cleared nothing and became advance


@dataclass(frozen=True)
class ImportResult:
    import_id: int
    layout: str
    counts: dict[str, int]
    lines: tuple[LineResult, ...]


def problems_json(statement: Statement) -> list[dict[str, Any]]:
    return [{"line": p.line_no, "problems": list(p.problems)} for p in statement.problems]


async def load_match_facts(conn: Conn, lines: list[BankLine]) -> MatchFacts:
    """What `match_line` needs for these lines, in four indexed queries."""
    variants: dict[str, str] = {}
    for line in lines:
        if line.reference:
            for v in reference_variants(line.reference):
                variants[v] = line.reference
    known: dict[str, tuple[int, int]] = {}
    if variants:
        rows = await conn.fetch(
            """SELECT norm_key(reference) AS ref, retailer_id, id FROM credit_transactions
               WHERE type = 'PAYMENT' AND reference IS NOT NULL
                 AND norm_key(reference) = any($1::text[])
               ORDER BY id""",
            list(variants),
        )
        for r in rows:
            known.setdefault(variants[r["ref"]], (r["retailer_id"], r["id"]))
    vpas: set[str] = set()
    phones: set[str] = set()
    for line in lines:
        clues = clues_in(line)
        vpas.update(clues.vpas)
        phones.update(clues.phones)
    by_vpa: dict[str, int] = {}
    if vpas:
        rows = await conn.fetch(
            "SELECT id, vpa FROM retailers WHERE vpa = any($1::text[])", sorted(vpas)
        )
        by_vpa = {r["vpa"]: r["id"] for r in rows}
    by_phone: dict[str, int] = {}
    if phones:
        rows = await conn.fetch(
            "SELECT id, phone FROM retailers WHERE phone = any($1::text[])",
            [f"+91{p}" for p in sorted(phones)],
        )
        by_phone = {r["phone"].removeprefix("+91"): r["id"] for r in rows}
    owing: dict[int, tuple[int, ...]] = {}
    amounts = sorted({line.amount for line in lines})
    if amounts:
        rows = await conn.fetch(
            """SELECT retailer_id, outstanding FROM credit_accounts
               WHERE outstanding = any($1::bigint[]) ORDER BY retailer_id""",
            amounts,
        )
        for r in rows:
            owing[r["outstanding"]] = (*owing.get(r["outstanding"], ()), r["retailer_id"])
        for amount in amounts:
            owing.setdefault(amount, ())
    return MatchFacts(known_refs=known, vpas=by_vpa, phones=by_phone, owing=owing)


async def import_statement(
    conn: Conn,
    statement: Statement,
    *,
    file_name: str,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None = None,
) -> ImportResult:
    """Import a statement's credit lines (see the module docstring). Unprocessable
    `INVALID_STATEMENT`, with every problem of every bad row, when it has any: then nothing is
    imported, so a fixed file can simply be imported again. `tolerance` is the configured
    OVERDUE_TOLERANCE_PAISE, for lifting a SYSTEM pause a line pays."""
    if not statement.ok:
        raise Unprocessable(
            "INVALID_STATEMENT",
            f"{len(statement.problems)} row(s) of the statement have problems; nothing was "
            "imported",
            problems=problems_json(statement),
        )
    keys = line_keys(statement.lines)
    credits = [
        (line, key) for line, key in zip(statement.lines, keys, strict=True) if line.amount > 0
    ]
    seen = {
        r["external_id"]
        for r in await conn.fetch(
            """SELECT external_id FROM received_payments
               WHERE source = $1 AND external_id = any($2::text[])""",
            BANK,
            [key for _, key in credits],
        )
    }
    facts = await load_match_facts(conn, [line for line, key in credits if key not in seen])
    import_id: int = await conn.fetchval(
        """INSERT INTO bank_imports (file_name, layout, imported_by, created_at)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        file_name[:200],
        statement.layout,
        performed_by,
        now,
    )
    results: list[LineResult] = []
    for line in statement.lines:
        if line.amount < 0:
            results.append(LineResult(line.line_no, line.amount, line.reference, "DEBIT"))
    for line, key in credits:
        if key in seen:
            results.append(
                LineResult(line.line_no, line.amount, line.reference, "ALREADY_IMPORTED")
            )
            continue
        result, facts = await _take_line(
            conn, line, key, facts, import_id=import_id, performed_by=performed_by, now=now,
            tz=tz, tolerance=tolerance, renderer=renderer,
        )  # fmt: skip
        results.append(result)
    results.sort(key=lambda r: r.line_no)
    tally = Counter(r.status for r in results)
    counts = {
        "rows_skipped": statement.skipped,
        "credits": len(credits),
        "debits": tally["DEBIT"],
        "recorded": tally["RECORDED"],
        # Kept for the shape of earlier imports' counts: a line is never EXCESS now (what is
        # above the owed becomes advance: each line's `to_advance` says how much).
        "excess": tally["EXCESS"],
        "duplicates": tally["DUPLICATE"],
        "unmatched": tally["UNMATCHED"],
        "already_imported": tally["ALREADY_IMPORTED"],
    }
    await conn.execute("UPDATE bank_imports SET counts = $2 WHERE id = $1", import_id, counts)
    return ImportResult(import_id, statement.layout, counts, tuple(results))


async def _take_line(
    conn: Conn,
    line: BankLine,
    key: str,
    facts: MatchFacts,
    *,
    import_id: int,
    performed_by: str,
    now: datetime,
    tz: tzinfo,
    tolerance: int,
    renderer: Renderer | None,
) -> tuple[LineResult, MatchFacts]:
    async with conn.transaction():
        row, created = await claim_received(
            conn,
            source=BANK,
            external_id=key,
            received_on=line.txn_date,
            amount=line.amount,
            reference=line.reference,
            narration=line.narration,
            payer=None,
            now=now,
            import_id=import_id,
            line_no=line.line_no,
        )
        if not created:  # a concurrent import of the same line got there first
            return LineResult(line.line_no, line.amount, line.reference, "ALREADY_IMPORTED"), facts
        found = match_line(line, facts)
        if not isinstance(found, Match):
            await conn.execute(
                "UPDATE received_payments SET note = $2 WHERE id = $1", row.id, found.reason
            )
            result = LineResult(
                line.line_no, line.amount, line.reference, "UNMATCHED", reason=found.reason,
                received_id=row.id,
            )  # fmt: skip
            return result, facts
        taken = await take(
            conn, row, retailer_id=found.retailer_id, matched_by=found.by,
            performed_by=performed_by, now=now, tz=tz, tolerance=tolerance, renderer=renderer,
            duplicate_of=found.duplicate_of,
        )  # fmt: skip
    if taken.cleared:
        facts = facts.after_payment(
            found.retailer_id, taken.outstanding_before, taken.outstanding_after
        )
    result = LineResult(
        line.line_no, line.amount, line.reference, taken.status, retailer_id=found.retailer_id,
        matched_by=found.by, received_id=row.id, to_advance=taken.to_advance,
        reason=(
            f"UTR already recorded as payment {taken.duplicate_of}"
            if taken.status == "DUPLICATE"
            else None
        ),
    )  # fmt: skip
    return result, facts
