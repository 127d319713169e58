"""The pure core stays pure: every module under `bot/`, except the wiring in `bot/cli/` and the
`python -m bot` shim, decides without I/O, so it is tested as tables in milliseconds.

Each module is parsed with `ast` (never imported) and fails the test when it
- imports asyncpg, httpx, arq, starlette, redis, uvicorn, psutil, subprocess or socket (I/O),
  os or pydantic_settings (environment readers), `db`, `handlers` or `jobs` (the layers above),
  `bot.cli` (the wiring) or `bot.settings` (a decision takes its policy as arguments; the wiring
  builds the settings and passes what is needed);
- names a reader of the real clock: `datetime.now`/`utcnow`/`today`, `date.today`, `time.time`,
  `time.monotonic` and the like (called or passed, e.g. as a `default_factory`).

`db/` may import the pure modules, never the wiring, `handlers` or `jobs`, so `bot` and `db` do not
import each other.

Allowed exceptions, each listed in `ALLOWED` (a stale entry fails the test too):
- `bot/clock.py` names `datetime.now`: `SystemClock` is the one real clock; everything else takes
  `now` from an injected `Clock`.
- `bot/settings.py` imports `pydantic_settings`: it is the one place the environment is read, once,
  by the wiring at start (`bot.cli`, `handlers.app`, `jobs.worker`). It stays in `bot/` rather
  than moving to `bot/cli/` because its validators (business time zone, admin phone numbers, the
  templates' JSON) are the core's rules, DESIGN section 1 places settings in `bot/`, and no pure
  module imports it (checked above), so no decision reads the environment.

Judged pure without an exception: `bot/messages.py` has Jinja load this package's own template
files (read-only data shipped with the code, the same on every run); `bot/money.py` (Babel) and
`bot/phone.py` (phonenumbers) read locale and numbering data the same way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

WIRING = ("bot/cli/", "bot/__main__.py")

BANNED_IMPORTS = (
    "asyncpg", "httpx", "arq", "starlette", "redis", "uvicorn", "psutil", "subprocess", "socket",
    "os", "pydantic_settings",
    "db", "handlers", "jobs", "bot.cli", "bot.settings",
)  # fmt: skip

# What `db/` may not import: the layers above it and the wiring.
DB_BANNED_IMPORTS = ("handlers", "jobs", "bot.cli")

CLOCK_READERS = frozenset(
    {
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.localtime",
        "time.gmtime",
    }
)

# (module path, what it may import or name): the only exceptions, with the reasons above.
ALLOWED = frozenset(
    {
        ("bot/clock.py", "datetime.datetime.now"),
        ("bot/settings.py", "pydantic_settings"),
    }
)


def _module_name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.Module, module: str, *, is_package: bool = False) -> set[str]:
    """Every module `tree` imports, absolute; `from a import b` counts as `a` and `a.b`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def clock_readers(tree: ast.Module) -> set[str]:
    """The real-clock readers `tree` names, resolved through its imports (`dt.now` with
    `from datetime import datetime as dt` is `datetime.datetime.now`)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute):
            dotted = _dotted(node)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            if head in aliases:
                dotted = ".".join(filter(None, [aliases[head], rest]))
            if dotted in CLOCK_READERS:
                found.add(dotted)
    return found


def _problems(rel: str, source: str, banned: tuple[str, ...], *, clock: bool = True) -> set[str]:
    """The banned packages `source` imports (by their banned name) and, when `clock`, the clock
    readers it names; less what `ALLOWED` lets this module do."""
    tree = ast.parse(source, filename=rel)
    modules = imported_modules(tree, _module_name(rel), is_package=rel.endswith("__init__.py"))
    found = {b for b in banned for m in modules if m == b or m.startswith(b + ".")}
    if clock:
        found |= clock_readers(tree)
    return found - {what for path, what in ALLOWED if path == rel}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


PURE = sorted(_rel(p) for p in (ROOT / "bot").rglob("*.py") if not _rel(p).startswith(WIRING))
DB = sorted(_rel(p) for p in (ROOT / "db").rglob("*.py"))


# --- the checker itself, as a table --------------------------------------------------------------


@pytest.mark.parametrize(
    "source, problems",
    [
        ("import asyncpg", {"asyncpg"}),
        ("import os.path", {"os"}),
        ("from os import environ", {"os"}),
        ("from db.pool import Conn", {"db"}),
        ("from db import ledger", {"db"}),
        ("from jobs.registry import JOBS", {"jobs"}),
        ("from bot import settings", {"bot.settings"}),
        ("from bot.cli.deps import Deps", {"bot.cli"}),
        ("from . import settings", {"bot.settings"}),
        ("from .cli import deps", {"bot.cli"}),
        ("import httpx as h", {"httpx"}),
        ("from starlette.requests import Request", {"starlette"}),
        ("from pydantic_settings import BaseSettings", {"pydantic_settings"}),
        ("import dbm", set()),
        ("import osmosis", set()),
        ("from bot.credit import MAX_DAYS", set()),
        ("from bot.clock import Clock, business_date", set()),
        ("from datetime import datetime\nx = datetime.now()", {"datetime.datetime.now"}),
        ("from datetime import datetime as dt\nx = dt.utcnow()", {"datetime.datetime.utcnow"}),
        ("import datetime\nx = datetime.date.today()", {"datetime.date.today"}),
        ("import datetime as d\nx = d.datetime.now", {"datetime.datetime.now"}),
        ("from datetime import date\nf = date.today", {"datetime.date.today"}),
        ("import time\nx = time.time()", {"time.time"}),
        ("from time import monotonic\nx = monotonic()", {"time.monotonic"}),
        ("from datetime import datetime\nx = datetime(2026, 1, 15)", set()),
        ("from datetime import datetime\ndef f(now: datetime) -> int: return now.day", set()),
        ("from datetime import time\nx = time(10, 0)", set()),
    ],
)
def test_the_checker(source: str, problems: set[str]) -> None:
    assert _problems("bot/example.py", source, BANNED_IMPORTS) == problems


# --- the tree -------------------------------------------------------------------------------------


def test_the_pure_core_is_found() -> None:
    assert {"bot/credit.py", "bot/clock.py", "bot/settings.py", "bot/admin_commands.py"} <= set(
        PURE
    )
    assert not [p for p in PURE if p.startswith("bot/cli/")]


@pytest.mark.parametrize("rel", PURE)
def test_pure_module_does_no_io(rel: str) -> None:
    source = (ROOT / rel).read_text(encoding="utf-8")
    assert _problems(rel, source, BANNED_IMPORTS) == set()


@pytest.mark.parametrize("rel", DB)
def test_db_imports_only_the_pure_core(rel: str) -> None:
    source = (ROOT / rel).read_text(encoding="utf-8")
    assert _problems(rel, source, DB_BANNED_IMPORTS, clock=False) == set()


@pytest.mark.parametrize("rel, what", sorted(ALLOWED))
def test_every_allowed_exception_is_still_needed(rel: str, what: str) -> None:
    tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
    found = imported_modules(tree, _module_name(rel)) | clock_readers(tree)
    assert what in found, f"{rel} no longer needs its exception for {what}: remove it"
