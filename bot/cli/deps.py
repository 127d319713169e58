"""The one deps object, built by the same function for the web app's lifespan and the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import httpx
from arq.connections import ArqRedis

from bot.clock import Clock, SystemClock
from bot.messages import Renderer
from bot.settings import Settings
from db.catalogue import CatalogueCache
from db.onboarding import check_admin_numbers
from db.pool import create_pool


@dataclass(frozen=True)
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    redis: ArqRedis
    http: httpx.AsyncClient
    clock: Clock
    renderer: Renderer
    # This process's copy of the catalogue (re-read when the database's version moves).
    catalogue: CatalogueCache = field(default_factory=CatalogueCache)


def redis_client(url: str) -> ArqRedis:
    """An arq Redis client that connects lazily, so a Redis outage shows in /health, not at boot."""
    return ArqRedis.from_url(url, socket_connect_timeout=2, socket_timeout=5)  # type: ignore[no-any-return]


@asynccontextmanager
async def open_deps(
    settings: Settings,
    *,
    clock: Clock | None = None,
    pool_size: int | None = None,
) -> AsyncIterator[Deps]:
    """Open the pool (DATABASE_POOL_SIZE connections unless `pool_size` says), the Redis client
    and the HTTP client; close them on exit. SettingsError when an admin number is a retailer's."""
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("DATABASE_URL and REDIS_URL must be set (the run command sets them)")
    pool = await create_pool(
        settings.database_url,
        max_size=pool_size or settings.database_pool_size,
        statement_cache_size=settings.database_statement_cache_size,
    )
    try:
        # Web and worker alike refuse to start when an admin number is a retailer's (SettingsError).
        async with pool.acquire() as conn:
            await check_admin_numbers(conn, settings.admin_numbers)
    except BaseException:
        await pool.close()
        raise
    redis = redis_client(settings.redis_url)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    try:
        yield Deps(
            settings=settings,
            pool=pool,
            redis=redis,
            http=http,
            clock=clock or SystemClock(),
            renderer=Renderer(),
        )
    finally:
        await http.aclose()
        await redis.aclose()
        await pool.close()
