"""JSON errors `{"error": {"code", "message"}}` and the request-body size limit.

Every refusal is an `db.errors.AppError` (the tree is drawn there); `app_error_handler` is the
one place it becomes a response. Amounts a refusal carries (`extra` keys starting with `amount`)
are paise inside and rupee strings on the wire, like every other amount of the API.
"""

from __future__ import annotations

import contextlib
import json
import re
from decimal import Decimal
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.money import rupees_json
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


# No body of this API nests more than 3 levels; 20 leaves room and stays far below the
# recursion limit of the parser (and of every walk over the parsed value).
MAX_JSON_DEPTH = 20
# A string token (escapes included, unterminated at the end too) or one bracket.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
_OPENERS = frozenset(b"[{")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets outside strings nest deeper than `limit`; a scan of the raw bytes, so
    nothing recursive runs before the depth is known. Brackets within strings do not count."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # the common case, at C speed
    depth = 0
    for token in _JSON_TOKENS.finditer(raw):
        first = token.group()[0]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != ord('"'):
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _text_problem(data: Any) -> str | None:
    """What PostgreSQL text cannot hold in any key or string of the value (NUL, or a lone
    surrogate, which has no UTF-8 form), walked without recursion."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "text in the body must not contain NUL characters"
            if _SURROGATE.search(value):
                return "text in the body must not contain lone surrogates (\\ud800-\\udfff)"
    return None


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (numbers kept exact as Decimal); 400 when it is not one, when it
    nests deeper than MAX_JSON_DEPTH, or when its text cannot be stored (NUL, lone surrogates)."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("BAD_REQUEST", "request body must be a JSON object")
    if json_too_deep(raw):
        raise BadRequest(
            "BAD_REQUEST", f"request body nests too deep (more than {MAX_JSON_DEPTH} levels)"
        )
    try:
        # UTF-8 only (RFC 8259), so the depth scan above read the same characters the parser
        # reads. NaN and Infinity are not JSON (Python's parser takes them by default); an
        # integer of more than 4,300 digits raises ValueError too.
        data = json.loads(
            raw.decode("utf-8-sig"), parse_float=Decimal, parse_constant=_refuse_constant
        )
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("BAD_REQUEST", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("BAD_REQUEST", "request body must be a JSON object")
    problem = _text_problem(data)
    if problem:
        raise BadRequest("BAD_REQUEST", problem)
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
        overflowed = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    overflowed = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if overflowed:
                # The app answered a body it could not read whole: a handler that catches every
                # error of its parser (a form's) would say 400. The answer is 413, for every route.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if overflowed and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "PAYLOAD_TOO_LARGE", f"request body is larger than {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
