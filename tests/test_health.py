from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from bot.cli.deps import Deps, redis_client
from tests.conftest import PUBLIC_BASE_URL, make_app


async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_health_names_redis_when_it_is_down(deps: Deps) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    down = Deps(
        settings=deps.settings,
        pool=deps.pool,
        redis=redis_client("redis://127.0.0.1:1/0"),
        http=deps.http,
        clock=deps.clock,
        renderer=deps.renderer,
    )
    app = make_app(deps.settings, down)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
        ) as http,
    ):
        response = await http.get("/health")
    await down.redis.aclose()
    assert response.status_code == 503
    body = response.json()
    assert body["redis"] == "down"
    assert body["database"] == "ok"
    assert body["down"] == ["redis"]


async def test_health_names_database_when_it_is_down(deps: Deps, database_url: str) -> None:
    from db.pool import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=1)
    await pool.close()
    broken = Deps(
        settings=deps.settings,
        pool=pool,
        redis=deps.redis,
        http=deps.http,
        clock=deps.clock,
        renderer=deps.renderer,
    )
    app = make_app(deps.settings, broken)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
        ) as http,
    ):
        response = await http.get("/health")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
