"""`python -m bot <command>`: the command line of the service."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable

from bot.settings import Settings, SettingsError, load_settings

Command = Callable[[argparse.Namespace, Settings], int]


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.run import run

    return run(settings)


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from db.migrate import migrate_url

    if not settings.database_url:
        print("error: DATABASE_URL is not set", file=sys.stderr)
        return 2
    applied = asyncio.run(migrate_url(settings.database_url))
    print("applied: " + ", ".join(applied) if applied else "nothing to apply")
    return 0


def _cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from db.pool import connect
    from db.seed import seed_demo

    if not settings.database_url:
        print("error: DATABASE_URL is not set", file=sys.stderr)
        return 2
    url = settings.database_url

    async def go() -> bool:
        conn = await connect(url)
        try:
            return await seed_demo(conn)
        finally:
            await conn.close()

    print(
        "demo data loaded"
        if asyncio.run(go())
        else "database already has retailers; nothing loaded"
    )
    return 0


def _cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.clock import SystemClock
    from bot.importer import import_csv
    from db.pool import connect

    if not settings.database_url:
        print("error: DATABASE_URL is not set", file=sys.stderr)
        return 2
    url = settings.database_url
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2

    async def go() -> int:
        conn = await connect(url)
        try:
            result = await import_csv(conn, args.kind, text, now=SystemClock().now())
        finally:
            await conn.close()
        for error in result.errors:
            print(f"{args.file}: {error}", file=sys.stderr)
        if not result.ok:
            print(f"nothing imported: {len(result.errors)} error(s)", file=sys.stderr)
            return 1
        print(f"imported {result.imported} {args.kind}")
        return 0

    return asyncio.run(go())


def _cmd_bank(args: argparse.Namespace, settings: Settings) -> int:
    """`bank import FILE`: match and record a bank statement's credits; `bank unmatched`: what
    is left for an operator (assign with the admin API)."""
    from pathlib import Path

    from bot.bank import ColumnMap, UnreadableStatement, read_statement
    from bot.clock import SystemClock
    from bot.messages import Renderer
    from bot.money import format_inr
    from db.bank import import_statement
    from db.errors import AppError
    from db.payments import get_unmatched
    from db.pool import connect

    if not settings.database_url:
        print("error: DATABASE_URL is not set", file=sys.stderr)
        return 2
    url = settings.database_url

    async def unmatched() -> int:
        conn = await connect(url)
        try:
            rows = await get_unmatched(conn, limit=args.limit)
        finally:
            await conn.close()
        for r in rows:
            print(
                f"#{r.id} {r.source} {r.received_on} {format_inr(r.amount)} "
                f"ref {r.reference or '-'}: {r.narration[:60]} ({r.note or 'no retailer found'})"
            )
        print(f"{len(rows)} unmatched")
        return 0

    if args.action == "unmatched":
        return asyncio.run(unmatched())
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    mapping = ColumnMap(
        date=args.date_col, narration=args.narration_col, reference=args.reference_col,
        amount=args.amount_col, credit=args.credit_col, debit=args.debit_col, kind=args.type_col,
    )  # fmt: skip
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

    async def go() -> int:
        conn = await connect(url)
        try:
            result = await import_statement(
                conn, statement, file_name=Path(args.file).name, performed_by="cli",
                now=SystemClock().now(), tz=settings.tz, renderer=Renderer(),
            )  # fmt: skip
        except AppError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await conn.close()
        for line in result.lines:
            if line.status == "DEBIT":
                continue
            who = f" retailer {line.retailer_id} by {line.matched_by}" if line.retailer_id else ""
            why = f" ({line.reason})" if line.reason else ""
            print(f"line {line.line_no}: {format_inr(line.amount)} {line.status}{who}{why}")
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        print(f"import #{result.import_id} ({result.layout}): {counts}")
        return 0

    return asyncio.run(go())


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from arq.worker import run_worker

    from jobs.worker import WorkerSettings

    run_worker(WorkerSettings)  # type: ignore[arg-type]
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chat import main as chat_main

    return chat_main(args, settings)


def _cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    uvicorn.run(
        "handlers.app:app_from_env",
        factory=True,
        host=args.host,
        port=settings.port,
        access_log=False,
        # WEB_CONCURRENCY (the usual platform variable) runs several processes on one port.
        workers=int(os.environ.get("WEB_CONCURRENCY", "1")),
    )
    return 0


def _bank_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    imp = actions.add_parser("import", help="import a statement CSV (see README, Payments)")
    imp.add_argument("file", help="the bank's CSV export, or date,amount,narration,reference")
    for flag, what in (
        ("--date-col", "the transaction date"),
        ("--narration-col", "the narration or description"),
        ("--reference-col", "the UTR or reference"),
        ("--amount-col", "a signed amount (or with --type-col)"),
        ("--credit-col", "credits (deposits)"),
        ("--debit-col", "debits (withdrawals)"),
        ("--type-col", "Dr/Cr of --amount-col"),
    ):
        imp.add_argument(flag, default=None, metavar="NAME", help=f"column holding {what}")
    unmatched = actions.add_parser("unmatched", help="list received money with no retailer")
    unmatched.add_argument("--limit", type=int, default=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="WhatsApp ordering and retailer credit operations."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    commands: list[tuple[str, str, Command]] = [
        ("run", "start everything locally (embedded servers when no URLs are set)", _cmd_run),
        ("web", "serve the web app (Procfile: web)", _cmd_web),
        ("worker", "run the arq worker: schedules and outbox (Procfile: worker)", _cmd_worker),
        ("migrate", "apply pending database migrations (Procfile: release)", _cmd_migrate),
        ("seed", "load demo data into an empty database", _cmd_seed),
        ("import", "import retailers or products from a CSV file (all or nothing)", _cmd_import),
        ("bank", "import a bank statement (match and record payments), list unmatched", _cmd_bank),
        (
            "chat",
            "chat with the local bot as a retailer (--as PHONE) or admin (--admin)",
            _cmd_chat,
        ),
    ]
    for name, help_text, func in commands:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name == "web":
            p.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a web service listens on all
        if name == "import":
            p.add_argument("kind", choices=["retailers", "products"])
            p.add_argument("file", help="CSV file with a header row (see bot/importer.py)")
        if name == "bank":
            _bank_arguments(p)
        if name == "chat":
            from bot.chat import add_arguments

            add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
