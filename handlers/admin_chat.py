"""Admin text commands from whitelisted numbers (DESIGN sections 5 and 10).

The WhatsApp webhook calls `handle_admin_text` inside its transaction for a number in
ADMIN_NUMBERS (a bootstrap owner, audited under the number) or, when the number is not a
retailer's, of an active operator (audited as `operator:<id>:<name>`, allowed what their role
allows: `bot.roles`, a one-line refusal otherwise). The text is parsed purely (`bot.admin_commands`); a wrong argument gets a one-line
usage reply before anything is touched. Each change runs through the same ledger operations as the
admin API (`db.ledger`), with `performed_by` naming the admin, inside a savepoint: a refusal (`db.errors.AppError`) rolls back only that command and becomes a
one-line reply, while the webhook still stores the inbound message and its reply.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo

from bot import admin_commands as ac
from bot.cli.deps import Deps
from bot.clock import business_date
from bot.credit import MAX_OVERRIDE_DAYS
from bot.messages import Reply
from bot.orders import OrderAction, OrderStatus
from bot.phone import mask_phone
from bot.roles import Caller, bootstrap_number, command_action, refusal
from db import ledger, upkeep
from db.admin_queries import get_payment_outcome, get_retailer_label
from db.credit_queries import (
    get_at_risk,
    get_credit_profile,
    get_risk_dashboard,
)
from db.errors import AppError, Conflict, NotFound, RetailerNotFound, Unprocessable
from db.operators import get_active_operator_by_phone
from db.order_queries import list_orders
from db.pool import Conn
from handlers.admin_replies import at_risk_reply, profile_reply, risk_reply
from jobs.registry import JOBS
from jobs.runner import AsOfRefused, UnknownJob, run_job_as_person

log = logging.getLogger(__name__)

# Admins are staff; their replies are in English (both languages exist as templates).
ADMIN_LANGUAGE = "en"
AT_RISK_SHOWN = 10
# Job counters that are amounts end with this (jobs record them in paise, by name).
PAISE_SUFFIX = "_paise"


class NotAnAdmin(PermissionError):
    """`handle_admin_text` was called for a number that is neither in ADMIN_NUMBERS nor an
    active operator's."""


async def chat_caller(deps: Deps, conn: Conn, phone: str) -> Caller | None:
    """Who a WhatsApp number is as an admin: a bootstrap owner (ADMIN_NUMBERS), an active
    operator with this number, or None (a retailer or a stranger)."""
    if phone in deps.settings.admin_numbers:
        return bootstrap_number(phone)
    operator = await get_active_operator_by_phone(conn, phone)
    return operator.caller if operator else None


async def handle_admin_text(
    deps: Deps, conn: Conn, admin_phone: str, text: str, now: datetime
) -> str:
    """Run one admin command inside the webhook's transaction; return the reply text."""
    caller = await chat_caller(deps, conn, admin_phone)
    if caller is None:
        # The webhook routes only admins' numbers here; anything else is a bug, never a way in.
        raise NotAnAdmin(mask_phone(admin_phone))
    parsed = ac.parse_command(text, tuple(JOBS))
    reply = await run_admin_command(deps, conn, caller, parsed, now)
    log.info("admin %s: %s -> %s", mask_phone(admin_phone), type(parsed).__name__, reply.template)
    return deps.renderer.render(reply, ADMIN_LANGUAGE)


async def run_admin_command(
    deps: Deps, conn: Conn, caller: Caller, parsed: ac.Parsed, now: datetime
) -> Reply:
    """Execute a parsed command; every outcome, refusals included, is a Reply."""
    if isinstance(parsed, ac.Usage):
        return Reply("admin_usage", {"usage": parsed.usage, "problem": parsed.problem})
    if isinstance(parsed, ac.Unknown):
        return Reply("admin_unknown", {"word": parsed.word})
    action = command_action(parsed)
    if not caller.may(action):
        return Reply("admin_error", {"code": "FORBIDDEN_ROLE", "message": refusal(action)})
    if isinstance(parsed, ac.Help):
        return Reply("admin_help", {"jobs": list(JOBS)})
    if isinstance(parsed, ac.Run):
        return await _run_job(deps, parsed)
    try:
        async with conn.transaction():  # a savepoint inside the webhook's transaction
            if isinstance(parsed, ac.DeskCommand):
                return await _execute_desk(deps, conn, caller.performed_by, parsed, now)
            return await _execute(deps, conn, caller.performed_by, parsed, now)
    except RetailerNotFound as exc:
        return Reply("admin_not_found", {"ref": exc.ref})
    except AppError as exc:
        return Reply("admin_error", {"code": exc.code, "message": exc.message})


