"""The console's defences: sign-in required, CSRF, session fixation, open redirects, headers,
the sign-in failure limit, and a console without SESSION_SECRET."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from starlette.routing import Mount

from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.roles import Role
from handlers import console
from handlers.console import security
from handlers.console.guard import ConsoleRoute
from tests.console_support import (
    PASSWORD,
    SESSION_SECRET,
    add_operator,
    console_client,
    csrf_of,
    sign_in,
    signed_in,
    with_secret,
)


@pytest.fixture
async def cdeps(deps: Deps) -> AsyncIterator[Deps]:
    cd = with_secret(deps)
    keys = [k async for k in cd.redis.scan_iter(f"{cd.settings.arq_queue_name}:console:*")]
    if keys:
        await cd.redis.delete(*keys)
    yield cd


@pytest.fixture
async def http(cdeps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with console_client(cdeps) as client:
        yield client


@pytest.fixture
async def manager(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await add_operator(conn, "Asha Rao", Role.MANAGER, phone="+919811111111")


def console_routes() -> list[tuple[str, str]]:
    """(method, path with sample ids) of every guarded console route."""
    found = []
    for route in console.routes:
        inner = route.routes if isinstance(route, Mount) else [route]
        for r in inner:
            if isinstance(r, ConsoleRoute):
                path = security.PREFIX + r.path if isinstance(route, Mount) else r.path
                path = (
                    path.replace("{retailer}", "1").replace("{operator}", "1")
                    .replace("{token}", "1").replace("{job}", "auto_pause")
                    .replace("{order}", "1")
                )  # fmt: skip
                found.extend((m, path) for m in sorted(r.methods or ()) if m != "HEAD")
    return found


ROUTES = console_routes()


def test_the_route_list_is_read() -> None:
    assert ("GET", "/admin") in ROUTES and ("POST", "/admin/operators") in ROUTES


@pytest.mark.parametrize("method, path", ROUTES)
async def test_every_page_and_form_needs_a_session(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    r = await http.request(method, path, data={"csrf": "x"} if method == "POST" else None)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/admin/sign-in")
    if method == "GET" and path != "/admin":
        assert location == "/admin/sign-in?next=" + path.replace("/", "%2F")
    assert r.headers["content-security-policy"] == security.CSP


async def test_sign_in_and_out(http: httpx.AsyncClient, manager: None) -> None:
    r = await sign_in(http, "asha rao", next_url="/admin/retailers?q=x")
    assert r.status_code == 303 and r.headers["location"] == "/admin/retailers?q=x"
    cookie = r.headers["set-cookie"]
    for part in ("__Host-console=", "HttpOnly", "Path=/", "SameSite=lax", "Secure"):
        assert part.lower() in cookie.lower(), part
    page = await http.get("/admin")
    assert page.status_code == 200 and "Asha Rao" in page.text and "manager" in page.text
    # Signed in, the sign-in page sends you on.
    assert (await http.get("/admin/sign-in")).status_code == 303
    old = http.cookies.get("__Host-console")
    out = await http.post("/admin/sign-out", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/admin/sign-in?out=1"
    assert (await http.get("/admin")).status_code == 303
    # The old cookie is dead on the server too, not only forgotten by the browser.
    http.cookies.set("__Host-console", old or "", domain="bot.example.test")
    assert (await http.get("/admin")).status_code == 303


async def test_sign_in_by_phone_and_refusals(http: httpx.AsyncClient, manager: None) -> None:
    assert (await sign_in(http, "98111 11111")).status_code == 303
    http.cookies.clear()
    wrong = await sign_in(http, "asha rao", "wrong password!")
    assert wrong.status_code == 401 and "not right" in wrong.text
    unknown = await sign_in(http, "nobody", PASSWORD)
    assert unknown.status_code == 401 and unknown.text.count("not right") == 1


async def test_post_without_csrf_is_refused(http: httpx.AsyncClient, manager: None) -> None:
    csrf = await signed_in(http, "asha rao")
    for data in ({}, {"csrf": ""}, {"csrf": csrf + "x"}):
        r = await http.post("/admin/sign-out", data=data)
        assert r.status_code == 403, data
        r = await http.post("/admin/jobs/auto_pause/run", data=data)
        assert r.status_code == 403 and "out of date" in r.text
    assert (await http.get("/admin")).status_code == 200  # still signed in
    # The sign-in form has its own token, tied to the pre-sign-in cookie.
    http.cookies.clear()
    await http.get("/admin/sign-in")
    r = await http.post(
        "/admin/sign-in", data={"csrf": "forged", "login": "asha rao", "password": PASSWORD}
    )
    assert r.status_code == 403


async def test_no_session_fixation(
    http: httpx.AsyncClient, manager: None, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        await add_operator(conn, "Mallory", Role.VIEWER)
    # A session id planted before sign-in (even a well-signed one) is never the one after.
    planted = security.sign(SESSION_SECRET, "planted-session-id-0123456789")
    http.cookies.set("__Host-console", planted, domain="bot.example.test")
    assert (await sign_in(http, "asha rao")).status_code == 303
    assert http.cookies.get("__Host-console") not in (None, planted)
    # An attacker's own live session planted in the victim's browser: the victim's sign-in
    # makes a new session and ends the planted one, which never gains the victim's role.
    async with console_client_like(http) as attacker, console_client_like(http) as victim:
        assert (await sign_in(attacker, "mallory")).status_code == 303
        mallory = attacker.cookies.get("__Host-console")
        assert mallory
        form = await victim.get("/admin/sign-in")
        victim.cookies.set("__Host-console", mallory, domain="bot.example.test")
        r = await victim.post(
            "/admin/sign-in",
            data={"csrf": csrf_of(form.text), "login": "asha rao", "password": PASSWORD},
        )
        assert r.status_code == 303
        assert victim.cookies.get("__Host-console") not in (None, mallory)
        assert "Asha Rao" in (await victim.get("/admin")).text
        assert (await attacker.get("/admin")).status_code == 303


def console_client_like(http: httpx.AsyncClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=http._transport, base_url=http.base_url)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/admin/retailers/5", "/admin/retailers/5"),
        ("/admin/retailers?q=ram&status=PAUSED", "/admin/retailers?q=ram&status=PAUSED"),
        ("/admin", "/admin"),
        ("https://evil.example/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/\\evil.example", "/admin"),
        ("\\\\evil.example", "/admin"),
        ("/admin/../webhooks", "/admin"),
        ("javascript:alert(1)", "/admin"),
        ("/administrator", "/admin"),
        ("/admin\r\nLocation: x", "/admin"),
        ("/health", "/admin"),
        ("", "/admin"),
        (None, "/admin"),
    ],
)
def test_safe_next(target: str | None, expected: str) -> None:
    assert security.safe_next(target) == expected


async def test_no_open_redirect_after_sign_in(http: httpx.AsyncClient, manager: None) -> None:
    r = await sign_in(http, "asha rao", next_url="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    page = await http.get("/admin/sign-in?next=//evil.example")
    assert page.headers["location"] == "/admin"


async def test_security_headers(http: httpx.AsyncClient, manager: None) -> None:
    responses = [
        await http.get("/admin/sign-in"),
        await http.get("/admin/static/console.css"),
        await http.get("/admin"),
    ]
    await signed_in(http, "asha rao")
    responses += [await http.get("/admin"), await http.get("/admin/operators")]  # 200, 403
    assert [r.status_code for r in responses] == [200, 200, 303, 200, 403]
    for r in responses:
        assert r.headers["content-security-policy"] == security.CSP
        assert "script-src 'none'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert responses[3].headers["cache-control"] == "no-store"
    assert responses[1].headers["content-type"].startswith("text/css")
    # No inline script or style anywhere (the CSP would block them).
    for r in responses:
        assert "<script" not in r.text and "style=" not in r.text and "<style" not in r.text


async def test_failures_are_limited_per_name(http: httpx.AsyncClient, manager: None) -> None:
    for _ in range(security.MAX_FAILURES_PER_NAME):
        assert (await sign_in(http, "Asha Rao", "wrong password!")).status_code == 401
    # Over the limit even the right password is not checked.
    r = await sign_in(http, "ASHA RAO", PASSWORD)
    assert r.status_code == 429 and "Too many" in r.text
    assert (await http.get("/admin")).status_code == 303


async def test_failures_are_limited_per_address(
    http: httpx.AsyncClient, manager: None, cdeps: Deps
) -> None:
    for i in range(security.MAX_FAILURES_PER_ADDRESS):
        assert (await sign_in(http, f"guess {i}", "wrong password!")).status_code == 401
    assert (await sign_in(http, "asha rao", PASSWORD)).status_code == 429


async def test_a_right_password_clears_the_names_count(
    http: httpx.AsyncClient, manager: None
) -> None:
    for _ in range(security.MAX_FAILURES_PER_NAME - 1):
        assert (await sign_in(http, "asha rao", "wrong password!")).status_code == 401
    assert (await sign_in(http, "asha rao")).status_code == 303
    http.cookies.clear()
    assert (await sign_in(http, "asha rao", "wrong password!")).status_code == 401
    assert (await sign_in(http, "asha rao")).status_code == 303


async def test_console_closed_without_a_secret(deps: Deps) -> None:
    async with console_client(with_secret(deps, None)) as http:
        for path in ("/admin", "/admin/sign-in", "/admin/retailers"):
            r = await http.get(path)
            assert r.status_code == 503 and "SESSION_SECRET" in r.text
            assert r.headers["content-security-policy"] == security.CSP


async def test_an_inactive_operator_is_signed_out(
    http: httpx.AsyncClient, manager: None, db: asyncpg.Pool
) -> None:
    await signed_in(http, "asha rao")
    await db.execute("UPDATE operators SET active = FALSE")
    assert (await http.get("/admin")).status_code == 303


async def test_a_session_ends_after_its_lifetime(
    http: httpx.AsyncClient, manager: None, clock: FixedClock
) -> None:
    await signed_in(http, "asha rao")
    clock.advance(hours=11, minutes=59)
    assert (await http.get("/admin")).status_code == 200
    clock.advance(minutes=1)
    assert (await http.get("/admin")).status_code == 303
