"""Tests run against real PostgreSQL and Redis.

`TEST_DATABASE_URL` / `TEST_REDIS_URL` point at running servers (CI uses the machine's own);
unset, an embedded PostgreSQL and Valkey are started for the session. Each test session works in
its own freshly created database (so parallel runs never meet), and every test that asks for `db`
starts from empty, migrated tables.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from bot.cli.deps import Deps, redis_client
from bot.clock import FixedClock
from bot.messages import Renderer
from bot.settings import Settings
from db.migrate import migrate
from db.pool import create_pool
from handlers.app import create_app

PUBLIC_BASE_URL = "https://bot.example.test"
TWILIO_API_URL = "https://twilio.test"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
ADMIN_TOKEN = "test-admin-token"
ADMIN_PHONE = "+919900000000"
WHATSAPP_FROM = "whatsapp:+14155238886"


_SLOW_NOT_RUN = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests run only when `-m` names them (`.ci/run` runs `-m slow`); otherwise they are
    left out, and the summary says so in one line."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    slow = [item for item in items if "slow" in item.keywords]
    if slow:
        items[:] = [item for item in items if "slow" not in item.keywords]
        config.hook.pytest_deselected(items=slow)
        config.stash[_SLOW_NOT_RUN] = len(slow)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    not_run = config.stash.get(_SLOW_NOT_RUN, 0)
    if not_run:
        terminalreporter.write_line(
            f"{not_run} slow tests not run: `pytest -m slow` runs them (.ci/run does)"
        )


@pytest.fixture(scope="session")
def database_server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from bot.cli.embedded import start_postgres

    tmp = Path(tempfile.mkdtemp(prefix="kirana-test-pg-"))
    server = start_postgres(tmp / "pg", delete_on_exit=True)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    from bot.cli.embedded import start_redis

    server = start_redis(None, persist=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def database_url(database_server_url: str) -> AsyncIterator[str]:
    """A database of this session's own, migrated; dropped at the end."""
    from bot.cli.embedded import database_url_for

    name = f"kirana_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(database_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url_for(database_server_url, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=2, max_size=20)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
async def table_names(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch(
        """SELECT tablename FROM pg_tables
           WHERE schemaname = 'public'
             AND tablename NOT IN ('schema_migrations', 'catalogue_version')"""
    )
    return [r["tablename"] for r in rows]


@pytest.fixture
async def db(pool: asyncpg.Pool, table_names: list[str]) -> asyncpg.Pool:
    """The pool, with every table emptied first."""
    await pool.execute(f"TRUNCATE {', '.join(table_names)} RESTART IDENTITY CASCADE")
    return pool


@pytest.fixture(scope="session")
def queue_name() -> str:
    return f"arq:test:{os.getpid()}:{secrets.token_hex(3)}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(database_url: str, redis_url: str, queue_name: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_whatsapp_from=WHATSAPP_FROM,
        twilio_api_url=TWILIO_API_URL,
        public_base_url=PUBLIC_BASE_URL,
        admin_api_token=ADMIN_TOKEN,
        admin_numbers=ADMIN_PHONE,
        arq_queue_name=queue_name,
        whatsapp_templates={},
        # Tests that are not about quiet hours must not depend on the hour they run at (some
        # use the real clock); tests of quiet hours set them (tests/test_quiet_hours.py).
        quiet_hours="off",
    )


@pytest.fixture
async def deps(db: asyncpg.Pool, settings: Settings, clock: FixedClock) -> AsyncIterator[Deps]:
    assert settings.redis_url
    redis = redis_client(settings.redis_url)
    http = httpx.AsyncClient()
    try:
        yield Deps(
            settings=settings, pool=db, redis=redis, http=http, clock=clock, renderer=Renderer()
        )
    finally:
        await http.aclose()
        await redis.aclose()


def make_app(settings: Settings, deps: Deps) -> Starlette:
    @asynccontextmanager
    async def shared() -> AsyncIterator[Deps]:
        yield deps

    return create_app(settings, deps_factory=shared)


@pytest.fixture
async def client(settings: Settings, deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (lifespan run, deps shared with the test)."""
    app = make_app(settings, deps)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
        ) as http,
    ):
        yield http


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
