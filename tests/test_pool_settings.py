"""DATABASE_STATEMENT_CACHE_SIZE reaches asyncpg (0 behind PgBouncer in transaction mode), and the
pool then still answers every kind of query the service sends."""

from __future__ import annotations

from bot.cli.deps import open_deps
from bot.settings import Settings


async def test_statement_cache_can_be_turned_off(settings: Settings) -> None:
    off = settings.model_copy(update={"database_statement_cache_size": 0})
    async with open_deps(off) as deps, deps.pool.acquire() as conn:
        assert conn._con._stmt_cache.get_max_size() == 0  # type: ignore[attr-defined]
        for _ in range(3):  # the same statement again is prepared again, unnamed
            assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
        async with conn.transaction():
            assert await conn.fetchval("SELECT count(*) FROM retailers") >= 0
    async with open_deps(settings) as deps, deps.pool.acquire() as conn:
        assert conn._con._stmt_cache.get_max_size() == 100  # type: ignore[attr-defined]
