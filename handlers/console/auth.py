"""Sign in (name or phone, and password) and sign out.

A sign-in makes a new session with a new random id and ends any session the browser still
carried, so an id planted before sign-in is never the signed-in one (no session fixation). The
form itself is CSRF-protected by a pre-sign-in cookie. Failures are counted (`security`), and
over the limit the password is not checked at all.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.cli.deps import Deps
from bot.phone import mask_phone
from db import operators as ops
from handlers.console import security
from handlers.console.guard import closed_page, deps_of, load_session, read_form
from handlers.console.render import render

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
PRE_LIFETIME_SECONDS = 60 * 60


def _set_cookie(response: Response, deps: Deps, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=deps.settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def _sign_in_page(
    deps: Deps,
    request: Request,
    *,
    next_url: str,
    error: str | None = None,
    login: str = "",
    status: int = 200,
    notice: str | None = None,
) -> HTMLResponse:
    secret = deps.settings.session_secret
    assert secret is not None
    _, pre_name = security.cookie_names(deps.settings.secure_cookies)
    pre = request.cookies.get(pre_name)
    fresh = pre is None or not 20 <= len(pre) <= 100
    if fresh:
        pre = secrets.token_urlsafe(32)
    assert pre is not None
    response = render(
        "sign_in.html",
        {
            "operator": None,
            "csrf": security.pre_csrf_token(secret, pre),
            "next": next_url,
            "error": error,
            "notice": notice,
            "login": login,
        },
        status,
    )
    if fresh:
        _set_cookie(response, deps, pre_name, pre, PRE_LIFETIME_SECONDS)
    return response


async def sign_in_form(request: Request) -> Response:
    deps = deps_of(request)
    if not deps.settings.session_secret:
        return closed_page()
    next_url = security.safe_next(request.query_params.get("next"))
    if await load_session(request, deps) is not None:
        return RedirectResponse(next_url, status_code=303)
    notice = "You have signed out." if request.query_params.get("out") == "1" else None
    return _sign_in_page(deps, request, next_url=next_url, notice=notice)


def _address(request: Request) -> str:
    # uvicorn fills `client` from X-Forwarded-For only for trusted proxies
    # (FORWARDED_ALLOW_IPS), so a client cannot pick its own address here.
    return request.client.host if request.client else "-"


async def sign_in(request: Request) -> Response:
    deps = deps_of(request)
    await request.body()  # first: a body over the limit is a 413 whatever else is wrong
    form = await read_form(request)
    secret = deps.settings.session_secret
    if not secret:
        return closed_page()
    next_url = security.safe_next(form.get("next"))
    session_name, pre_name = security.cookie_names(deps.settings.secure_cookies)
    pre = request.cookies.get(pre_name)
    if pre is None or not security.tokens_match(
        security.pre_csrf_token(secret, pre), form.get("csrf")
    ):
        return render(
            "message.html",
            {
                "operator": None,
                "title": "Form expired",
                "message": "The sign-in form is out of date: open it again.",
            },
            403,
        )
    login = form.get("login", "").strip()[:100]
    password = form.get("password", "")
    key = ops.name_key(login)
    address = _address(request)
    try:
        if await security.over_limit(deps, key, address):
            log.warning("console sign-in refused (too many failures): %s", mask_phone(login))
            return _sign_in_page(
                deps,
                request,
                next_url=next_url,
                login=login,
                status=429,
                error="Too many failed sign-ins. Wait 15 minutes and try again.",
            )
        async with deps.pool.acquire() as conn:
            found = await ops.get_login(conn, login) if login else None
        ok = await ops.check_password(found[1] if found else None, password)
        if not ok or found is None:
            await security.count_failure(deps, key, address)
            return _sign_in_page(
                deps,
                request,
                next_url=next_url,
                login=login,
                status=401,
                error="That name or password is not right.",
            )
        await security.forget_failures(deps, key)
    except security.LimitUnavailable:
        log.exception("console sign-in: Redis unavailable")
        return _sign_in_page(
            deps,
            request,
            next_url=next_url,
            login=login,
            status=503,
            error="Sign-in is unavailable for a moment (the failure counter cannot be reached).",
        )
    operator, stored_hash = found
    old = security.unsign(secret, request.cookies.get(session_name))
    async with deps.pool.acquire() as conn:
        if old is not None:
            await ops.end_session(conn, old)
        raw, _ = await ops.start_session(
            conn, operator.id, now=deps.clock.now(), lifetime=SESSION_LIFETIME
        )
        if ops.needs_rehash(stored_hash):
            await ops.rehash_password(conn, operator.id, password)
    log.info("console: operator %s signed in", operator.id)
    response = RedirectResponse(next_url, status_code=303)
    _set_cookie(
        response,
        deps,
        session_name,
        security.sign(secret, raw),
        int(SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(pre_name, path="/", secure=deps.settings.secure_cookies)
    return response


async def sign_out(request: Request) -> Response:
    """POST only, with the session's CSRF token (a link elsewhere cannot sign anyone out)."""
    deps = deps_of(request)
    await request.body()  # first: a body over the limit is a 413 whatever else is wrong
    form = await read_form(request)
    if not deps.settings.session_secret:
        return closed_page()
    loaded = await load_session(request, deps)
    session_name, _ = security.cookie_names(deps.settings.secure_cookies)
    if loaded is not None:
        if not security.tokens_match(loaded[1].csrf_token, form.get("csrf")):
            return render(
                "message.html",
                {
                    "operator": None,
                    "title": "Form expired",
                    "message": "This form is out of date: open the page again.",
                },
                403,
            )
        async with deps.pool.acquire() as conn:
            await ops.end_session(conn, loaded[0])
    response = RedirectResponse(f"{security.PREFIX}/sign-in?out=1", status_code=303)
    response.delete_cookie(session_name, path="/", secure=deps.settings.secure_cookies)
    return response


routes = [
    Route("/sign-in", sign_in_form, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
