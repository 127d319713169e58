"""The asyncpg pool, with JSON columns decoded to Python objects."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import asyncpg.pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def create_pool(database_url: str, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections decode JSON/JSONB; `min_size`/`max_size` may be overridden."""
    options: dict[str, Any] = {"min_size": 1, "max_size": 10, "command_timeout": 30}
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