async def _retailer_id(conn: Conn, ref: str) -> int:
    rid = await ledger.resolve_retailer(conn, ref)
    if rid is None:
        raise RetailerNotFound(ref)
    return rid


async def _execute(deps: Deps, conn: Conn, by: str, cmd: ac.Command, now: datetime) -> Reply:
    tz = deps.settings.tz
    today = business_date(now, tz)
    match cmd:
        case ac.Risk():
            return risk_reply(await get_risk_dashboard(conn, today))
        case ac.AtRisk():
            at_risk = await get_at_risk(
                conn, today, tolerance=deps.settings.overdue_tolerance_paise, limit=AT_RISK_SHOWN
            )
            return at_risk_reply(at_risk)
        case ac.Profile(retailer=ref):
            profile = await get_credit_profile(conn, await _retailer_id(conn, ref), today)
            if profile is None:
                raise RetailerNotFound(ref)
            return profile_reply(profile, tz)
        case ac.Pause(retailer=ref, reason=reason):
            rid = await _retailer_id(conn, ref)
            change = await ledger.pause_credit(conn, rid, reason=reason, performed_by=by, now=now)
            label = await get_retailer_label(conn, rid)
            return Reply("admin_paused", {**label.vars(), "reason": change.reason or reason})
        case ac.Unpause():
            return await _unpause(deps, conn, by, cmd, now)
        case ac.Block(retailer=ref, reason=reason):
            rid = await _retailer_id(conn, ref)
            change = await ledger.block_credit(
                conn, rid, reason=reason, performed_by=by, now=now,
                support_phone=deps.settings.support_phone,
            )  # fmt: skip
            label = await get_retailer_label(conn, rid)
            return Reply(
                "admin_blocked",
                {
                    **label.vars(),
                    "reason": change.reason,
                    "support_phone": deps.settings.support_phone,
                },
            )
        case ac.Unblock(retailer=ref, reason=reason):
            rid = await _retailer_id(conn, ref)
            change = await ledger.unblock_credit(
                conn, rid, performed_by=by, now=now, tz=tz, reason=reason,
                tolerance=deps.settings.overdue_tolerance_paise,
            )  # fmt: skip
            label = await get_retailer_label(conn, rid)
            return Reply(
                "admin_unblocked",
                {
                    **label.vars(),
                    "status": str(change.status.value),
                    "available": change.available,
                    "pause_reason": change.reason if change.status != "ACTIVE" else None,
                },
            )
        case ac.Paid(retailer=ref, amount=amount, reference=reference, as_advance=as_advance):
            rid = await _retailer_id(conn, ref)
            try:
                paid = await ledger.record_payment(
                    conn, amount=amount, performed_by=by, now=now, tz=tz, retailer_id=rid,
                    reference=reference, as_advance=as_advance,
                    tolerance=deps.settings.overdue_tolerance_paise,
                )  # fmt: skip
            except Unprocessable as refused:
                if refused.code != "AMOUNT_ABOVE_OWED":
                    raise
                # An overpayment is kept only when asked: say how to ask.
                message = f"{refused.message}; to keep the rest as an advance, end with *advance*"
                return Reply("admin_error", {"code": refused.code, "message": message})
            label = await get_retailer_label(conn, rid)
            # "cleared" counts only debits paid off; the rest of the payment is told apart
            outcome = await get_payment_outcome(
                conn, {a.transaction_id: a.amount for a in paid.allocations}
            )
            return Reply(
                "admin_paid",
                {
                    **label.vars(),
                    **outcome.vars(),
                    "amount": paid.amount,
                    "reference": paid.reference,
                    "outstanding_before": paid.outstanding_before,
                    "outstanding_after": paid.outstanding_after,
                    "to_advance": paid.to_advance,
                    "advance": paid.advance_after,
                    "credit_resumed": paid.resumed is not None,
                },
            )
        case ac.Adjust(retailer=ref, direction=direction, amount=amount, reason=reason, note=note):
            rid = await _retailer_id(conn, ref)
            adjusted = await ledger.adjust(
                conn, rid, direction=direction, amount=amount, reason=reason, performed_by=by,
                now=now, tz=tz, notes=note, tolerance=deps.settings.overdue_tolerance_paise,
            )  # fmt: skip
            label = await get_retailer_label(conn, rid)
            return Reply(
                "admin_adjusted",
                {
                    **label.vars(),
                    "direction": adjusted.direction.value,
                    "amount": adjusted.amount,
                    "reason": adjusted.reason,
                    "outstanding_before": adjusted.outstanding_before,
                    "outstanding_after": adjusted.outstanding_after,
                    "to_advance": adjusted.to_advance,
                    "advance_applied": adjusted.advance_applied,
                    "advance": adjusted.advance_after,
                    "credit_resumed": adjusted.resumed is not None,
                },
            )
        case ac.Limit() | ac.MaxOrder() | ac.Days():
            rid = await _retailer_id(conn, cmd.retailer)
            fields: dict[str, int] = (
                {"credit_limit": cmd.amount}
                if isinstance(cmd, ac.Limit)
                else {"max_order_value": cmd.amount}
                if isinstance(cmd, ac.MaxOrder)
                else {"max_outstanding_days": cmd.days}
            )
            rails = await ledger.set_guardrails(conn, rid, performed_by=by, now=now, **fields)
            label = await get_retailer_label(conn, rid)
            return Reply(
                "admin_guardrails",
                {
                    **label.vars(),
                    "credit_limit": rails.credit_limit,
                    "max_order_value": rails.max_order_value,
                    "max_outstanding_days": rails.max_outstanding_days,
                    "payment_terms_days": rails.payment_terms_days,
                },
            )
        case ac.Fail(order_id=order_id, reason=reason):
            failed = await ledger.fail_order(
                conn, order_id, reason=reason, performed_by=by, now=now, tz=tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )  # fmt: skip
            label = await get_retailer_label(conn, failed.retailer_id)
            return Reply(
                "admin_order_failed",
                {
                    **label.vars(),
                    "order_id": failed.order_id,
                    "reason": failed.reason,
                    "reversed": failed.reversed_amount,
                },
            )
    raise AssertionError(f"unhandled admin command {cmd!r}")


