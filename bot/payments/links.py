"""Which payment link a retailer is sent: reuse, cancel, create (pure).

A link is for one amount. The amount due changes when the retailer pays or orders; a link for an
amount that is now more than they owe would take an overpayment, so it is cancelled. A link of
an earlier day for another amount is superseded by today's and cancelled too. A link for the
amount wanted is reused (across days) while it has at least `min_left` before it expires;
otherwise a new one is created, valid for `lifetime`. So a retailer gets one link per amount per
day at most, and every link they can still pay is for no more than they owe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class LinkPolicy:
    lifetime: timedelta = timedelta(days=7)
    min_left: timedelta = timedelta(days=1)
    # A CREATING row older than this was left by a process that died mid-call: it failed.
    creating_timeout: timedelta = timedelta(minutes=10)


LINK_POLICY = LinkPolicy()


@dataclass(frozen=True)
class LiveLink:
    """A link row in CREATING or ACTIVE."""

    id: int
    amount: int
    status: str  # CREATING | ACTIVE
    business_day: date
    expires_at: datetime
    created_at: datetime
    short_url: str | None = None
    provider_link_id: str | None = None


@dataclass(frozen=True)
class LinkPlan:
    reuse: LiveLink | None
    cancel: tuple[LiveLink, ...]
    stale: tuple[LiveLink, ...]  # CREATING rows to mark FAILED
    create: bool


def plan_link(
    live: tuple[LiveLink, ...] | list[LiveLink],
    *,
    amount: int,
    owed: int,
    today: date,
    now: datetime,
    policy: LinkPolicy = LINK_POLICY,
) -> LinkPlan:
    """What to do so the retailer has a payable link for `amount` (`owed` is all they owe now)."""
    stale = tuple(
        link
        for link in live
        if link.status == "CREATING" and now - link.created_at >= policy.creating_timeout
    )
    current = [link for link in live if link not in stale]
    reuse = next(
        (
            link
            for link in current
            if link.status == "ACTIVE"
            and link.amount == amount
            and link.expires_at - now >= policy.min_left
        ),
        None,
    )
    cancel = tuple(
        link
        for link in current
        if link.status == "ACTIVE"
        and link is not reuse
        and (
            link.amount > owed
            or (link.business_day < today and link.amount != amount)
            or (link.amount == amount and link.expires_at - now < policy.min_left)
        )
    )
    busy = any(link.status == "CREATING" and link.amount == amount for link in current)
    create = amount > 0 and amount <= owed and reuse is None and not busy
    return LinkPlan(
        reuse=reuse if amount <= owed else None, cancel=cancel, stale=stale, create=create
    )
