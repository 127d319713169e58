"""The console's pages (GET): what each shows is read by the same `db` functions the admin API's
views call, so a page and the API never disagree."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from bot.credit import ADJUSTMENT_REASONS, MAX_OVERRIDE_DAYS, CreditStatus
from bot.roles import ROLES
from db import console_queries as cq
from db import operators as ops
from db.audit import get_audit
from db.credit_queries import get_at_risk, get_credit_profile, get_risk_dashboard
from db.errors import NotFound
from handlers.console import chart
from handlers.console.guard import Console
from jobs.registry import JOBS

AT_RISK_SHOWN = 25
AUDIT_SHOWN = 30
ORDERS_SHOWN = 10
ORDER_STATUSES = ("PLACED", "DELIVERED", "FAILED", "CANCELLED")
OPEN_ORDER_STATUSES = ("PLACED",)

# Audit values shown beside an entry, and which of them are amounts.
SHOWN_KEYS = {
    "amount": "amount",
    "outstanding": "balance",
    "paymentReference": "ref",
    "adminId": "admin id",
    "creditLimit": "limit",
    "credit_limit": "limit",
    "status": "status",
}
MONEY_KEYS = frozenset({"amount", "outstanding", "creditLimit", "credit_limit"})


def _id_param(value: str | None) -> int | None:
    """A keyset cursor from the query string; anything else starts from the top."""
    if value and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def path_id(console: Console, name: str) -> int:
    raw = str(console.request.path_params[name])
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound("NOT_FOUND", f"no {name} {raw}")
    return int(raw)


async def dashboard(console: Console) -> Response:
    """Risk dashboard: totals, aging chart, states, at-risk list, each job's last run."""
    deps = console.deps
    async with deps.pool.acquire() as conn:
        d = await get_risk_dashboard(conn, console.today)
        at_risk = await get_at_risk(
            conn,
            console.today,
            tolerance=deps.settings.overdue_tolerance_paise,
            limit=AT_RISK_SHOWN,
        )
        last = await cq.get_last_job_runs(conn)
    return await console.page(
        "dashboard.html",
        section="dashboard",
        d=d,
        bars=chart.aging_bars(d.buckets),
        chart={
            "width": chart.WIDTH,
            "height": chart.HEIGHT,
            "baseline": chart.HEIGHT - chart.BOTTOM,
        },
        statuses=CreditStatus,
        at_risk=at_risk,
        jobs=[(name, last.get(name)) for name in JOBS],
    )


async def retailers(console: Console) -> Response:
    """Search by name, shop or number; name order, keyset-paged."""
    params = console.request.query_params
    q = params.get("q", "")[: cq.MAX_QUERY]
    raw_status = params.get("status", "")
    status = CreditStatus(raw_status) if raw_status in CreditStatus.__members__ else None
    after = _id_param(params.get("after"))
    async with console.deps.pool.acquire() as conn:
        page = await cq.search_retailers(conn, q, status=status, after=after)
    base = {k: v for k, v in (("q", q), ("status", status.value if status else "")) if v}
    next_url = (
        "/admin/retailers?" + urlencode({**base, "after": page.next_after})
        if page.next_after is not None
        else None
    )
    return await console.page(
        "retailers.html",
        section="retailers",
        q=q,
        status_filter=status.value if status else "",
        all_statuses=list(CreditStatus),
        page=page,
        after=after,
        first_url="/admin/retailers" + ("?" + urlencode(base) if base else ""),
        next_url=next_url,
    )


