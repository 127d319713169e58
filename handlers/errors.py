"""JSON errors `{"error": {"code", "message"}}` and the request-body size limit.

Every refusal is an `db.errors.AppError` (the tree is drawn there); `app_error_handler` is the
one place it becomes a response. Amounts a refusal carries (`extra` keys starting with `amount`)
are paise inside and rupee strings on the wire, like every other amount of the API.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.money import rupees_json
from bot.text import has_nul
from db.errors import AppError, BadRequest, Unauthorized


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status)


def _extra_json(key: str, value: Any) -> Any:
    if key.startswith("amount") and isinstance(value, int) and not isinstance(value, bool):
        return rupees_json(value)
    return value


async def app_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    extra = {k: _extra_json(k, v) for k, v in exc.extra.items()}
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    response = error_response(exc.status, exc.code, exc.message, **extra)
    if headers:
        response.headers.update(headers)
    return response


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = _HTTP_CODES.get(exc.status_code, "ERROR")
    response = error_response(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (numbers kept exact as Decimal); 400 when it is not one."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("BAD_REQUEST", "request body must be a JSON object")
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("BAD_REQUEST", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("BAD_REQUEST", "request body must be a JSON object")
    if has_nul(data):
        raise BadRequest("BAD_REQUEST", "text in the body must not contain NUL characters")
    return data


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, by header and by bytes actually read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "PAYLOAD_TOO_LARGE", f"request body is larger than {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
