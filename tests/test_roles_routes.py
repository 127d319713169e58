"""Role x action for every admin API route and every console route, generated from the app's
own routes: a route added without its action (an `AdminRoute` / `ConsoleRoute`) fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from starlette.routing import BaseRoute, Mount

from bot.cli.deps import Deps
from bot.roles import MIN_ROLE, ROLES, Role, allows, refusal
from db import operators as ops
from handlers import admin, console
from handlers.admin.auth import AdminRoute
from handlers.console.guard import ConsoleRoute
from handlers.console.security import PREFIX as CONSOLE
from tests.conftest import ADMIN_TOKEN
from tests.console_support import add_operator, console_client, signed_in, with_secret
from tests.ledger_support import NOW, credit_order, make_product, make_retailer

SAMPLE_PARAMS = {
    # Operators and tokens that do not exist: an owner's request must not end the test's own
    # sessions or tokens (an allowed request may answer 404 or 422, never 401 or 403).
    "retailer": "1", "order": "1", "job": "evaluate_guardrails", "operator": "999", "token": "999",
    "id": "999", "product": "999",
}  # fmt: skip


def _sample(path: str) -> str:
    for name, value in SAMPLE_PARAMS.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"add a sample for the parameter in {path}"
    return path


def _walk(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    out: list[tuple[str, BaseRoute]] = []
    for route in routes:
        if isinstance(route, Mount):
            if route.path.endswith("/static"):
                continue
            out.extend(_walk(list(route.routes), prefix + route.path))
        else:
            out.append((prefix + getattr(route, "path", ""), route))
    return out


def _cases(routes: list[BaseRoute], kind: type) -> list[tuple[str, str, str]]:
    """(method, sample path, action) of every route; every one must say its action."""
    cases = []
    for path, route in _walk(routes):
        if path in (f"{CONSOLE}/sign-in", f"{CONSOLE}/sign-out", f"{CONSOLE}/"):
            continue  # the public doors of the console
        assert isinstance(route, kind), f"{path} has no action: make it an {kind.__name__}"
        for method in sorted(set(route.methods or ()) - {"HEAD"}):
            cases.append((method, _sample(path), route.action.value))
    return cases


API_CASES = _cases(admin.routes, AdminRoute)
CONSOLE_CASES = _cases(console.routes, ConsoleRoute)


def test_the_routes_are_read() -> None:
    assert ("POST", "/api/v1/admin/payment/record", "record_payment") in API_CASES
    assert ("DELETE", "/api/v1/admin/operators/999/tokens/999", "operators") in API_CASES
    assert ("POST", "/admin/retailers/1/payment", "record_payment") in CONSOLE_CASES
    assert len(API_CASES) >= 23 and len(CONSOLE_CASES) >= 15


@pytest.fixture
async def tokens(db: asyncpg.Pool) -> dict[Role, str]:
    async with db.acquire() as conn:
        out = {}
        for role in ROLES:
            operator = await add_operator(conn, f"{role.value} person", role)
            issued = await ops.issue_token(
                conn, operator.id, label="test", performed_by="test", now=NOW
            )
            out[role] = issued.token
        return out


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path, action", API_CASES)
async def test_api_role_x_route(
    client: httpx.AsyncClient, tokens: dict[Role, str], role: Role, method: str, path: str,
    action: str,
) -> None:  # fmt: skip
    r = await client.request(
        method, path, headers={"Authorization": f"Bearer {tokens[role]}"}, json={}
    )
    needed = MIN_ROLE[next(a for a in MIN_ROLE if a.value == action)]
    if allows(role, next(a for a in MIN_ROLE if a.value == action)):
        assert r.status_code not in (401, 403), (r.status_code, r.text)
    else:
        assert r.status_code == 403, r.text
        error = r.json()["error"]
        assert error["code"] == "FORBIDDEN_ROLE"
        assert error["message"].endswith(f"needs the {needed.value} role")


@pytest.mark.parametrize("method, path, action", API_CASES)
async def test_api_bootstrap_token_is_an_owner(
    client: httpx.AsyncClient, method: str, path: str, action: str
) -> None:
    r = await client.request(
        method, path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, json={}
    )
    assert r.status_code not in (401, 403), (r.status_code, r.text)


@pytest.fixture
async def sessions(
    deps: Deps, db: asyncpg.Pool
) -> AsyncIterator[dict[Role, tuple[httpx.AsyncClient, str]]]:
    cd = with_secret(deps)
    keys = [k async for k in cd.redis.scan_iter(f"{cd.settings.arq_queue_name}:console:*")]
    if keys:
        await cd.redis.delete(*keys)
    async with db.acquire() as conn:
        for role in ROLES:
            await add_operator(conn, f"{role.value} person", role)
    out = {}
    clients = []
    for role in ROLES:
        manager = console_client(cd)
        http = await manager.__aenter__()
        clients.append(manager)
        out[role] = (http, await signed_in(http, f"{role.value} person"))
    try:
        yield out
    finally:
        for manager in clients:
            await manager.__aexit__(None, None, None)


async def test_console_role_x_route(sessions: dict[Role, tuple[httpx.AsyncClient, str]]) -> None:
    # One test walks every case (signing in four operators per case would be slow).
    for method, path, action_value in CONSOLE_CASES:
        action = next(a for a in MIN_ROLE if a.value == action_value)
        for role, (http, csrf) in sessions.items():
            data = {"csrf": csrf} if method == "POST" else None
            r = await http.request(method, path, data=data)
            if allows(role, action):
                assert (r.status_code != 403 and r.status_code != 303) or (
                    r.status_code == 303 and "sign-in" not in r.headers["location"]
                ), (role, method, path, r.status_code)
            else:
                assert r.status_code == 403, (role, method, path, r.status_code)
                assert refusal(action).capitalize() in r.text


async def test_console_pages_show_only_the_forms_a_role_may_submit(
    sessions: dict[Role, tuple[httpx.AsyncClient, str]], db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, "+919812345678")
        order = await credit_order(conn, rid, await make_product(conn, "X", 100_00), 2)
    forms = {
        f"/admin/retailers/{rid}/payment": Role.COLLECTOR,
        f"/admin/retailers/{rid}/adjust": Role.MANAGER,
        f"/admin/retailers/{rid}/pause": Role.MANAGER,
        f"/admin/retailers/{rid}/limits": Role.MANAGER,
        f"/admin/orders/{order.order_id}/fail": Role.MANAGER,
    }
    for role, (http, _) in sessions.items():
        page = (await http.get(f"/admin/retailers/{rid}")).text
        for url, needed in forms.items():
            assert (f'action="{url}"' in page) is (role.rank >= needed.rank), (role, url)
        board = (await http.get("/admin/orders")).text
        assert (f'action="/admin/orders/{order.order_id}/fail"' in board) is (
            role.rank >= Role.MANAGER.rank
        )
        jobs = (await http.get("/admin/jobs")).text
        assert ('action="/admin/jobs/' in jobs) is (role is Role.OWNER)
        assert ('href="/admin/operators"' in jobs) is (role is Role.OWNER)
