"""`python -m bot <command>`: the command line of the service (called by `bot/__main__.py`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import uvicorn

from bot.cli import bank
from bot.cli import jobs as jobs_cli
from bot.cli.chat import add_arguments as add_chat_arguments
from bot.cli.chat import main as chat_main
from bot.cli.importer import import_csv
from bot.cli.local import NO_DATABASE, with_local_servers
from bot.cli.logs import setup_logging
from bot.cli.metrics import prepare_multiprocess
from bot.cli.operators import add_arguments as add_operators_arguments
from bot.cli.operators import main as operators_main
from bot.cli.run import run
from bot.clock import SystemClock
from bot.settings import Settings, SettingsError, load_settings
from db.migrate import migrate_url
from db.onboarding import check_admin_numbers
from db.pool import connect
from db.seed import seed_demo

Command = Callable[[argparse.Namespace, Settings], int]


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    return run(settings)


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print(f"error: {NO_DATABASE}", file=sys.stderr)
        return 2
    applied = asyncio.run(migrate_url(settings.database_url))
    print("applied: " + ", ".join(applied) if applied else "nothing to apply")
    return 0


def _cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print(f"error: {NO_DATABASE}", file=sys.stderr)
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
    if not settings.database_url:
        print(f"error: {NO_DATABASE}", file=sys.stderr)
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
            result = await import_csv(
                conn,
                args.kind,
                text,
                now=SystemClock().now(),
                admin_numbers=settings.admin_numbers,
            )
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


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here, not at the top: `jobs.worker` reads the environment when it is imported (arq
    # takes WorkerSettings' class attributes), which must not happen before `main` has reported a
    # bad setting in one line, nor for the commands that never run a worker.
    from jobs.worker import run

    run()
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    return chat_main(args, settings)


def _cmd_operators(args: argparse.Namespace, settings: Settings) -> int:
    return operators_main(args, settings)


def _cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    # WEB_CONCURRENCY (the usual platform variable) runs several processes on one port; their
    # metrics are then shared through a directory (`bot.cli.metrics`), set before they start.
    workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
    shared = prepare_multiprocess(workers)
    setup_logging()
    try:
        uvicorn.run(
            "handlers.app:app_from_env",
            factory=True,
            host=args.host,
            port=settings.port,
            access_log=False,  # one line per request is ours (handlers.observability)
            log_config=None,  # the logging is ours (LOG_FORMAT), uvicorn's lines included
            workers=workers,
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    return 0


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
        ("bank", "import a bank statement (match and record payments), list unmatched", bank.main),
        (
            "jobs",
            "list the scheduled jobs (next run, last run, outcome) or run one now",
            jobs_cli.main,
        ),
        (
            "chat",
            "chat with the local bot as a retailer (--as PHONE) or admin (--admin)",
            _cmd_chat,
        ),
        ("operators", "named operators: add, list, token, revoke, passwd", _cmd_operators),
    ]
    for name, help_text, func in commands:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name == "web":
            p.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a web service listens on all
        if name == "import":
            p.add_argument("kind", choices=["retailers", "products"])
            p.add_argument("file", help="CSV file with a header row (see bot/cli/importer.py)")
        if name == "bank":
            bank.add_arguments(p)
        if name == "jobs":
            jobs_cli.add_arguments(p)
        if name == "chat":
            add_chat_arguments(p)
        if name == "operators":
            add_operators_arguments(p)
    return parser


def _check_database(settings: Settings) -> None:
    """What start-up refuses that needs the database (an admin number that is a retailer's),
    checked before a server starts so the refusal is one line, like a bad setting's."""
    if not settings.database_url or not settings.admin_numbers:
        return
    url = settings.database_url

    async def go() -> None:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            return  # the server's own start reports an unreachable database
        try:
            await check_admin_numbers(conn, settings.admin_numbers)
        finally:
            await conn.close()

    asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.command in ("web", "worker"):
            _check_database(settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command != "run":  # `run` starts the servers the others look for
        settings = with_local_servers(settings)
    try:
        result: int = args.func(args, settings)
    except (OSError, asyncpg.PostgresError) as exc:
        if args.command not in _DATABASE_COMMANDS:
            raise
        # A database that is down (or a local service stopped since): one line, not a traceback.
        print(f"error: cannot use the database: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return result


# Commands that connect to the database and end: a connection that fails is the person's to fix.
_DATABASE_COMMANDS = frozenset({"migrate", "seed", "import", "bank"})
