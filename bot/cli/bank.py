"""`python -m bot bank import FILE` and `python -m bot bank unmatched` (DESIGN section 10).

`import` reads a bank statement (the generic `date,amount,narration,reference` layout, the
common Indian banks' exports, or any other by naming its columns), then matches and records its
credit lines like `POST /api/v1/admin/bank/import`; a file with a bad row is refused whole, each
problem printed as `FILE:LINE: problem`. `unmatched` lists what is left for an operator.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.bank import ColumnMap, UnreadableStatement, read_statement
from bot.cli.local import NO_DATABASE
from bot.clock import SystemClock
from bot.messages import Renderer
from bot.money import format_inr
from bot.settings import Settings
from db.bank import ImportResult, import_statement
from db.errors import AppError
from db.payments import get_unmatched
from db.pool import connect

# Who the audit log names for what a command-line import records.
PERFORMED_BY = "cli"

COLUMN_FLAGS = (
    ("--date-col", "date", "the transaction date"),
    ("--narration-col", "narration", "the narration or description"),
    ("--reference-col", "reference", "the UTR or reference"),
    ("--amount-col", "amount", "a signed amount (or with --type-col)"),
    ("--credit-col", "credit", "credits (deposits)"),
    ("--debit-col", "debit", "debits (withdrawals)"),
    ("--type-col", "kind", "Dr/Cr of --amount-col"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    imp = actions.add_parser("import", help="import a statement CSV (see README, Payments)")
    imp.add_argument("file", help="the bank's CSV export, or date,amount,narration,reference")
    for flag, role, what in COLUMN_FLAGS:
        imp.add_argument(flag, dest=role, default=None, metavar="NAME", help=f"column of {what}")
    unmatched = actions.add_parser("unmatched", help="list received money with no retailer")
    unmatched.add_argument("--limit", type=int, default=100)


def main(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print(f"error: {NO_DATABASE}", file=sys.stderr)
        return 2
    if args.action == "unmatched":
        return asyncio.run(_unmatched(settings.database_url, args.limit))
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # Windows exports; every byte decodes
    mapping = ColumnMap(**{role: getattr(args, role) for _, role, _ in COLUMN_FLAGS})
    try:
        statement = read_statement(text, mapping)
    except UnreadableStatement as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    if not statement.ok:
        for problem in statement.problems:
            for what in problem.problems:
                print(f"{args.file}:{problem.line_no}: {what}", file=sys.stderr)
        print(f"nothing imported: {len(statement.problems)} bad row(s)", file=sys.stderr)
        return 1

    async def go() -> ImportResult:
        conn = await connect(settings.database_url or "")
        try:
            return await import_statement(
                conn, statement, file_name=Path(args.file).name, performed_by=PERFORMED_BY,
                now=SystemClock().now(), tz=settings.tz,
                tolerance=settings.overdue_tolerance_paise, renderer=Renderer(),
            )  # fmt: skip
        finally:
            await conn.close()

    try:
        result = asyncio.run(go())
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    for line in result.lines:
        if line.status == "DEBIT":
            continue
        who = f" retailer {line.retailer_id} by {line.matched_by}" if line.retailer_id else ""
        why = f" ({line.reason})" if line.reason else ""
        if line.to_advance:
            why += f" ({format_inr(line.to_advance)} of it became advance)"
        print(f"line {line.line_no}: {format_inr(line.amount)} {line.status}{who}{why}")
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    print(f"import #{result.import_id} ({result.layout}): {counts}")
    return 0


async def _unmatched(url: str, limit: int) -> int:
    conn = await connect(url)
    try:
        rows = await get_unmatched(conn, limit=limit)
    finally:
        await conn.close()
    for r in rows:
        print(
            f"#{r.id} {r.source} {r.received_on} {format_inr(r.amount)} "
            f"ref {r.reference or '-'}: {r.narration[:60]} ({r.note or 'no retailer found'})"
        )
    print(f"{len(rows)} unmatched")
    return 0
