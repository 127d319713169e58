"""The Starlette application: routes are a plain list, shared objects come from the lifespan."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from bot.cli.deps import Deps, open_deps
from bot.cli.logs import register_secrets, secrets_of, setup_logging
from bot.clock import Clock
from bot.settings import Settings, SettingsError, load_settings
from db.errors import AppError
from handlers import admin, console, health, observability, payments, status, whatsapp
from handlers.errors import BodySizeLimit, app_error_handler, http_error_handler
from handlers.observability import Observe

log = logging.getLogger(__name__)


def all_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *observability.routes,
        *whatsapp.routes,
        *status.routes,
        *payments.routes,
        *admin.routes,
        *console.routes,
    ]


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    deps_factory: Callable[[], AbstractAsyncContextManager[Deps]] | None = None,
) -> Starlette:
    """Build the app; `deps_factory` lets tests share one Deps across apps."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        factory = deps_factory or (lambda: open_deps(settings, clock=clock))
        async with factory() as deps:
            # Objects alive after start-up (modules, templates, the pool) live until exit: keep
            # them out of the cyclic collector's full passes, which would stall every request.
            gc.collect()
            gc.freeze()
            yield {"deps": deps}

    return Starlette(
        routes=all_routes(),
        # Observe first: requests refused for their size are logged and counted too.
        middleware=[
            Middleware(Observe),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={AppError: app_error_handler, HTTPException: http_error_handler},
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """uvicorn factory: `uvicorn --factory handlers.app:app_from_env` (the Procfile's `web`).
    Bad configuration is refused as `python -m bot web` refuses it: one line naming what is
    wrong, and exit status 2 (no traceback)."""
    setup_logging()
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    register_secrets(secrets_of(settings))
    return create_app(settings)
