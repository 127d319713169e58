"""Twilio's Messages API as the outbox sender calls it: the form a message is posted with, the
POST (its outcome classified by `bot.twilio_edge`), and the lookup in the Messages list of an
attempt whose outcome is unknown."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

import httpx

from bot.cli.deps import Deps
from bot.content import content_variables
from bot.sending import (
    FreeForm,
    Templated,
)
from bot.twilio_edge import (
    Outcome,
    SentMessage,
    Unconfirmed,
    classify_answer,
    classify_transport_error,
    find_sent,
    lookup_params,
    parse_message_list,
)
from db.outbox_queries import (
    OutboxRow,
    known_sids,
)
from db.pool import Conn

log = logging.getLogger(__name__)

TWILIO_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Pages of the Messages list read when looking for an unconfirmed message (100 messages each,
# newest first: the recipient's last 500 messages from our number).
LOOKUP_PAGES = 5


def messages_url(deps: Deps) -> str:
    s = deps.settings
    return f"{s.twilio_api_url}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json"


def status_callback_url(deps: Deps) -> str | None:
    base = deps.settings.public_base_url
    return f"{base}/webhooks/twilio/status" if base else None


def _whatsapp(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


def form_fields(deps: Deps, row: OutboxRow, plan: FreeForm | Templated) -> dict[str, str]:
    """The exact form Twilio receives for this row."""
    s = deps.settings
    assert s.twilio_whatsapp_from
    fields = {"To": _whatsapp(row.to_phone), "From": _whatsapp(s.twilio_whatsapp_from)}
    callback = status_callback_url(deps)
    if callback:
        fields["StatusCallback"] = callback
    if isinstance(plan, FreeForm):
        fields["Body"] = plan.body
    else:
        fields["ContentSid"] = plan.content_sid
        fields["ContentVariables"] = plan.variables_json
    return fields


async def post_message(deps: Deps, row: OutboxRow, plan: FreeForm | Templated) -> Outcome:
    s = deps.settings
    assert s.twilio_account_sid and s.twilio_auth_token
    try:
        response = await deps.http.post(
            messages_url(deps),
            data=form_fields(deps, row, plan),
            auth=(s.twilio_account_sid, s.twilio_auth_token),
            timeout=TWILIO_TIMEOUT,
        )
    except httpx.TransportError as exc:
        return classify_transport_error(type(exc).__name__)
    except Exception as exc:  # any other failure must still end in a retry, never a stuck lease
        log.exception("outbox #%d: unexpected error calling Twilio", row.id)
        # Where it failed is unknown: Twilio may have the message, so look before sending again.
        return Unconfirmed("SEND_ERROR", f"unexpected error calling Twilio: {type(exc).__name__}")
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    return classify_answer(response.status_code, payload, response.headers.get("Retry-After"))


class LookupFailed(Exception):
    """Twilio's Messages list could not be read; the row waits for its next attempt."""


async def look_up(deps: Deps, conn: Conn, row: OutboxRow, since: datetime) -> SentMessage | None:
    """The message an unconfirmed attempt begun at `since` left at Twilio, if any. The attempt
    sent a template when the row notes its Content SID (`hold_claim`): then its variables are
    matched, else its body."""
    s = deps.settings
    assert s.twilio_account_sid and s.twilio_auth_token and s.twilio_whatsapp_from
    to, from_ = _whatsapp(row.to_phone), _whatsapp(s.twilio_whatsapp_from)
    url: str | None = messages_url(deps)
    params: dict[str, str] | None = lookup_params(to, from_)
    messages: list[SentMessage] = []
    for _ in range(LOOKUP_PAGES):
        if url is None:
            break
        try:
            response = await deps.http.get(
                url,
                params=params,
                auth=(s.twilio_account_sid, s.twilio_auth_token),
                timeout=TWILIO_TIMEOUT,
            )
            response.raise_for_status()
            page, next_page = parse_message_list(response.json())
        except Exception as exc:  # a lookup that fails must end in a later try, never a crash
            raise LookupFailed(f"could not read Twilio's Messages list: {exc!r}"[:300]) from exc
        messages.extend(page)
        url, params = (f"{s.twilio_api_url}{next_page}" if next_page else None), None
    variables: list[str] = []
    if row.content_sid is not None and isinstance(row.variables, dict):
        with contextlib.suppress(KeyError):
            variables = list(content_variables(row.kind, row.variables, row.language).values())
        if not variables:
            return None  # a template whose values cannot be rebuilt: nothing can match it
    return find_sent(
        messages,
        to=to,
        from_=from_,
        since=since,
        body=None if row.content_sid is not None else row.body,
        variables=variables,
        known_sids=await known_sids(conn, [m.sid for m in messages]),
    )
