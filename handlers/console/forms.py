"""The console's forms (POST). Each reads its fields with the admin API's own readers and calls
the same `db` function the API route calls, so a form accepts and refuses exactly what the API
does. A refusal shows its sentence beside the form, with what was typed, and changes nothing; a
success redirects (303) to the page with a one-time message (post, redirect, get).
"""

from __future__ import annotations

import json
import logging

from starlette.responses import Response

from bot.credit import Direction
from bot.limits import max_length
from bot.messages import format_day
from bot.money import format_inr
from db import ledger
from db import operators as ops
from db.errors import AppError, Unprocessable
from db.idempotency import get_answer, lock_key, request_hash, save_answer
from handlers.admin import fields as api_fields
from handlers.console import pages, render
from handlers.console.guard import Console, checkbox
from jobs.runner import run_job_as_person

log = logging.getLogger(__name__)


# --- jobs -----------------------------------------------------------------------------------------


async def run_job(console: Console) -> Response:
    """Run a job now, as of today: the API's `POST /jobs/{job}/run` without `asOf`."""
    name = str(console.request.path_params["job"])
    try:
        result = await run_job_as_person(console.deps, name, None)
    except AppError as exc:
        return await pages.jobs(console, status=exc.status, error=exc.message)
    except Exception as exc:  # recorded on the run with its error; the page says so
        log.exception("console run %s failed", name)
        return await pages.jobs(
            console, status=500, error=f"{name} failed: {type(exc).__name__}. See its run below."
        )
    counts = render.counts_text(result.counts)
    return await console.done("/admin/jobs", f"Ran {name.replace('_', ' ')}: {counts or 'done'}.")


# --- operators ------------------------------------------------------------------------------------


async def add_operator(console: Console) -> Response:
    """Add an operator; the generated password is shown on this answer only (never stored in
    clear, so it cannot survive a redirect)."""
    form = console.form
    password = ops.new_password()
    try:
        async with console.deps.pool.acquire() as conn:
            operator = await ops.create_operator(
                conn,
                name=ops.clean_name(form.get("name", "")),
                role=ops.clean_role(form.get("role", "")),
                phone=ops.clean_phone(form.get("phone")),
                password=password,
                performed_by=console.caller.performed_by,
                now=console.deps.clock.now(),
            )
    except AppError as exc:
        return await pages.operators(console, status=exc.status, error=exc.message)
    console.form = {}
    return await pages.operators(
        console,
        status=201,
        secret={
            "title": f"{operator.name} added ({operator.role.value})",
            "note": f"Give {operator.name} this password to sign in:",
            "value": password,
        },
    )


async def issue_token(console: Console) -> Response:
    operator_id = pages.path_id(console, "operator")
    try:
        async with console.deps.pool.acquire() as conn:
            issued = await ops.issue_token(
                conn,
                operator_id,
                label=console.form.get("label", ""),
                performed_by=console.caller.performed_by,
                now=console.deps.clock.now(),
            )
            operator = await ops.get_operator(conn, operator_id)
    except AppError as exc:
        return await pages.operators(console, status=exc.status, error=exc.message)
    assert operator is not None
    console.form = {}
    return await pages.operators(
        console,
        status=201,
        secret={
            "title": f"API token {issued.id} for {operator.name}",
            "note": "Use it as `Authorization: Bearer <token>`:",
            "value": issued.token,
        },
    )


async def revoke_token(console: Console) -> Response:
    operator_id = pages.path_id(console, "operator")
    token_id = pages.path_id(console, "token")
    try:
        async with console.deps.pool.acquire() as conn:
            await ops.revoke_token(
                conn,
                token_id,
                operator_id=operator_id,
                performed_by=console.caller.performed_by,
                now=console.deps.clock.now(),
            )
    except AppError as exc:
        return await pages.operators(console, status=exc.status, error=exc.message)
    return await console.done("/admin/operators", f"Token {token_id} revoked.")


