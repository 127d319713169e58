"""A retailer's stored insights, as data or as the message the retailer would read."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.cli.deps import Deps
from bot.insights import insights_vars
from bot.messages import LANGUAGES, Reply
from db.admin_queries import Recipient, get_recipient
from db.errors import NotFound, Unprocessable
from db.sweeps import get_insights
from handlers.admin import fields
from handlers.admin.auth import deps_of
from handlers.admin.insights_json import insights_json


async def _insights(deps: Deps, ref: str) -> tuple[Recipient, dict[str, Any]]:
    async with deps.pool.acquire() as conn:
        rid = await fields.retailer(conn, ref)
        data = await get_insights(conn, rid)
        recipient = await get_recipient(conn, rid)
    if data is None or recipient is None:
        raise NotFound("NO_INSIGHTS", "no insights yet for this retailer")
    return recipient, dict(data)


async def insights(request: Request) -> Response:
    """The insight data of the last regeneration."""
    recipient, data = await _insights(deps_of(request), request.path_params["retailer"])
    return JSONResponse({"retailerId": recipient.id, "insights": insights_json(data)})


async def insights_message(request: Request) -> Response:
    """The insights message, in the retailer's language or `?lang=`."""
    deps = deps_of(request)
    recipient, data = await _insights(deps, request.path_params["retailer"])
    lang = request.query_params.get("lang", recipient.language)
    if lang not in LANGUAGES:
        raise Unprocessable("INVALID_FIELD", f"lang must be one of {', '.join(LANGUAGES)}")
    text = deps.renderer.render(Reply("insights", insights_vars(recipient.name, data)), lang)
    return JSONResponse({"retailerId": recipient.id, "language": lang, "message": text})
