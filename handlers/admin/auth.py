"""Who is calling the admin API, and whether their role may: checked before any handler runs.

`AdminAuth` is the middleware of the admin `Mount`. For a request that names one of the admin
routes it reads `Authorization: Bearer <token>`:
- `ADMIN_API_TOKEN` (compared in constant time) is the bootstrap owner, audited as "api";
- an operator's API token (`db.operators`, stored as its SHA-256) is that operator, audited as
  `operator:<id>:<name>`, with their role;
and puts the `Caller` on `request.state.caller` (read it with `caller_of`). A missing or wrong
token is `Unauthorized` (401 with `WWW-Authenticate: Bearer`); with no ADMIN_API_TOKEN configured
and no operator's token given, `Unavailable` (503), as before operators.

Each route is an `AdminRoute` naming its action (`bot.roles.Action`); a caller whose role does
not allow it gets `Forbidden` 403 `FORBIDDEN_ROLE` ("... needs the manager role") before the
handler runs. A route without an action is refused to all but owners (and fails the role test).
A path or method that names no admin route is left to the router (404, 405), as Starlette
answers any unknown path: authentication belongs to the routes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Any, cast

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.cli.deps import Deps
from bot.roles import TOKEN_HOLDER, Action, Caller, refusal
from db.errors import Forbidden, Unauthorized, Unavailable
from db.operators import TOKEN_PREFIX, authenticate_token


class AdminRoute(Route):
    """An admin API route and the action it performs (what the role check and its test read)."""

    def __init__(
        self, path: str, endpoint: Callable[..., Any], *, methods: list[str], action: Action
    ) -> None:
        self.action = action
        super().__init__(path, endpoint, methods=methods)


async def authenticate(headers: Headers, deps: Deps) -> Caller:
    """The caller a request's `Authorization` header proves; Unauthorized or Unavailable."""
    expected = deps.settings.admin_api_token
    scheme, _, raw = headers.get("authorization", "").partition(" ")
    token = raw.strip()
    if scheme.lower() == "bearer" and token.startswith(TOKEN_PREFIX):
        async with deps.pool.acquire() as conn:
            operator = await authenticate_token(conn, token, deps.clock.now())
        if operator is not None:
            return operator.caller
    if not expected:
        raise Unavailable(
            "ADMIN_API_DISABLED", "the admin API is closed: ADMIN_API_TOKEN is not configured"
        )
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("UNAUTHORIZED", "a valid admin bearer token is required")
    return TOKEN_HOLDER


def check_role(caller: Caller, route: BaseRoute) -> None:
    """Forbidden (403 FORBIDDEN_ROLE) when the caller's role may not do what `route` does."""
    action = route.action if isinstance(route, AdminRoute) else Action.OPERATORS
    if not caller.may(action):
        raise Forbidden("FORBIDDEN_ROLE", refusal(action))


class AdminAuth:
    """Pure ASGI middleware: authenticate every request that reaches one of `routes`, then check
    the caller's role against the route's action."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope) if scope["type"] == "http" else None
        if route is not None:
            deps: Deps = HTTPConnection(scope).state.deps
            caller = await authenticate(Headers(scope=scope), deps)
            check_role(caller, route)
            # A dict of this request's own: the lifespan state may be one dict shared by every
            # request (asgi-lifespan shares it; uvicorn copies it), and callers must not leak.
            scope["state"] = {**scope.get("state", {}), "caller": caller}
        await self.app(scope, receive, send)

    def _route(self, scope: Scope) -> BaseRoute | None:
        """The route this request reaches fully (path and method), if any."""
        for route in self.routes:
            if route.matches(scope)[0] is Match.FULL:
                return route
        return None


def caller_of(request: Request) -> Caller:
    """The caller `AdminAuth` authenticated for this request."""
    return cast(Caller, request.state.caller)


def deps_of(request: Request) -> Deps:
    """The app's shared objects (the lifespan state)."""
    return cast(Deps, request.state.deps)
