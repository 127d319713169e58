"""The console's defences, each small enough to read at once.

- The session cookie carries a random id and its HMAC under SESSION_SECRET (`sign`/`unsign`):
  a forged or damaged cookie is refused before any database lookup; the session itself lives in
  PostgreSQL (`db.operators`), so signing out ends it everywhere. It is HttpOnly, SameSite=Lax,
  and Secure with the `__Host-` prefix when PUBLIC_BASE_URL is https.
- CSRF: every form carries the session's token (the sign-in form, before a session exists, an
  HMAC of a pre-sign-in cookie), compared in constant time; a POST without it is a 403.
- `safe_next`: after sign-in the browser goes only to a path of the console, never elsewhere.
- Sign-in failures are counted in Redis per name and per client address for 15 minutes (Redis:
  counters that expire by themselves, shared by every web process; PostgreSQL would need a
  sweep). Over the limit, the password is not even checked. With Redis down, sign-in is refused:
  a limit that cannot be counted is not applied open.
- `SecurityHeaders`: every console response gets a strict Content-Security-Policy (no inline
  script or style at all), X-Frame-Options DENY, a same-origin Referrer-Policy, nosniff and
  no-store (credit data stays out of shared caches).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.cli.deps import Deps

PREFIX = "/admin"
SESSION_COOKIE = "console"
SECURE_SESSION_COOKIE = "__Host-console"
PRE_COOKIE = "console_pre"
SECURE_PRE_COOKIE = "__Host-console_pre"

FAILURE_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
}


# --- signed values ---------------------------------------------------------------------------


def _mac(secret: str, purpose: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: str, value: str) -> str:
    """`value.mac`, for the session cookie."""
    return f"{value}.{_mac(secret, 'session', value)}"


def unsign(secret: str, signed: str | None) -> str | None:
    """The value of a cookie `sign` made, or None when it was not made with this secret."""
    if not signed or len(signed) > 200:
        return None
    value, _, mac = signed.rpartition(".")
    if not value or not hmac.compare_digest(mac, _mac(secret, "session", value)):
        return None
    return value


def pre_csrf_token(secret: str, pre_value: str) -> str:
    """The sign-in form's CSRF token: an HMAC of the pre-sign-in cookie."""
    return _mac(secret, "pre-csrf", pre_value)


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def cookie_names(secure: bool) -> tuple[str, str]:
    """(session cookie, pre-sign-in cookie): `__Host-` names need Secure, so https only."""
    return (SECURE_SESSION_COOKIE, SECURE_PRE_COOKIE) if secure else (SESSION_COOKIE, PRE_COOKIE)


# --- redirects ---------------------------------------------------------------------------------


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: `value` when it is a path of the console, else the dashboard.

    Refused: other hosts (`https://x`, `//x`, `/\\x`, which browsers read as `//x`), other
    schemes, paths outside /admin, and anything with control characters.
    """
    if not value or len(value) > 2000:
        return PREFIX
    if any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return PREFIX
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/"):
        return PREFIX
    if value.startswith("//"):
        return PREFIX
    path = parts.path
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return PREFIX
    if "/.." in path or path.startswith(f"{PREFIX}/static"):
        return PREFIX
    return value


# --- sign-in failures ---------------------------------------------------------------------------


class LimitUnavailable(Exception):
    """Redis could not be asked; sign-in is refused rather than left unlimited."""


def _keys(queue: str, name_key: str, address: str) -> tuple[str, str]:
    hashed = hashlib.sha256(name_key.encode()).hexdigest()[:32]
    return (f"{queue}:console:fail:name:{hashed}", f"{queue}:console:fail:addr:{address}")


async def over_limit(deps: Deps, name_key: str, address: str) -> bool:
    """Whether this name or this address has failed too often in the window."""
    name_k, addr_k = _keys(deps.settings.arq_queue_name, name_key, address)
    try:
        name_n, addr_n = await deps.redis.mget([name_k, addr_k])
    except (RedisError, OSError) as exc:
        raise LimitUnavailable from exc
    return int(name_n or 0) >= MAX_FAILURES_PER_NAME or int(addr_n or 0) >= (
        MAX_FAILURES_PER_ADDRESS
    )


async def count_failure(deps: Deps, name_key: str, address: str) -> None:
    """One more failure for the name and the address; the window starts at the first."""
    name_k, addr_k = _keys(deps.settings.arq_queue_name, name_key, address)
    try:
        async with deps.redis.pipeline(transaction=True) as pipe:
            for key in (name_k, addr_k):
                # SET NX EX then INCR (INCR keeps the expiry): EXPIRE NX needs Redis 7.
                pipe.set(key, 0, ex=FAILURE_WINDOW_SECONDS, nx=True)
                pipe.incr(key)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        raise LimitUnavailable from exc


async def forget_failures(deps: Deps, name_key: str) -> None:
    """A right password clears the name's count (the address's count runs its course)."""
    name_k, _ = _keys(deps.settings.arq_queue_name, name_key, "-")
    try:
        await deps.redis.delete(name_k)
    except (RedisError, OSError) as exc:
        raise LimitUnavailable from exc


# --- headers -------------------------------------------------------------------------------------


class SecurityHeaders:
    """Pure ASGI middleware: the console's security headers on every response it sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    static = scope["path"].startswith(f"{PREFIX}/static/")
                    headers["cache-control"] = "public, max-age=3600" if static else "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)