async def new_password(console: Console) -> Response:
    operator_id = pages.path_id(console, "operator")
    password = ops.new_password()
    try:
        async with console.deps.pool.acquire() as conn:
            await ops.set_password(
                conn,
                operator_id,
                password,
                performed_by=console.caller.performed_by,
                now=console.deps.clock.now(),
            )
            operator = await ops.get_operator(conn, operator_id)
    except AppError as exc:
        return await pages.operators(console, status=exc.status, error=exc.message)
    assert operator is not None
    return await pages.operators(
        console,
        secret={
            "title": f"New password for {operator.name}",
            "note": "Their console sessions have ended. The new password:",
            "value": password,
        },
    )


# --- credit operations on a retailer ------------------------------------------------------------


def back_to_retailer(console: Console, retailer_id: int) -> str:
    return f"/admin/retailers/{retailer_id}"


async def refused_on_retailer(
    console: Console, retailer_id: int, form: str, exc: AppError
) -> Response:
    return await pages.retailer_page(
        console, retailer_id, status=exc.status, error=exc.message, error_form=form
    )


PAYMENT_SCOPE = "console_payment"


async def record_payment(console: Console) -> Response:
    """`POST /payment/record` as a form: amount, reference, the debit to clear (or the oldest
    first), what is over kept as an advance. The form carries a key made when the page was shown
    (the API's Idempotency-Key protocol, `db.idempotency`): a double click or a re-sent form
    records the payment once."""
    rid = pages.path_id(console, "retailer")
    form = console.form
    deps = console.deps
    now = deps.clock.now()
    try:
        amount = api_fields.amount(form, "amountPaid")
        reference = api_fields.optional_text(form, "reference")
        transaction_id = api_fields.whole_number(form, "transactionId")
        as_advance = api_fields.flag({"asAdvance": checkbox(form, "asAdvance")}, "asAdvance")
        key = (form.get("idempotencyKey") or "")[: max_length("Idempotency-Key")] or None
        digest = request_hash(
            {"amount": amount, "reference": reference, "transaction": transaction_id,
             "retailer": rid, "asAdvance": as_advance}
        )  # fmt: skip
        async with deps.pool.acquire() as conn, conn.transaction():
            if key is not None:
                await lock_key(conn, PAYMENT_SCOPE, key)
                if await get_answer(conn, PAYMENT_SCOPE, key) is not None:
                    return await console.done(
                        back_to_retailer(console, rid),
                        "That payment was already recorded (sent twice).",
                    )
            result = await ledger.record_payment(
                conn,
                amount=amount,
                retailer_id=rid,
                transaction_id=transaction_id,
                reference=reference,
                as_advance=as_advance,
                performed_by=console.caller.performed_by,
                now=now,
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )
            if key is not None:
                await save_answer(
                    conn, PAYMENT_SCOPE, key, request_hash=digest, status_code=303,
                    body=json.dumps({"paymentId": result.payment_id}), now=now,
                )  # fmt: skip
    except AppError as exc:
        return await refused_on_retailer(console, rid, "payment", exc)
    return await console.done(
        back_to_retailer(console, rid),
        f"Payment of {format_inr(result.amount)} recorded. "
        f"Outstanding now {format_inr(result.outstanding_after)}.",
    )


async def adjust(console: Console) -> Response:
    """`POST /credit/{retailer}/adjustment` as a form."""
    rid = pages.path_id(console, "retailer")
    form = console.form
    deps = console.deps
    try:
        raw_direction = form.get("direction")
        if raw_direction not in (Direction.DEBIT.value, Direction.CREDIT.value):
            raise Unprocessable("INVALID_FIELD", "direction must be DEBIT or CREDIT")
        amount = api_fields.amount(form, "amount")
        reason = api_fields.text(form, "reason")
        notes = api_fields.optional_text(form, "notes")
        async with deps.pool.acquire() as conn:
            result = await ledger.adjust(
                conn,
                rid,
                direction=Direction(raw_direction),
                amount=amount,
                reason=reason,
                notes=notes,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )
    except AppError as exc:
        return await refused_on_retailer(console, rid, "adjust", exc)
    what = "added to" if result.direction is Direction.DEBIT else "taken off"
    return await console.done(
        back_to_retailer(console, rid),
        f"{format_inr(result.amount)} {what} what is owed ({result.reason}). "
        f"Outstanding now {format_inr(result.outstanding_after)}.",
    )


