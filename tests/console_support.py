"""Helpers for the console's tests: an app with a SESSION_SECRET, operators, signing in."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager

from bot.cli.deps import Deps
from bot.roles import Role
from db import operators as ops
from db.pool import Conn
from tests.conftest import PUBLIC_BASE_URL, make_app
from tests.ledger_support import NOW

SESSION_SECRET = "test-session-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def with_secret(deps: Deps, secret: str | None = SESSION_SECRET) -> Deps:
    settings = deps.settings.model_copy(update={"session_secret": secret})
    return dataclasses.replace(deps, settings=settings)


@asynccontextmanager
async def console_client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app in-process; redirects are not followed (tests look at them)."""
    app = make_app(deps.settings, deps)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=PUBLIC_BASE_URL
        ) as http,
    ):
        yield http


async def add_operator(
    conn: Conn, name: str, role: Role, *, phone: str | None = None, password: str = PASSWORD
) -> ops.Operator:
    return await ops.create_operator(
        conn, name=name, role=role, phone=phone, password=password, performed_by="test", now=NOW
    )


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf field on the page"
    return match.group(1)


async def sign_in(
    http: httpx.AsyncClient, login: str, password: str = PASSWORD, next_url: str = "/admin"
) -> httpx.Response:
    page = await http.get("/admin/sign-in")
    assert page.status_code == 200, page.text
    return await http.post(
        "/admin/sign-in",
        data={"csrf": csrf_of(page.text), "login": login, "password": password, "next": next_url},
    )


async def signed_in(http: httpx.AsyncClient, login: str) -> str:
    """Sign in and return a CSRF token of the session (from the dashboard)."""
    r = await sign_in(http, login)
    assert r.status_code == 303, r.text
    page = await http.get("/admin")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