# --- the business day: orders, returns, prices ------------------------------------------------

ORDERS_SHOWN = 10
_MOVES = {
    ac.Dispatch: OrderAction.DISPATCH,
    ac.Deliver: OrderAction.DELIVER,
    ac.Cancel: OrderAction.CANCEL,
}


async def _execute_desk(
    deps: Deps, conn: Conn, by: str, cmd: ac.DeskCommand, now: datetime
) -> Reply:
    """The dispatch desk's commands, through the same functions as the admin API."""
    tz = deps.settings.tz
    match cmd:
        case ac.Orders(which=which):
            return await _orders_reply(conn, which, tz)
        case ac.Dispatch(order_id=oid) | ac.Deliver(order_id=oid):
            moved = await ledger.move_order(
                conn, oid, _MOVES[type(cmd)], performed_by=by, now=now, tz=tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )  # fmt: skip
            return await _moved_reply(conn, moved)
        case ac.Cancel(order_id=oid, reason=reason):
            moved = await ledger.move_order(
                conn, oid, OrderAction.CANCEL, reason=reason, performed_by=by, now=now,
                tz=tz, tolerance=deps.settings.overdue_tolerance_paise,
            )  # fmt: skip
            return await _moved_reply(conn, moved)
        case ac.Return(order_id=oid, amount=amount, reason=reason):
            returned = await ledger.return_goods(
                conn, oid, amount=amount, reason=reason, performed_by=by, now=now, tz=tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )  # fmt: skip
            label = await get_retailer_label(conn, returned.retailer_id)
            return Reply(
                "admin_returned",
                {
                    **label.vars(),
                    "order_id": oid,
                    "amount": returned.amount,
                    "reason": returned.reason,
                    "returnable": returned.returnable,
                    "to_advance": returned.to_advance,
                    "outstanding_before": returned.outstanding_before,
                    "outstanding_after": returned.outstanding_after,
                },
            )
        case ac.Price(sku=sku, amount=amount):
            product_id = await upkeep.find_product_by_sku(conn, sku)
            if product_id is None:
                raise NotFound("PRODUCT_NOT_FOUND", f"no product with SKU {sku}")
            product, diff = await upkeep.update_product(
                conn, product_id, upkeep.ProductChange(price=amount), performed_by=by,
                now=now,
            )  # fmt: skip
            return Reply(
                "admin_price",
                {
                    "sku": product.sku,
                    "name": product.name,
                    "price": product.price,
                    "old_price": diff["price"][0] if "price" in diff else product.price,
                    "changed": "price" in diff,
                    "active": product.active,
                },
            )
    raise AssertionError(f"unhandled desk command {cmd!r}")


