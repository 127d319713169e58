"""One log line and one histogram observation per request, the request id, and GET /metrics.

`Observe` is the app's outermost middleware (pure ASGI, a few microseconds a request): it takes
the client's `X-Request-Id` when it is sane (1 to 64 of `A-Za-z0-9._:-`) or makes one, echoes it
in the response, sets `bot.cli.logs.REQUEST_ID` for every line logged meanwhile, and at the end
logs `method route status duration` (JSON fields `method`, `route`, `status`, `duration_ms`,
`request_id`, plus what the handler added with `note`) and observes
`kirana_http_request_duration_seconds`. The route is the matched route's path template
(`/api/v1/admin/credit/{retailer}`), never the raw path: no ids or phone numbers in labels or in
the line; a path no route matched is `unmatched`.

`GET /metrics` answers Prometheus' text format to `Authorization: Bearer $METRICS_TOKEN` (compared
in constant time); without METRICS_TOKEN it is closed (404), so metrics are never public by
default. The outbox gauges are read from PostgreSQL as it answers (`db.outbox_queries.
get_outbox_depth`: counts over partial indexes, one round trip, at most `DEPTH_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.cli import metrics
from bot.cli.deps import Deps
from bot.cli.logs import REQUEST_ID
from db.errors import NotFound, Unauthorized
from db.outbox_queries import get_outbox_depth

log = logging.getLogger("kirana.request")

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NOTES = "kirana.notes"
DEPTH_TIMEOUT = 2.0


def note(request: Request, **fields: Any) -> None:
    """Add fields to this request's log line (phone numbers masked by the caller)."""
    request.scope.setdefault(NOTES, {}).update(fields)


def request_id_from(scope: Scope) -> str:
    """The client's X-Request-Id when sane, else a new random one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _SANE_ID.fullmatch(text):
                return text
            break
    return secrets.token_hex(8)


def route_template(scope: Scope, root_path: str) -> str:
    """The matched route's path template, mounts' prefixes included ("unmatched" for none).
    A mount's prefix is read from the path it matched: the mounts here have no parameters."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    prefix: str = scope.get("root_path", "")[len(root_path) :]
    if isinstance(route, Mount):  # its prefix is in root_path already; what is below is open
        return prefix + "/{path}"
    return prefix + str(getattr(route, "path", ""))


class Observe:
    """Pure ASGI middleware: request id, one log line and one histogram sample per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Label children by (method, route, status): `labels()` validates and locks each time.
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope)
        token = REQUEST_ID.set(request_id)
        root_path = scope.get("root_path", "")
        status = 500  # what the server answers when the app raises before answering
        echo = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = route_template(scope, root_path)
            key = (method, route, status)
            child = self._children.get(key)
            if child is None:
                child = metrics.HTTP_REQUESTS.labels(method, route, str(status))
                self._children[key] = child
            child.observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                self._log(scope, method, route, status, elapsed * 1000)
            REQUEST_ID.reset(token)

    @staticmethod
    def _log(scope: Scope, method: str, route: str, status: int, ms: float) -> None:
        notes: dict[str, Any] = scope.get(NOTES) or {}
        words = "".join(f" {k}={v}" for k, v in notes.items())
        log.info(
            "%s %s %d %.1f ms%s",
            method,
            route,
            status,
            ms,
            words,
            extra={
                "request_id": REQUEST_ID.get(),
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(ms, 2),
                **notes,
            },
        )


async def metrics_endpoint(request: Request) -> Response:
    deps: Deps = request.state.deps
    expected = deps.settings.metrics_token
    if not expected:
        raise NotFound("NOT_FOUND", "not found")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise Unauthorized("UNAUTHORIZED", "a valid metrics bearer token is required")
    try:
        async with asyncio.timeout(DEPTH_TIMEOUT), deps.pool.acquire() as conn:
            metrics.OUTBOX.depth = await get_outbox_depth(conn, deps.clock.now())
    except Exception as exc:  # the scrape still answers; the outbox gauges are left out
        metrics.OUTBOX.depth = None
        log.warning("metrics: could not read the outbox depth: %s", type(exc).__name__)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


routes: list[BaseRoute] = [Route("/metrics", metrics_endpoint, methods=["GET"])]
