"""The console's pages (GET): what each shows is read by the same `db` functions the admin API's
views call (and its query parameters by the API's readers), so a page and the API never
disagree."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from bot.credit import ADJUSTMENT_REASONS, MAX_OVERRIDE_DAYS, CreditStatus
from bot.orders import TRANSITIONS, OrderAction, OrderStatus
from bot.roles import ROLES, Action
from db import console_queries as cq
from db import operators as ops
from db import order_queries as oq
from db import upkeep
from db.audit import get_audit
from db.credit_queries import get_at_risk, get_credit_profile, get_risk_dashboard
from db.errors import NotFound
from db.statements import get_statement, statement_csv
from handlers.admin import query
from handlers.console import chart
from handlers.console.guard import Console
from jobs.registry import JOBS

AT_RISK_SHOWN = 25
AUDIT_SHOWN = 30
ORDERS_SHOWN = 10
STATEMENT_DAYS = 60
OPEN_ORDER_STATUSES = ("PLACED", "DISPATCHED")
PENDING_STATUSES = ("PENDING", "COMPLETED", "CANCELLED", "EXPIRED")

# Audit values shown beside an entry, and which of them are amounts.
SHOWN_KEYS = {
    "amount": "amount",
    "outstanding": "balance",
    "paymentReference": "ref",
    "adminId": "admin id",
    "creditLimit": "limit",
    "credit_limit": "limit",
    "status": "status",
    "toAdvance": "to advance",
}
MONEY_KEYS = frozenset({"amount", "outstanding", "creditLimit", "credit_limit", "toAdvance"})

# The role each order action needs (returns are their own action in the role table).
MOVE_ACTIONS = {
    OrderAction.DISPATCH: Action.ORDERS,
    OrderAction.DELIVER: Action.ORDERS,
    OrderAction.CANCEL: Action.ORDERS,
    OrderAction.FAIL: Action.ORDERS,
    OrderAction.RETURN: Action.RETURN,
}


def path_id(console: Console, name: str) -> int:
    raw = str(console.request.path_params[name])
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound("NOT_FOUND", f"no {name} {raw}")
    return int(raw)


def order_moves(console: Console, status: str) -> list[str]:
    """The actions the order's status allows (`bot.orders.TRANSITIONS`) and the role may do."""
    return [
        action.value
        for (from_status, action) in TRANSITIONS
        if from_status.value == status and console.caller.may(MOVE_ACTIONS[action])
    ]


