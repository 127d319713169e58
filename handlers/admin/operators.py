"""Operators (owners only, DESIGN section 10): list, add, issue and revoke API tokens.

A new operator's generated password and a new token are in the answer once and nowhere else
(only their hashes are kept). Each change is audited under the caller's name.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import operators as ops
from handlers.admin import fields
from handlers.admin.auth import caller_of, deps_of
from handlers.errors import read_json


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _token_json(t: ops.TokenView) -> dict[str, Any]:
    return {
        "id": t.id,
        "label": t.label,
        "createdAt": _ts(t.created_at),
        "lastUsedAt": _ts(t.last_used_at),
        "revokedAt": _ts(t.revoked_at),
    }


def _operator_json(o: ops.Operator) -> dict[str, Any]:
    return {
        "id": o.id,
        "name": o.name,
        "role": o.role.value,
        "phone": o.phone,
        "active": o.active,
        "createdAt": _ts(o.created_at),
    }


async def list_operators(request: Request) -> Response:
    """Every operator with their tokens (never the tokens themselves)."""
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        rows = await ops.list_operators(conn)
        out = [
            {
                **_operator_json(row.operator),
                "tokens": [_token_json(t) for t in await ops.list_tokens(conn, row.operator.id)],
            }
            for row in rows
        ]
    return JSONResponse({"operators": out})


async def add_operator(request: Request) -> Response:
    """`{"name", "role", "phone"?}` -> 201 `{"id", ..., "password"}` (the password, once)."""
    deps, caller = deps_of(request), caller_of(request)
    body = await read_json(request)
    name = ops.clean_name(fields.text(body, "name"))
    role = ops.clean_role(body.get("role"))
    phone = ops.clean_phone(fields.optional_text(body, "phone"))
    password = ops.new_password()
    async with deps.pool.acquire() as conn:
        operator = await ops.create_operator(
            conn,
            name=name,
            role=role,
            phone=phone,
            password=password,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
        )
    return JSONResponse({**_operator_json(operator), "password": password}, status_code=201)


async def issue_token(request: Request) -> Response:
    """`{"label"?}` -> 201 `{"id", "token"}`: the token, once."""
    deps, caller = deps_of(request), caller_of(request)
    body = await fields.read_optional_json(request)
    operator_id = fields.path_id(request, "operator")
    label = fields.optional_text(body, "label") or ""
    async with deps.pool.acquire() as conn:
        issued = await ops.issue_token(
            conn, operator_id, label=label, performed_by=caller.performed_by, now=deps.clock.now()
        )
    return JSONResponse(
        {"id": issued.id, "operatorId": issued.operator_id, "token": issued.token},
        status_code=201,
    )


async def revoke_token(request: Request) -> Response:
    """Revoke one of the operator's tokens (by its id); revoking it again changes nothing."""
    deps, caller = deps_of(request), caller_of(request)
    operator_id = fields.path_id(request, "operator")
    token_id = fields.path_id(request, "token")
    async with deps.pool.acquire() as conn:
        token = await ops.revoke_token(
            conn,
            token_id,
            operator_id=operator_id,
            performed_by=caller.performed_by,
            now=deps.clock.now(),
        )
    return JSONResponse({**_token_json(token), "operatorId": token.operator_id})
