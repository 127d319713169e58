"""The operators API (owners) and operators' tokens on the admin API: audited by name, revocable;
the payment route's `adminId` kept in the audit entry."""

from __future__ import annotations

import dataclasses

import asyncpg
import httpx

from bot.cli.deps import Deps
from bot.roles import Role
from db import operators as ops
from tests.conftest import ADMIN_TOKEN
from tests.console_support import add_operator, console_client
from tests.ledger_support import NOW, credit_order, make_product, make_retailer

A = "/api/v1/admin"
OWNER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_add_an_operator_issue_use_and_revoke_a_token(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    r = await client.post(
        f"{A}/operators", headers=OWNER, json={"name": "Asha Rao", "role": "collector"}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["role"] == "collector" and len(created["password"]) >= 16
    async with db.acquire() as conn:
        login = await ops.get_login(conn, "asha rao")
    assert login is not None and await ops.check_password(login[1], created["password"])

    r = await client.post(
        f"{A}/operators/{created['id']}/tokens", headers=OWNER, json={"label": "phone"}
    )
    assert r.status_code == 201 and set(r.json()) == {"id", "operatorId", "token"}
    token, token_id = r.json()["token"], r.json()["id"]

    # The collector's token: reads, records payments (audited by name), may not pause.
    async with db.acquire() as conn:
        rid = await make_retailer(conn, "+919812345678")
        await credit_order(conn, rid, await make_product(conn, "X", 100_00), 5)
    assert (await client.get(f"{A}/credit/{rid}", headers=bearer(token))).status_code == 200
    r = await client.post(
        f"{A}/payment/record", headers=bearer(token),
        json={"retailerId": rid, "amountPaid": "100", "adminId": "field-agent-7"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'PAYMENT'")
    assert entry["performed_by"] == f"operator:{created['id']}:Asha Rao"
    assert entry["new_value"]["adminId"] == "field-agent-7"
    r = await client.post(f"{A}/credit/{rid}/pause", headers=bearer(token), json={"reason": "x"})
    assert r.status_code == 403
    assert r.json()["error"] == {
        "code": "FORBIDDEN_ROLE", "message": "pause needs the manager role",
    }  # fmt: skip
    # Owners only: the operators themselves.
    r = await client.get(f"{A}/operators", headers=bearer(token))
    assert r.status_code == 403 and "owner" in r.json()["error"]["message"]

    listing = (await client.get(f"{A}/operators", headers=OWNER)).json()["operators"]
    assert [o["name"] for o in listing] == ["Asha Rao"]
    assert listing[0]["tokens"][0]["label"] == "phone"
    assert listing[0]["tokens"][0]["lastUsedAt"] is not None
    assert "token" not in listing[0]["tokens"][0] and "password" not in listing[0]

    r = await client.delete(f"{A}/operators/{created['id']}/tokens/{token_id}", headers=OWNER)
    assert r.status_code == 200 and r.json()["revokedAt"]
    r = await client.get(f"{A}/credit/{rid}", headers=bearer(token))
    assert r.status_code == 401
    r = await client.delete(f"{A}/operators/{created['id'] + 1}/tokens/{token_id}", headers=OWNER)
    assert r.status_code == 404
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions[:2] == ["OPERATOR_CREATED", "OPERATOR_TOKEN_ISSUED"]
    assert actions[-1] == "OPERATOR_TOKEN_REVOKED"


async def test_bad_operator_requests(client: httpx.AsyncClient) -> None:
    for body, status, words in (
        ({"name": "Asha", "role": "admin"}, 422, "role must be one of"),
        ({"name": "12345", "role": "viewer"}, 422, "must contain a letter"),
        ({"role": "viewer"}, 422, "name is required"),
        ({"name": "Asha", "role": "viewer", "phone": "12"}, 422, "phone"),
    ):
        r = await client.post(f"{A}/operators", headers=OWNER, json=body)
        assert r.status_code == status and words in r.json()["error"]["message"], r.text
    assert (
        await client.post(f"{A}/operators", headers=OWNER, json={"name": "Asha", "role": "viewer"})
    ).status_code == 201
    r = await client.post(f"{A}/operators", headers=OWNER, json={"name": "ASHA", "role": "owner"})
    assert r.status_code == 409
    r = await client.post(f"{A}/operators/999/tokens", headers=OWNER, json={})
    assert r.status_code == 404


async def test_admin_id_is_bounded_and_a_number_is_read_as_text(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, "+919812345678")
        await credit_order(conn, rid, await make_product(conn, "X", 100_00), 5)
    body = {"retailerId": rid, "amountPaid": "1", "adminId": "x" * 101}
    r = await client.post(f"{A}/payment/record", headers=OWNER, json=body)
    assert r.status_code == 422 and "adminId" in r.text
    r = await client.post(f"{A}/payment/record", headers=OWNER, json={**body, "adminId": 42})
    assert r.status_code == 201
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'PAYMENT'")
    assert entry["performed_by"] == "api" and entry["new_value"]["adminId"] == "42"


async def test_an_operators_token_works_without_the_bootstrap_token(
    deps: Deps, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        owner = await add_operator(conn, "Owner", Role.OWNER)
        issued = await ops.issue_token(conn, owner.id, label="", performed_by="test", now=NOW)
    closed = dataclasses.replace(
        deps, settings=deps.settings.model_copy(update={"admin_api_token": None})
    )
    async with console_client(closed) as http:
        assert (await http.get(f"{A}/audit", headers=bearer(issued.token))).status_code == 200
        r = await http.get(f"{A}/audit", headers=OWNER)
        assert r.status_code == 503 and r.json()["error"]["code"] == "ADMIN_API_DISABLED"