def _url(path: str, params: dict[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


async def dashboard(console: Console) -> Response:
    """Risk dashboard: totals, aging chart, states, advances, at-risk list, each job's last run."""
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
    """Search by name, shop or number: the API's `GET /retailers` (name order, keyset pages)."""
    request = console.request
    q = query.text_param(request, "q") or ""
    status = query.enum_param(request, "status", CreditStatus)
    cursor = query.name_cursor(request)
    async with console.deps.pool.acquire() as conn:
        page = await upkeep.search_retailers(conn, q=q or None, status=status, after=cursor)
    base = {"q": q, "status": status.value if status else None}
    nxt = query.next_cursor(page.next_key)
    return await console.page(
        "retailers.html",
        section="retailers",
        q=q,
        status_filter=status.value if status else "",
        all_statuses=list(CreditStatus),
        page=page,
        first_url=_url("/admin/retailers", base) if cursor else None,
        next_url=_url("/admin/retailers", {**base, "cursor": nxt}) if nxt else None,
    )


async def retailer_page(
    console: Console,
    retailer_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    error_form: str | None = None,
) -> Response:
    """A retailer: profile, open debits, statement, payments, orders, messages, audit and the
    forms the operator's role allows. A refused form comes back here with its message and
    values."""
    request = console.request
    today = console.today
    since = query.date_param(request, "from") or today - timedelta(days=STATEMENT_DAYS)
    until = query.date_param(request, "to") or today
    async with console.deps.pool.acquire() as conn:
        profile = await get_credit_profile(conn, retailer_id, today)
        if profile is None:
            raise NotFound("RETAILER_NOT_FOUND", f"no retailer {retailer_id}")
        orders = await oq.list_orders(conn, retailer_id=retailer_id, limit=ORDERS_SHOWN)
        statement = await get_statement(
            conn, retailer_id, from_date=min(since, until), to_date=until
        )
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
        "details": console.may("retailers"),
    }
    context: dict[str, Any] = {
        "section": "retailers",
        "p": profile,
        "page_error": error if error and not shown.get(error_form or "") else None,
        "orders": orders.orders,
        "moves": {o.order_id: order_moves(console, o.status) for o in orders.orders},
        "statement": statement,
        "messages": messages,
        "audit": audit,
        "shown_keys": SHOWN_KEYS,
        "money_keys": MONEY_KEYS,
        "adjustment_reasons": ADJUSTMENT_REASONS,
        # A fresh key per page shown: a double-clicked or re-sent payment form records once.
        "idempotency_key": secrets.token_urlsafe(16),
        "back": f"/admin/retailers/{retailer_id}",
        "override_max": today + timedelta(days=MAX_OVERRIDE_DAYS),
        "error": error,
        "error_form": error_form,
        "values": console.form if error else {},
    }
    return await console.page("retailer.html", status, **context)


async def retailer(console: Console) -> Response:
    return await retailer_page(console, path_id(console, "retailer"))


async def statement_download(console: Console) -> Response:
    """The statement as CSV, as the API's `?format=csv` gives it (the browser has no token)."""
    rid = path_id(console, "retailer")
    since = query.date_param(console.request, "from")
    until = query.date_param(console.request, "to") or console.today
    async with console.deps.pool.acquire() as conn:
        if await get_credit_profile(conn, rid, console.today) is None:
            raise NotFound("RETAILER_NOT_FOUND", f"no retailer {rid}")
        s = await get_statement(conn, rid, from_date=since, to_date=until)
    name = f"statement-{rid}-{(since.isoformat() + '_') if since else ''}{until.isoformat()}"
    return Response(
        statement_csv(s, console.deps.settings.tz),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


async def orders(console: Console, *, status: int = 200, error: str | None = None) -> Response:
    """The orders board: the API's `GET /orders` (newest first, by status or retailer), with
    the moves each order's status allows."""
    request = console.request
    order_status = query.enum_param(request, "status", OrderStatus)
    retailer_id = query.text_param(request, "retailer", 18)
    rid = int(retailer_id) if retailer_id and retailer_id.isdigit() else None
    cursor = query.time_cursor(request)
    async with console.deps.pool.acquire() as conn:
        page = await oq.list_orders(conn, status=order_status, retailer_id=rid, after=cursor)
        open_counts = await cq.count_orders(conn, OPEN_ORDER_STATUSES)
    base = {"status": order_status.value if order_status else None, "retailer": rid}
    nxt = query.next_cursor(page.next_key)
    return await console.page(
        "orders.html",
        status,
        section="orders",
        page=page,
        moves={o.order_id: order_moves(console, o.status) for o in page.orders},
        status_filter=order_status.value if order_status else "",
        order_statuses=[s.value for s in OrderStatus],
        open_counts=open_counts,
        next_url=_url("/admin/orders", {**base, "cursor": nxt}) if nxt else None,
        back=_url("/admin/orders", base),
        error=error,
    )


async def checkouts(console: Console) -> Response:
    """Checkouts (pending orders): the API's `GET /pending-orders`, open ones by default."""
    request = console.request
    raw = (request.query_params.get("status") or "PENDING").upper()
    status = raw if raw in PENDING_STATUSES else None
    cursor = query.time_cursor(request)
    async with console.deps.pool.acquire() as conn:
        page = await oq.list_pending_orders(conn, status=status, after=cursor)
    nxt = query.next_cursor(page.next_key)
    now = console.deps.clock.now()
    return await console.page(
        "checkouts.html",
        section="checkouts",
        page=page,
        ages={p.pending_id: now - p.created_at for p in page.pending},
        status_filter=status or "ALL",
        statuses=PENDING_STATUSES,
        next_url=_url("/admin/checkouts", {"status": raw, "cursor": nxt}) if nxt else None,
    )


async def catalogue(
    console: Console, *, status: int = 200, error: str | None = None, error_id: int | None = None
) -> Response:
    """The catalogue: the API's `GET /products` (by name), with price and retire/restore forms
    and a form to add a product."""
    request = console.request
    q = query.text_param(request, "q") or ""
    active = query.flag_param(request, "active")
    cursor = query.name_cursor(request)
    async with console.deps.pool.acquire() as conn:
        page = await upkeep.list_products(conn, q=q or None, active=active, after=cursor)
    nxt = query.next_cursor(page.next_key)
    base = {"q": q, "active": None if active is None else str(active).lower()}
    return await console.page(
        "catalogue.html",
        status,
        section="catalogue",
        page=page,
        q=q,
        active_filter=base["active"] or "",
        next_url=_url("/admin/catalogue", {**base, "cursor": nxt}) if nxt else None,
        error=error,
        error_id=error_id,
        values=console.form if error else {},
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
