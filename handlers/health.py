"""GET /health: 200 when PostgreSQL and Redis answer, 503 naming what is down."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.cli.deps import Deps

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0


async def _check_database(deps: Deps) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await deps.pool.fetchval("SELECT 1")
        return "ok"
    except Exception as exc:  # a health check reports every failure, whatever its kind
        log.warning("health: database check failed: %s", type(exc).__name__)
        return "down"


async def _check_redis(deps: Deps) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await deps.redis.ping()
        return "ok"
    except Exception as exc:  # a health check reports every failure, whatever its kind
        log.warning("health: redis check failed: %s", type(exc).__name__)
        return "down"


async def health(request: Request) -> JSONResponse:
    deps: Deps = request.state.deps
    database, redis = await asyncio.gather(_check_database(deps), _check_redis(deps))
    checks = {"database": database, "redis": redis}
    down = [name for name, state in checks.items() if state != "ok"]
    body: dict[str, object] = {"status": "ok" if not down else "down", **checks}
    if down:
        body["down"] = down
    return JSONResponse(body, status_code=503 if down else 200)


routes = [Route("/health", health, methods=["GET"])]