async def pause(console: Console) -> Response:
    rid = pages.path_id(console, "retailer")
    deps = console.deps
    try:
        reason = api_fields.text(console.form, "reason")
        async with deps.pool.acquire() as conn:
            await ledger.pause_credit(
                conn,
                rid,
                reason=reason,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
            )
    except AppError as exc:
        return await refused_on_retailer(console, rid, "pause", exc)
    return await console.done(back_to_retailer(console, rid), f"Credit paused: {reason}.")


async def unpause(console: Console) -> Response:
    """`POST /credit/{retailer}/unpause` as a form: a reason, and an override of the overdue rule
    until a day (needed while it would stop credit again: 409 STILL_OVERDUE says so)."""
    rid = pages.path_id(console, "retailer")
    deps = console.deps
    try:
        reason = api_fields.optional_text(console.form, "reason")
        override_until = api_fields.optional_day(console.form, "overrideUntil")
        async with deps.pool.acquire() as conn:
            change = await ledger.unpause_credit(
                conn,
                rid,
                reason=reason,
                override_until=override_until,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )
    except AppError as exc:
        return await refused_on_retailer(console, rid, "unpause", exc)
    until = (
        f" The overdue rule is held off until {format_day(change.override_until)}."
        if change.override_until
        else ""
    )
    return await console.done(back_to_retailer(console, rid), f"Credit resumed.{until}")


async def block(console: Console) -> Response:
    """`POST /credit/{retailer}/block` as a form (owners)."""
    rid = pages.path_id(console, "retailer")
    deps = console.deps
    try:
        reason = api_fields.text(console.form, "reason")
        async with deps.pool.acquire() as conn:
            await ledger.block_credit(
                conn,
                rid,
                reason=reason,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
                support_phone=deps.settings.support_phone,
            )
    except AppError as exc:
        return await refused_on_retailer(console, rid, "block", exc)
    return await console.done(back_to_retailer(console, rid), f"Credit blocked: {reason}.")


async def unblock(console: Console) -> Response:
    """`POST /credit/{retailer}/unblock` as a form (owners)."""
    rid = pages.path_id(console, "retailer")
    deps = console.deps
    try:
        reason = api_fields.optional_text(console.form, "reason")
        async with deps.pool.acquire() as conn:
            change = await ledger.unblock_credit(
                conn,
                rid,
                reason=reason,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )
    except AppError as exc:
        return await refused_on_retailer(console, rid, "unblock", exc)
    state = "active" if change.status.value == "ACTIVE" else "paused while it is overdue"
    return await console.done(back_to_retailer(console, rid), f"Block lifted: credit is {state}.")


async def limits(console: Console) -> Response:
    """`PUT /guardrails/{retailer}` as a form (every field shown is sent)."""
    rid = pages.path_id(console, "retailer")
    form = console.form
    deps = console.deps
    try:
        credit_limit = api_fields.optional_amount(form, "creditLimit", allow_zero=True)
        max_order_value = api_fields.optional_amount(form, "maxOrderValue")
        max_days = api_fields.whole_number(form, "maxOutstandingDays")
        terms = api_fields.whole_number(form, "paymentTermsDays")
        async with deps.pool.acquire() as conn:
            rails = await ledger.set_guardrails(
                conn,
                rid,
                credit_limit=credit_limit,
                max_order_value=max_order_value,
                max_outstanding_days=max_days,
                payment_terms_days=terms,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
            )
    except AppError as exc:
        return await refused_on_retailer(console, rid, "limits", exc)
    return await console.done(
        back_to_retailer(console, rid),
        f"Limits saved: credit {format_inr(rails.credit_limit)}, orders up to "
        f"{format_inr(rails.max_order_value)}, pay within {rails.payment_terms_days} days, "
        f"credit stops after {rails.max_outstanding_days} days.",
    )
