"""Every console route is a `ConsoleRoute` naming the action it performs (`bot.roles.Action`).

Its endpoint runs only after these checks, in this order:
1. the console is configured (SESSION_SECRET), else 503;
2. a live session from the signed cookie, else a redirect to sign-in (`next` = this page, for a
   GET);
3. for a POST, the form's CSRF token equals the session's (constant time), else 403;
4. the operator's role allows the route's action (`bot.roles.MIN_ROLE`), else 403.
Refusals the handler raises (`db.errors.AppError`) become an HTML page with their status; forms
catch their own to show the refusal beside the form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast
from urllib.parse import urlencode

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.cli.deps import Deps
from bot.clock import business_date
from bot.roles import Action, Caller, refusal
from db import operators as ops
from db.errors import AppError
from handlers.console import security
from handlers.console.render import render

Handler = Callable[["Console"], Awaitable[Response]]


@dataclass
class Console:
    """One console request: the operator's session and, for a POST, the form's fields."""

    request: Request
    deps: Deps
    session: ops.Session
    form: dict[str, str] = field(default_factory=dict)

    @property
    def caller(self) -> Caller:
        return self.session.operator.caller

    @property
    def today(self) -> date:
        return business_date(self.deps.clock.now(), self.deps.settings.tz)

    def may(self, action: str) -> bool:
        return self.caller.may(Action(action))

    def context(self, **extra: Any) -> dict[str, Any]:
        """What every page's template reads, and `extra`."""
        return {
            "operator": self.session.operator,
            "csrf": self.session.csrf_token,
            "flash": self.session.flash,
            "tz": self.deps.settings.tz,
            "can": self.may,
            "today": self.today,
            "path": self.request.url.path,
            "error": None,
            "error_form": None,
            "values": {},
            **extra,
        }

    async def page(self, template: str, status: int = 200, **extra: Any) -> HTMLResponse:
        """Render a page; a flash message shown on it is used up."""
        if self.session.flash and self.request.method == "GET":
            async with self.deps.pool.acquire() as conn:
                await ops.clear_flash(conn, self.session.id)
        return render(template, self.context(**extra), status)

    async def done(self, url: str, message: str) -> RedirectResponse:
        """After a form succeeds: the message for the next page, and a redirect to it (303, so
        a reload does not post again)."""
        async with self.deps.pool.acquire() as conn:
            await ops.set_flash(conn, self.session.id, message)
        return RedirectResponse(url, status_code=303)


def deps_of(request: Request) -> Deps:
    return cast(Deps, request.state.deps)


def closed_page() -> HTMLResponse:
    return render(
        "message.html",
        {
            "title": "Console closed",
            "message": "The console is closed: SESSION_SECRET is not configured.",
            "operator": None,
        },
        503,
    )


def message_page(status: int, title: str, message: str, console: Console | None) -> HTMLResponse:
    context: dict[str, Any] = console.context() if console else {"operator": None}
    context.update(title=title, message=message)
    return render("message.html", context, status)


async def read_form(request: Request) -> dict[str, str]:
    """The form's text fields. A blank field is left out: an empty input or the "none" option of
    a select is how a form says "not given", which the API's readers know as an absent field.
    (Files are not expected and are dropped.)"""
    form = await request.form()
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and v.strip()}


def checkbox(form: dict[str, str], name: str) -> bool | None:
    """A ticked checkbox as the JSON `true` the API's readers take (unticked sends nothing)."""
    return True if name in form else None


async def load_session(request: Request, deps: Deps) -> tuple[str, ops.Session] | None:
    """The raw session id and the live session of the signed cookie, or None."""
    secret = deps.settings.session_secret
    assert secret is not None
    name, _ = security.cookie_names(deps.settings.secure_cookies)
    raw = security.unsign(secret, request.cookies.get(name))
    if raw is None:
        return None
    async with deps.pool.acquire() as conn:
        session = await ops.get_session(conn, raw, deps.clock.now())
    return (raw, session) if session else None


def sign_in_redirect(request: Request) -> RedirectResponse:
    url = f"{security.PREFIX}/sign-in"
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if target != security.PREFIX:
            url += "?" + urlencode({"next": target})
    return RedirectResponse(url, status_code=303)


def guarded(handler: Handler, action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        deps = deps_of(request)
        if request.method == "POST":
            # Read first: a body over MAX_BODY_BYTES is a 413 whatever else is wrong.
            await request.body()
        if not deps.settings.session_secret:
            return closed_page()
        loaded = await load_session(request, deps)
        if loaded is None:
            return sign_in_redirect(request)
        console = Console(request, deps, loaded[1])
        if request.method == "POST":
            console.form = await read_form(request)
            if not security.tokens_match(
                console.session.csrf_token, console.form.pop("csrf", None)
            ):
                return message_page(
                    403, "Form expired", "This form is out of date: open the page again.", console
                )
        if not console.caller.may(action):
            return message_page(403, "Not allowed", refusal(action).capitalize() + ".", console)
        try:
            return await handler(console)
        except AppError as exc:
            return message_page(exc.status, "Cannot do that", exc.message, console)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


class ConsoleRoute(Route):
    """A console route and the action it performs (read by the role tests, too)."""

    def __init__(
        self,
        path: str,
        handler: Handler,
        *,
        action: Action,
        methods: Sequence[str] = ("GET",),
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        self.action = action
        super().__init__(
            path, guarded(handler, action), methods=list(methods), middleware=middleware
        )
