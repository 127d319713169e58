"""Logging set-up shared by every process: one line per event, JSON or text (`LOG_FORMAT`).

The standard library's `logging` with a JSON formatter of our own, not structlog: every library
here (uvicorn, arq, asyncpg, httpx) logs through `logging` already, so one formatter on the root
handler turns all of their lines into JSON too, with no second logging system to bridge.

Structured fields travel as `extra={...}` (`log.info("...", extra={"route": ..., ...})`): the
JSON line carries them as keys, the text line only the message. The request id of the request
being served (`REQUEST_ID`, set by `handlers.observability`) is added to every line logged
while it is served.

Nothing secret is written: phone numbers are masked where the code logs them
(`bot.phone.mask_phone`), and as a safety net both formatters pass every line through `scrub`:
the configured secrets (`register_secrets`) are replaced wherever they appear, and so are
E.164 numbers, bearer tokens and `password=` / `token=` / `cookie=`-like values
(`tests/test_log_secrets.py` drives real requests and reads the output).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from bot.phone import mask_phone
from bot.settings import Settings

LogFormat = Literal["json", "text"]

# The id of the HTTP request being served, for every line logged while it is.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

# E.164 as stored (also inside `whatsapp:+91...`), and URL-encoded in a form body (`%2B91...`).
# The `+` comes first and the look-behind after it: a pattern that begins with a look-behind or
# an alternation is tried at every position of the line, several times slower.
_PHONE = re.compile(r"\+(?<![\w+]\+)\d{7,15}(?!\d)")
_PHONE_ENCODED = re.compile(r"%2B\d{7,15}(?!\d)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_KEYWORDS = ("password", "passwd", "secret", "token", "authorization", "cookie", "session")
_KEYED = re.compile(
    r"(?i)\b([\w-]*(?:password|passwd|secret|token|authorization|cookie|session)[\w-]*)"
    r"""(["']?\s*[:=]\s*["']?)(?!bearer\s|basic\s|\[)[^\s"'&,;}\\]{4,}"""
)
REDACTED = "[redacted]"
_secrets: tuple[str, ...] = ()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values never to be written (Twilio's auth token, the admin and metrics tokens, the
    session secret, ...): every formatted line has them replaced."""
    global _secrets
    _secrets = tuple(sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True))


def secrets_of(settings: Settings) -> list[str | None]:
    """The configured secrets of `settings`, for `register_secrets`."""
    return [
        settings.twilio_auth_token,
        settings.admin_api_token,
        settings.session_secret,
        settings.metrics_token,
        settings.razorpay_key_secret,
        settings.razorpay_webhook_secret,
    ]


def _mask(match: re.Match[str]) -> str:
    return mask_phone(match.group().replace("%2B", "+"))


def scrub(text: str) -> str:
    """`text` with secrets, phone numbers and token-like values masked. Each pattern runs only
    when a plain substring test says it may match (a request line costs a few microseconds)."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "+" in text:
        text = _PHONE.sub(_mask, text)
    if "%2B" in text:
        text = _PHONE_ENCODED.sub(_mask, text)
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if any(word in lowered for word in _KEYWORDS):
        text = _KEYED.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return text


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)


def _utc(created: float) -> str:
    """`2026-11-29T21:32:23.892Z` (no `+00:00`: a `+` makes the scrubber look for phones)."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id (when serving one), the
    record's `extra` fields, and exc (a traceback) when there is one. The line is scrubbed
    once, whole (no replacement contains a quote or a backslash, so it stays valid JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Read as the line is written (a StreamHandler writes at once, inside the request).
        request_id = REQUEST_ID.get()
        if request_id is not None:
            out["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return scrub(json.dumps(out, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """`2026-11-29 21:32:23,892 INFO name: message`, scrubbed (what `make run` shows)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def setup_logging(level: str | None = None, log_format: str | None = None) -> None:
    """Root logging for a process: LOG_LEVEL (INFO) and LOG_FORMAT (json; `python -m bot run`
    sets text for its children). uvicorn's own handlers are removed, so its lines come out in
    the same format; its access log stays off (ours is one line per request,
    `handlers.observability`)."""
    root = logging.getLogger()
    # Handlers someone else put there (pytest's capture) are left alone, as basicConfig does.
    if all(getattr(h, "_kirana", False) for h in root.handlers):
        fmt = (log_format or os.environ.get("LOG_FORMAT") or "json").strip().lower()
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter("text" if fmt == "text" else "json"))
        handler._kirana = True  # type: ignore[attr-defined]
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request URL at INFO, which includes the account SID; keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
