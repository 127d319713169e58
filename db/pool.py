"""The asyncpg pool, with JSON columns decoded to Python objects."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import asyncpg
import asyncpg.pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Run when a connection goes back to the pool. asyncpg's default also sends
    `UNLISTEN *; RESET ALL; CLOSE ALL; pg_advisory_unlock_all()`, a round trip per request; this
    code never sets session state on pooled connections (no SET, LISTEN, cursors or advisory
    locks: the migration runner uses a connection of its own), so only an open transaction
    needs undoing."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(database_url: str, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections decode JSON/JSONB; `min_size`/`max_size` may be overridden."""
    options: dict[str, Any] = {
        "min_size": 1,
        "max_size": 10,
        "command_timeout": 30,
        "reset": _reset_connection,
        # The queries are short OLTP statements; JIT compiling one costs more than it saves.
        "server_settings": {"jit": "off"},
    }
    options.update(kwargs)
    pool = await asyncpg.create_pool(database_url, init=_init_connection, **options)
    assert pool is not None
    return pool


async def connect(database_url: str) -> asyncpg.Connection:
    """One connection with the same codecs as the pool (scripts, benchmarks, tests)."""
    conn = await asyncpg.connect(database_url)
    await _init_connection(conn)
    return conn


# What query functions take: a plain connection or one acquired from the pool.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


def atomic(conn: Conn) -> AbstractAsyncContextManager[object]:
    """A transaction when `conn` is in none; inside the caller's, nothing (no SAVEPOINT and
    RELEASE round trips). Only for code that raises before its first write: the caller's
    transaction holds its writes, and the caller's rollback undoes them."""
    return nullcontext() if conn.is_in_transaction() else conn.transaction()
