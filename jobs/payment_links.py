"""Payment links made through the gateway: the I/O client and where links are made.

Making a link is a call to the gateway, so it never happens inside a transaction that holds
locks (a webhook's, a chat message's): it happens here, in the worker.

- The reminders job asks `pay_for` before it queues each reminder: the link for the reminder's
  total is reused or made then (or the UPI line when there is no gateway or the call failed).
- A chat `balance` (or `statement`) answers with a link already made for the amount due, else
  the UPI line, and queues `create_payment_link` (an arq job, deduplicated per retailer, amount
  and day), so the next answer carries the link.

`ensure_link` follows `bot.payments.links.plan_link`: links that would now overpay or belong to
an earlier day are cancelled at the gateway, a live link for the amount is reused, else one is
made (its row claimed first, so two workers make one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from bot.cli.deps import Deps
from bot.clock import business_date
from bot.payments.links import LINK_POLICY, LiveLink, plan_link
from bot.payments.pay import PayOptions, pay_vars, upi_note
from bot.payments.provider import HttpCall, LinkCreated, LinkFailed, LinkOrder, PaymentProvider
from db import payments

log = logging.getLogger(__name__)

GATEWAY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
ARQ_FUNCTION = "create_payment_link"


async def send(deps: Deps, provider: PaymentProvider, call: HttpCall) -> tuple[int, Any]:
    """Send one call to the gateway; (status, JSON payload or None). A network error is
    (0, None), which the provider reads as a retryable failure."""
    try:
        response = await deps.http.request(
            call.method,
            provider.api_url + call.path,
            json=call.json,
            auth=call.auth,
            timeout=GATEWAY_TIMEOUT,
        )
    except httpx.TransportError as exc:
        log.warning("%s %s: network error %s", provider.name, call.path, type(exc).__name__)
        return 0, None
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    return response.status_code, payload


@dataclass(frozen=True)
class Retailer:
    id: int
    phone: str
    name: str
    shop_name: str
    outstanding: int


async def _retailer(deps: Deps, retailer_id: int) -> Retailer | None:
    async with deps.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT r.id, r.phone, r.name, r.shop_name, ca.outstanding
               FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
               WHERE r.id = $1""",
            retailer_id,
        )
    return Retailer(**dict(row)) if row else None


async def ensure_link(deps: Deps, retailer: Retailer, amount: int) -> LiveLink | None:
    """A live gateway link for `amount` (reused or made now), or None: no gateway, the amount
    is not owed, another worker is making it, or the gateway failed (the caller offers UPI)."""
    provider = deps.settings.payments
    if provider is None or amount <= 0:
        return None
    now = deps.clock.now()
    today = business_date(now, deps.settings.tz)
    async with deps.pool.acquire() as conn:
        live = await payments.get_live_links(conn, retailer.id, provider.name)
    plan = plan_link(live, amount=amount, owed=retailer.outstanding, today=today, now=now)
    if plan.stale:
        async with deps.pool.acquire() as conn:
            await payments.mark_link(
                conn, [s.id for s in plan.stale], "FAILED", now=now,
                error="left CREATING by a process that stopped",
            )  # fmt: skip
    for link in plan.cancel:
        await _cancel(deps, provider, link, now)
    if plan.reuse is not None or not plan.create:
        return plan.reuse
    return await _create(deps, provider, retailer, amount, today, now)


async def _cancel(deps: Deps, provider: PaymentProvider, link: LiveLink, now: datetime) -> None:
    assert link.provider_link_id
    status, payload = await send(deps, provider, provider.cancel_link_call(link.provider_link_id))
    failure = provider.read_cancel(status, payload) if status else _network()
    if failure is not None and failure.retryable:
        log.warning("payment link %d not cancelled yet: %s", link.id, failure.message)
        return
    # Refused for good: it was paid (its webhook records that), or already closed.
    async with deps.pool.acquire() as conn:
        await payments.mark_link(
            conn, [link.id], "CANCELLED", now=deps.clock.now(),
            error=failure.message if failure else None,
        )  # fmt: skip
    log.info("payment link %d (%s) cancelled", link.id, link.provider_link_id)


