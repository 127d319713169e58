"""What the benchmark scripts share: throwaway databases, a started service, figures for RESULTS.md.

Every script runs on its own (`python bench/NAME.py`) and prints its figures; with `--json FILE`
it also writes them as rows for `bench/run_all.py` (`make bench`), which puts them in one table.

Databases are named `$BENCH_DB_PREFIX_<random>` (default `kirana_bench_<pid>`), so `run_all.py`
can drop whatever a script it stopped left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
import psutil

from bot.cli.embedded import database_url_for

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parent.parent


def server_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)


def database_name() -> str:
    prefix = os.environ.get("BENCH_DB_PREFIX") or f"kirana_bench_{os.getpid()}"
    return f"{prefix}_{secrets.token_hex(3)}"


async def create_database(name: str) -> str:
    admin = await asyncpg.connect(server_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return database_url_for(server_url(), name)


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(server_url())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def drop_databases_like(prefix: str) -> list[str]:
    """Drop every database whose name starts with `prefix` (what stopped scripts left)."""
    admin = await asyncpg.connect(server_url())
    try:
        names = [
            r["datname"]
            for r in await admin.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
            )
        ]
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 1e6
    except psutil.Error:
        return 0.0


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a web or worker process of the benchmark: this database and Redis, no
    Twilio or payments unless `extra` sets them, quiet logs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "RAZORPAY_", "BENCH_"))
        and k not in ("PAYMENT_PROVIDER", "WHATSAPP_TEMPLATES", "UPI_ID", "PUBLIC_BASE_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url(),
        LOG_LEVEL="WARNING",
        ADMIN_NUMBERS="",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path | None = None) -> Iterator[int]:
    """A child process (`python -m bot ...`) for the block's duration: SIGINT at the end, then
    SIGKILL if it has not stopped within 15 s. Yields its pid."""
    out = open(log, "wb") if log else None  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=ROOT,
                            stdout=out, stderr=subprocess.STDOUT if out else None)  # fmt: skip
    try:
        yield proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if out:
            out.close()


@contextlib.contextmanager
def web_server(database_url: str, **extra: str) -> Iterator[tuple[str, int]]:
    """`python -m bot web` (one uvicorn process, as in production) on a free port, with
    PUBLIC_BASE_URL its own address; yields that and its pid once it answers /health. Its output
    goes to a log file in the temporary folder (named on failure)."""
    import urllib.request

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(database_url, PORT=str(port), PUBLIC_BASE_URL=base, **extra)
    log = Path(tempfile.gettempdir()) / f"bench-web-{port}.log"
    with process(["web", "--host", "127.0.0.1"], env, log) as pid:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the web process on {base} did not become healthy: see {log}")
            time.sleep(0.2)
        yield base, pid


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of seconds, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


@dataclass
class Figure:
    """One line of bench/RESULTS.md: what was measured, its value, the target, and whether the
    target was met (None: a figure for information, with no target)."""

    benchmark: str
    what: str
    figure: str
    target: str = ""
    passed: bool | None = None


class Figures:
    """The figures of one script; written to `--json FILE` when given."""

    def __init__(self, benchmark: str, path: str | None, command: str) -> None:
        self.benchmark = benchmark
        self.path = path
        self.command = command
        self.items: list[Figure] = []

    def add(self, what: str, figure: str, target: str = "", passed: bool | None = None) -> None:
        self.items.append(Figure(self.benchmark, what, figure, target, passed))

    def write(self) -> None:
        if self.path:
            Path(self.path).write_text(
                json.dumps({"command": self.command, "figures": [asdict(f) for f in self.items]})
            )
