"""Admin text commands from whitelisted numbers (DESIGN section 5). Filled in by the outbox issue."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from bot.deps import Deps


async def handle_admin_text(
    deps: Deps, conn: asyncpg.Connection, admin_phone: str, text: str, now: datetime
) -> str:
    """Run one admin command inside the webhook's transaction; return the reply text."""
    return "Admin commands are not available yet."