def _network() -> LinkFailed:
    return LinkFailed("NETWORK_ERROR", "the gateway could not be reached", True)


async def _create(
    deps: Deps,
    provider: PaymentProvider,
    retailer: Retailer,
    amount: int,
    today: date,
    now: datetime,
) -> LiveLink | None:
    expires_at = now + LINK_POLICY.lifetime
    async with deps.pool.acquire() as conn:
        link_id = await payments.insert_creating_link(
            conn, retailer_id=retailer.id, provider=provider.name, amount=amount,
            business_day=today, expires_at=expires_at, now=now,
        )  # fmt: skip
    if link_id is None:
        return None
    order = LinkOrder(
        reference=f"{payments.LINK_REFERENCE_PREFIX}{link_id}",
        retailer_id=retailer.id,
        amount=amount,
        description=f"Dues of {retailer.shop_name or retailer.name}",
        customer_name=retailer.shop_name or retailer.name,
        contact=retailer.phone,
        expire_by=expires_at,
    )
    status, payload = await send(deps, provider, provider.create_link_call(order))
    answer = provider.read_link(status, payload) if status else _network()
    async with deps.pool.acquire() as conn:
        if isinstance(answer, LinkCreated):
            await payments.mark_link_active(
                conn, link_id, provider_link_id=answer.provider_link_id,
                short_url=answer.short_url, expires_at=answer.expires_at or expires_at,
                now=deps.clock.now(),
            )  # fmt: skip
        else:
            await payments.mark_link(
                conn, [link_id], "FAILED", now=deps.clock.now(),
                error=f"{answer.code}: {answer.message}",
            )  # fmt: skip
    if not isinstance(answer, LinkCreated):
        log.warning("payment link for retailer %d not made: %s", retailer.id, answer.message)
        return None
    log.info("payment link %d made for retailer %d", link_id, retailer.id)
    return LiveLink(
        id=link_id,
        amount=amount,
        status="ACTIVE",
        business_day=today,
        expires_at=answer.expires_at or expires_at,
        created_at=now,
        short_url=answer.short_url,
        provider_link_id=answer.provider_link_id,
    )


def pay_options(deps: Deps, retailer: Retailer, link: LiveLink | None) -> PayOptions:
    """What a message to this retailer can offer (the link, if any, and the UPI line)."""
    s = deps.settings
    return PayOptions(
        upi_id=s.upi_id,
        payee=s.upi_payee_name,
        note=upi_note(retailer.shop_name, retailer.name, retailer.phone),
        link_url=link.short_url if link else None,
        link_amount=link.amount if link else None,
        gateway=s.payments is not None,
    )


async def pay_for(deps: Deps, retailer_id: int, amount: int) -> dict[str, Any] | None:
    """The `pay` variable of a message asking `amount` paise: a gateway link (made now if
    needed), else the UPI line, else None. Never raises for the gateway's sake: a reminder goes
    out without a link rather than not at all."""
    if deps.settings.payments is None and not deps.settings.upi_id:
        return None
    retailer = await _retailer(deps, retailer_id)
    if retailer is None:
        return None
    link: LiveLink | None = None
    try:
        link = await ensure_link(deps, retailer, amount)
    except Exception:  # the reminder matters more than its link
        log.exception("payment link for retailer %d failed", retailer_id)
    return pay_vars(pay_options(deps, retailer, link), amount)


async def create_payment_link(ctx: dict[str, Any], retailer_id: int) -> str:
    """arq job: make sure the retailer has a link for everything they owe now."""
    deps: Deps = ctx["deps"]
    retailer = await _retailer(deps, retailer_id)
    if retailer is None or retailer.outstanding <= 0:
        return "nothing owed"
    link = await ensure_link(deps, retailer, retailer.outstanding)
    return f"link {link.id}" if link else "no link"
