"""The console's forms (POST). Each reads its fields with the admin API's own readers and calls
the same `db` function the API route calls, so a form accepts and refuses exactly what the API
does. A refusal shows its sentence beside the form, with what was typed, and changes nothing; a
success redirects (303) to the page with a one-time message (post, redirect, get).
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from db import operators as ops
from db.errors import AppError
from handlers.console import pages
from handlers.console.guard import Console
from jobs.registry import JOB_NAMES
from jobs.runner import run_job_now

log = logging.getLogger(__name__)


# --- jobs -----------------------------------------------------------------------------------------


async def run_job(console: Console) -> Response:
    """Run a job now, as of today (what the API does without `asOf`)."""
    name = str(console.request.path_params["job"])
    if name not in JOB_NAMES:
        return await pages.jobs(console, status=404, error=f"There is no job named {name}.")
    try:
        result = await run_job_now(console.deps, name)
    except Exception as exc:  # recorded on the run with its error; the page says so
        log.exception("console run %s failed", name)
        return await pages.jobs(
            console, status=500, error=f"{name} failed: {type(exc).__name__}. See its run below."
        )
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.counts.items())
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
