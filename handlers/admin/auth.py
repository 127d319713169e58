"""Who is calling the admin API: the bearer token is checked before any handler runs.

`AdminAuth` is the middleware of the admin `Mount`. For a request that names one of the admin
routes it compares `Authorization: Bearer <token>` with `ADMIN_API_TOKEN` in constant time and
puts the caller on `request.state.caller` (read it with `caller_of`); a missing or wrong token is
`Unauthorized` (401 with `WWW-Authenticate: Bearer`), no token configured is `Unavailable` (503).
A path or method that names no admin route is left to the router (404, 405), as Starlette answers
any unknown path: authentication belongs to the routes.

Today the one caller is the `ADMIN_API_TOKEN` holder, an owner audited as "api"; named operators
with roles (DESIGN section 10) become other `Caller`s, and a role check reads `caller.role`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.cli.deps import Deps
from bot.settings import Settings
from db.errors import Unauthorized, Unavailable


class Role(StrEnum):
    """Operator roles, each allowed what the ones before it are (DESIGN section 10)."""

    VIEWER = "viewer"
    COLLECTOR = "collector"
    MANAGER = "manager"
    OWNER = "owner"


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: the name its changes are audited under, and its role."""

    performed_by: str
    role: Role


# The holder of ADMIN_API_TOKEN: the bootstrap owner, audited as "api".
TOKEN_HOLDER = Caller(performed_by="api", role=Role.OWNER)


def authenticate(headers: Headers, settings: Settings) -> Caller:
    """The caller a request's `Authorization` header proves; Unauthorized or Unavailable."""
    expected = settings.admin_api_token
    if not expected:
        raise Unavailable(
            "ADMIN_API_DISABLED", "the admin API is closed: ADMIN_API_TOKEN is not configured"
        )
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise Unauthorized("UNAUTHORIZED", "a valid admin bearer token is required")
    return TOKEN_HOLDER


class AdminAuth:
    """Pure ASGI middleware: authenticate every request that reaches one of `routes`."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._reaches_a_route(scope):
            deps: Deps = HTTPConnection(scope).state.deps
            caller = authenticate(Headers(scope=scope), deps.settings)
            # A dict of this request's own: the lifespan state may be one dict shared by every
            # request (asgi-lifespan shares it; uvicorn copies it), and callers must not leak.
            scope["state"] = {**scope.get("state", {}), "caller": caller}
        await self.app(scope, receive, send)

    def _reaches_a_route(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)


def caller_of(request: Request) -> Caller:
    """The caller `AdminAuth` authenticated for this request."""
    return cast(Caller, request.state.caller)


def deps_of(request: Request) -> Deps:
    """The app's shared objects (the lifespan state)."""
    return cast(Deps, request.state.deps)
