"""`python -m bot operators ...`: named operators from the command line.

    operators add NAME --role ROLE [--phone P]   prints a generated password, once
    operators list
    operators token NAME [--label L]             prints a new API token, once
    operators revoke TOKEN_ID
    operators passwd NAME                        prints a new generated password, once

The database is DATABASE_URL, or the running `make run`'s (`bot.cli.local`).
Changes are audited as performed by "cli" (whoever can run this holds the database anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from bot.cli.local import NO_DATABASE
from bot.clock import SystemClock
from bot.roles import ROLES
from bot.settings import Settings
from db import operators as ops
from db.errors import AppError
from db.pool import Conn, connect

PERFORMED_BY = "cli"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="operators_command", metavar="SUBCOMMAND")
    sub.required = True
    add = sub.add_parser("add", help="add an operator; prints a generated password once")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in ROLES])
    add.add_argument("--phone", help="WhatsApp number (E.164) allowed to send admin commands")
    sub.add_parser("list", help="operators, roles, tokens")
    token = sub.add_parser("token", help="issue an API token; prints it once")
    token.add_argument("name", help="operator name, id or phone")
    token.add_argument("--label", default="", help="what the token is for")
    revoke = sub.add_parser("revoke", help="revoke an API token by its id")
    revoke.add_argument("token_id", type=int)
    passwd = sub.add_parser("passwd", help="set a new generated password; prints it once")
    passwd.add_argument("name", help="operator name, id or phone")


def main(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database_url
    if not url:
        print(f"error: {NO_DATABASE}", file=sys.stderr)
        return 2
    actions: dict[str, Callable[[Conn, argparse.Namespace], Awaitable[int]]] = {
        "add": _add,
        "list": _list,
        "token": _token,
        "revoke": _revoke,
        "passwd": _passwd,
    }
    action = actions[args.operators_command]

    async def go() -> int:
        conn = await connect(url)
        try:
            return await action(conn, args)
        except AppError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await conn.close()

    return asyncio.run(go())


async def _add(conn: Conn, args: argparse.Namespace) -> int:
    password = ops.new_password()
    operator = await ops.create_operator(
        conn,
        name=ops.clean_name(args.name),
        role=ops.clean_role(args.role),
        phone=ops.clean_phone(args.phone),
        password=password,
        performed_by=PERFORMED_BY,
        now=SystemClock().now(),
    )
    print(f"operator {operator.id} {operator.name} ({operator.role.value}) added")
    print(f"password: {password}")
    print("(shown once: `operators passwd NAME` sets a new one)")
    return 0


async def _list(conn: Conn, args: argparse.Namespace) -> int:
    rows = await ops.list_operators(conn)
    if not rows:
        print("no operators yet (ADMIN_API_TOKEN and ADMIN_NUMBERS act as owners)")
        return 0
    print(f"{'id':>4}  {'name':<24} {'role':<10} {'phone':<16} {'tokens':>6}  active")
    for row in rows:
        o = row.operator
        print(
            f"{o.id:>4}  {o.name:<24} {o.role.value:<10} {o.phone or '-':<16} "
            f"{row.active_tokens:>6}  {'yes' if o.active else 'no'}"
        )
        for t in await ops.list_tokens(conn, o.id):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
            print(f"        token {t.id} {t.label or '(no label)'}: {state}, {used}")
    return 0


async def _find(conn: Conn, ref: str) -> ops.Operator | None:
    operator = await ops.find_operator(conn, ref)
    if operator is None:
        print(f"error: no operator {ref}", file=sys.stderr)
    return operator


async def _token(conn: Conn, args: argparse.Namespace) -> int:
    operator = await _find(conn, args.name)
    if operator is None:
        return 1
    issued = await ops.issue_token(
        conn, operator.id, label=args.label, performed_by=PERFORMED_BY, now=SystemClock().now()
    )
    print(f"token {issued.id} for {operator.name} ({operator.role.value}):")
    print(issued.token)
    print("(shown once: use it as `Authorization: Bearer <token>`)")
    return 0


async def _revoke(conn: Conn, args: argparse.Namespace) -> int:
    token = await ops.revoke_token(
        conn, args.token_id, performed_by=PERFORMED_BY, now=SystemClock().now()
    )
    print(f"token {token.id} revoked")
    return 0


async def _passwd(conn: Conn, args: argparse.Namespace) -> int:
    operator = await _find(conn, args.name)
    if operator is None:
        return 1
    password = ops.new_password()
    await ops.set_password(
        conn, operator.id, password, performed_by=PERFORMED_BY, now=SystemClock().now()
    )
    print(f"new password for {operator.name}: {password}")
    print("(shown once; their console sessions have ended)")
    return 0