async def retailer_page(
    console: Console,
    retailer_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    error_form: str | None = None,
) -> Response:
    """A retailer: profile, open debits, payments, orders, messages, audit and the forms the
    operator's role allows. A refused form comes back here with its message and values."""
    async with console.deps.pool.acquire() as conn:
        profile = await get_credit_profile(conn, retailer_id, console.today)
        if profile is None:
            raise NotFound("RETAILER_NOT_FOUND", f"no retailer {retailer_id}")
        orders = await cq.get_orders_board(conn, retailer_id=retailer_id, limit=ORDERS_SHOWN)
        messages = await cq.get_retailer_messages(conn, retailer_id)
        audit = await get_audit(conn, retailer_id=retailer_id, limit=AUDIT_SHOWN)
    # The forms this page shows; a refusal of one it does not show (the state changed in
    # another tab, say) is shown above everything instead.
    shown = {
        "payment": console.may("record_payment"),
        "adjust": console.may("adjust"),
        "pause": profile.status is CreditStatus.ACTIVE and console.may("pause"),
        "unpause": profile.status is CreditStatus.PAUSED and console.may("unpause"),
        "block": profile.status is not CreditStatus.BLOCKED and console.may("block"),
        "unblock": profile.status is CreditStatus.BLOCKED and console.may("unblock"),
        "limits": console.may("limits"),
    }
    context: dict[str, Any] = {
        "section": "retailers",
        "p": profile,
        "page_error": error if error and not shown.get(error_form or "") else None,
        "orders": orders.rows,
        "messages": messages,
        "audit": audit,
        "shown_keys": SHOWN_KEYS,
        "money_keys": MONEY_KEYS,
        "adjustment_reasons": ADJUSTMENT_REASONS,
        # A fresh key per page shown: a double-clicked or re-sent payment form records once.
        "idempotency_key": secrets.token_urlsafe(16),
        "back": f"/admin/retailers/{retailer_id}",
        "override_max": console.today + timedelta(days=MAX_OVERRIDE_DAYS),
        "error": error,
        "error_form": error_form,
        "values": console.form if error else {},
    }
    return await console.page("retailer.html", status, **context)


async def retailer(console: Console) -> Response:
    return await retailer_page(console, path_id(console, "retailer"))


async def orders(console: Console, *, status: int = 200, error: str | None = None) -> Response:
    """The orders board: newest first, by status (and by retailer from a retailer's page)."""
    params = console.request.query_params
    raw_status = params.get("status", "")
    order_status = raw_status if raw_status in ORDER_STATUSES else None
    retailer_id = _id_param(params.get("retailer"))
    before = _id_param(params.get("before"))
    async with console.deps.pool.acquire() as conn:
        page = await cq.get_orders_board(
            conn, status=order_status, retailer_id=retailer_id, before=before
        )
        open_counts = await cq.count_orders(conn, OPEN_ORDER_STATUSES)
    base = {k: v for k, v in (("status", order_status), ("retailer", retailer_id)) if v is not None}
    next_url = (
        "/admin/orders?" + urlencode({**base, "before": page.next_before})
        if page.next_before is not None
        else None
    )
    here = "/admin/orders" + ("?" + urlencode(base) if base else "")
    return await console.page(
        "orders.html",
        status,
        section="orders",
        page=page,
        status_filter=order_status or "",
        order_statuses=ORDER_STATUSES,
        open_counts=open_counts,
        next_url=next_url,
        back=here,
        error=error,
    )


def _schedule_text(name: str) -> str:
    schedule = JOBS[name].schedule
    hours = sorted(schedule.hours)
    if len(hours) > 1:
        return f"every {24 // len(hours)} hours"
    return f"daily {hours[0]:02d}:{schedule.minute:02d}"


async def jobs(console: Console, *, status: int = 200, error: str | None = None) -> Response:
    """Each job's schedule and last run, recent runs, and (owners) run now."""
    async with console.deps.pool.acquire() as conn:
        last = await cq.get_last_job_runs(conn)
        runs = await cq.get_job_runs(conn)
    return await console.page(
        "jobs.html",
        status,
        section="jobs",
        jobs=[
            (name, job.description, _schedule_text(name), last.get(name))
            for name, job in JOBS.items()
        ],
        runs=runs,
        error=error,
    )


async def operators(
    console: Console,
    *,
    status: int = 200,
    error: str | None = None,
    secret: dict[str, str] | None = None,
) -> Response:
    """Operators, their tokens; add one, issue or revoke a token, set a new password."""
    async with console.deps.pool.acquire() as conn:
        rows = await ops.list_operators(conn)
        tokens = {row.operator.id: await ops.list_tokens(conn, row.operator.id) for row in rows}
    return await console.page(
        "operators.html",
        status,
        section="operators",
        rows=rows,
        tokens=tokens,
        roles=ROLES,
        secret=secret,
        error=error,
        values=console.form if error else {},
    )
