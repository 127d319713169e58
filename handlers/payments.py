"""POST /webhooks/payments/razorpay: the payment gateway's signed webhook (DESIGN section 10).

The signature over the raw body is checked before anything else (constant time; 401 and nothing
stored when wrong); then the event is parsed (400 when it is not one) and acted on exactly once
by `db.payments.handle_gateway_event`. The answer is 200 with what was done, also for events the
service does not act on, so the gateway stops redelivering them; a failure rolls back and
answers 500, and the gateway's redelivery tries again. The body size limit applies (the app's
`BodySizeLimit`).
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.cli import metrics
from bot.cli.deps import Deps
from bot.payments.provider import BadEvent
from bot.text import has_nul
from db import payments
from db.errors import BadRequest, NotFound, Unauthorized, Unavailable
from handlers.errors import json_too_deep

log = logging.getLogger(__name__)

PATH = "/webhooks/payments/{provider}"


async def gateway_webhook(request: Request) -> Response:
    deps: Deps = request.state.deps
    name = request.path_params["provider"]
    provider = deps.settings.payments
    if provider is None:
        raise Unavailable("PAYMENTS_DISABLED", "no payment gateway is configured")
    if name != provider.name:
        raise NotFound("NOT_FOUND", f"no payment gateway {name} is configured")
    body = await request.body()
    if not provider.signature_valid(body, request.headers.get(provider.headers.signature)):
        log.warning("%s webhook: bad signature; ignored", provider.name)
        metrics.WEBHOOK_OUTCOMES.labels("payments", "bad_signature").inc()
        raise Unauthorized("BAD_SIGNATURE", "the webhook signature is not valid")
    if json_too_deep(body):  # before any parser recurses into it (issue 9, item 4)
        raise BadRequest("BAD_EVENT", "the event nests too deep")
    try:
        event = provider.parse_event(body, request.headers.get(provider.headers.event_id))
        payload = json.loads(body)
    except (BadEvent, ValueError) as exc:
        raise BadRequest("BAD_EVENT", str(exc)) from None
    if has_nul(payload):
        raise BadRequest("BAD_EVENT", "text in the event must not contain NUL characters")
    async with deps.pool.acquire() as conn:
        outcome = await payments.handle_gateway_event(
            conn,
            event,
            provider=provider.name,
            performed_by=provider.performed_by,
            payload=payload,
            now=deps.clock.now(),
            tz=deps.settings.tz,
            tolerance=deps.settings.overdue_tolerance_paise,
            renderer=deps.renderer,
        )
    metrics.WEBHOOK_OUTCOMES.labels("payments", outcome.status).inc()
    log.info(
        "%s webhook %s %s: %s%s",
        provider.name,
        event.name,
        event.event_id,
        outcome.status,
        f" ({outcome.detail})" if outcome.detail else "",
    )
    return JSONResponse(
        {
            "status": outcome.status,
            "event": event.name,
            "receivedPaymentId": outcome.received_id,
            "retailerId": outcome.retailer_id,
            "transactionId": outcome.payment_transaction_id,
            "detail": outcome.detail,
        }
    )


routes: list[BaseRoute] = [Route(PATH, gateway_webhook, methods=["POST"])]