_LISTS: dict[str, tuple[OrderStatus | None, ...]] = {
    "open": (OrderStatus.PLACED, OrderStatus.DISPATCHED),
    "all": (None,),
    **{s.value.lower(): (s,) for s in OrderStatus},
}


async def _orders_reply(conn: Conn, which: str, tz: tzinfo) -> Reply:
    groups = []
    for status in _LISTS[which]:
        page = await list_orders(conn, status=status, limit=ORDERS_SHOWN)
        groups.append(
            {
                "status": status.value if status else "ALL",
                "more": page.next_key is not None,
                "orders": [
                    {
                        "id": o.order_id,
                        "status": o.status,
                        "retailer_id": o.retailer_id,
                        "name": o.retailer_name,
                        "shop_name": o.shop_name,
                        "total": o.total,
                        "mode": o.payment_mode,
                        "placed_on": business_date(o.created_at, tz),
                    }
                    for o in page.orders
                ],
            }
        )
    return Reply("admin_orders", {"which": which, "groups": groups})


async def _moved_reply(conn: Conn, moved: ledger.OrderMoved) -> Reply:
    label = await get_retailer_label(conn, moved.retailer_id)
    return Reply(
        "admin_order_moved",
        {
            **label.vars(),
            "order_id": moved.order_id,
            "action": moved.action.value,
            "status": moved.status.value,
            "total": moved.total,
            "mode": moved.payment_mode.value,
            "reason": moved.reason,
            "reversed": moved.reversed_amount,
            "credited": moved.credited,
            "to_advance": moved.to_advance,
            "told": moved.action != OrderAction.DELIVER,
        },
    )


async def _unpause(deps: Deps, conn: Conn, by: str, cmd: ac.Unpause, now: datetime) -> Reply:
    """`unpause <retailer> [until <date>|<n>d] [reason]`. Refused while still overdue, with what
    is owed and the override that would let it go ahead."""
    rid = await _retailer_id(conn, cmd.retailer)
    today = business_date(now, deps.settings.tz)
    until = cmd.until
    if cmd.until_days is not None:
        until = today + timedelta(days=cmd.until_days)
    label = await get_retailer_label(conn, rid)
    try:
        change = await ledger.unpause_credit(
            conn, rid, performed_by=by, now=now, tz=deps.settings.tz, reason=cmd.reason,
            override_until=until, tolerance=deps.settings.overdue_tolerance_paise,
        )  # fmt: skip
    except Conflict as refused:
        if refused.code != "STILL_OVERDUE":
            raise
        return Reply(
            "admin_still_overdue",
            {
                **label.vars(),
                "overdue_unpaid": refused.extra["amountOverdue"],
                "since": refused.extra["oldestDebitDate"],
                "max_outstanding_days": refused.extra["maxOutstandingDays"],
                "max_override_days": MAX_OVERRIDE_DAYS,
            },
        )
    return Reply(
        "admin_unpaused",
        {
            **label.vars(),
            "available": change.available,
            "was_active": change.previous_status == "ACTIVE",
            "override_until": change.override_until,
        },
    )


async def _run_job(deps: Deps, cmd: ac.Run) -> Reply:
    """`run <job> [date]`: the job runs now with its own connections, as the admin API runs it."""
    try:
        result = await run_job_as_person(deps, cmd.job, cmd.as_of)
    except UnknownJob:
        return Reply("admin_usage", {"usage": ac.USAGE["run"], "problem": "job"})
    except AsOfRefused as refused:
        return Reply("admin_error", {"code": refused.code, "message": refused.problem})
    except Exception as exc:  # the run is recorded with its error; the admin gets one line
        log.exception("admin run %s failed", cmd.job)
        return Reply("admin_error", {"code": "JOB_FAILED", "message": type(exc).__name__})
    # A counter that is an amount is named for its unit (`outstanding_paise`): shown as money.
    counts = [
        {"name": k.removesuffix(PAISE_SUFFIX), "value": v, "money": k.endswith(PAISE_SUFFIX)}
        for k, v in result.counts.items()
    ]
    return Reply("admin_job_run", {"job": result.job, "as_of": result.as_of, "counts": counts})
