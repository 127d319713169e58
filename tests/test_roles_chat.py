"""Admin chat commands x roles: every command of `bot.admin_commands` from an operator of every
role, allowed or refused in one line with nothing changed; operators' numbers reach the admin
commands through the signed webhook, audited under their names."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from bot import admin_commands as ac
from bot.cli.deps import Deps
from bot.roles import COMMAND_ACTIONS, ROLES, Role, allows
from db import operators as ops
from db.errors import Conflict
from tests.console_support import add_operator
from tests.test_admin_commands_chat import (  # noqa: F401 - `world` is a fixture
    RETAILER_PHONE,
    World,
    say,
    snapshot,
    world,
)
from tests.test_admin_commands_webhook import send

# One well-formed text per command word (a new command without a sample fails the test below).
SAMPLES = {
    "help": "help",
    "risk": "risk",
    "atrisk": "atrisk",
    "profile": "profile {rid}",
    "pause": "pause {rid} cheque bounced",
    "unpause": "unpause {rid} until 7d",
    "paid": "paid {rid} 500 UTR-ROLE",
    "adjust": "adjust {rid} -100 discount",
    "limit": "limit {rid} 150000",
    "maxorder": "maxorder {rid} 20000",
    "days": "days {rid} 45",
    "fail": "fail {order} truck broke down",
    "run": "run evaluate_guardrails",
    "block": "block {rid} fraud",
    "unblock": "unblock {rid}",
    "orders": "orders",
    "dispatch": "dispatch {order}",
    "deliver": "deliver {order}",
    "cancel": "cancel {order} out of stock",
    "return": "return {order} 100 damaged",
    "price": "price ATTA 460",
}
PHONES = {role: f"+9198111100{i:02d}" for i, role in enumerate(ROLES)}


def test_every_command_has_a_sample_and_parses_to_itself() -> None:
    assert set(SAMPLES) == set(ac.USAGE) == set(COMMAND_ACTIONS)
    for word, text in SAMPLES.items():
        parsed = ac.parse_command(text.format(rid=1, order=1), ("evaluate_guardrails",))
        assert type(parsed).__name__.lower() == word, parsed


@pytest.fixture
async def operators(db: asyncpg.Pool) -> dict[Role, ops.Operator]:
    async with db.acquire() as conn:
        return {
            role: await add_operator(conn, f"{role.value} person", role, phone=PHONES[role])
            for role in ROLES
        }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("word", sorted(SAMPLES))
async def test_role_x_command(
    deps: Deps, db: asyncpg.Pool, world: World, operators: dict[Role, ops.Operator],  # noqa: F811
    word: str, role: Role,
) -> None:  # fmt: skip
    text = SAMPLES[word].format(rid=world.retailer_id, order=world.order_id)
    if word == "unpause":
        await say(deps, f"pause {world.retailer_id} to be lifted")
    if word == "unblock":
        await say(deps, f"block {world.retailer_id} to be lifted")
    before = await snapshot(db)
    reply = await say(deps, text, phone=PHONES[role])
    action = COMMAND_ACTIONS[word]
    if allows(role, action):
        assert "FORBIDDEN_ROLE" not in reply, reply
        changes = ("pause", "unpause", "paid", "adjust", "limit", "maxorder", "days", "fail")
        if reply.startswith("Not done"):
            # Refused by the ledger (unpause while still overdue): nothing changed.
            assert await snapshot(db) == before
        elif word in (*changes, "block", "unblock", "dispatch", "deliver", "cancel", "return"):
            entry = await db.fetchrow("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1")
            assert entry["performed_by"] == operators[role].caller.performed_by
    else:
        needed = {Role.COLLECTOR: "collector", Role.MANAGER: "manager", Role.OWNER: "owner"}
        assert reply.count("\n") == 0 and "(FORBIDDEN_ROLE)" in reply, reply
        assert any(f"needs the {name} role" in reply for name in needed.values())
        assert await snapshot(db) == before


async def test_an_operators_number_reaches_admin_commands_through_the_webhook(
    client: httpx.AsyncClient, db: asyncpg.Pool, world: World,  # noqa: F811
    operators: dict[Role, ops.Operator],
) -> None:  # fmt: skip
    status, reply = await send(
        client, PHONES[Role.COLLECTOR], f"paid {world.retailer_id} 700 UTR-9"
    )
    assert status == 200 and "Payment of ₹700" in reply
    entry = await db.fetchrow("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1")
    assert entry["performed_by"] == f"operator:{operators[Role.COLLECTOR].id}:collector person"
    status, reply = await send(client, PHONES[Role.VIEWER], f"pause {world.retailer_id} no")
    assert status == 200 and "pause needs the manager role" in reply
    # A deactivated operator's number is a stranger's again (not registered as a retailer).
    await db.execute("UPDATE operators SET active = FALSE WHERE role = 'collector'")
    status, reply = await send(client, PHONES[Role.COLLECTOR], f"paid {world.retailer_id} 1 X")
    assert status == 200 and "Payment" not in reply
    assert RETAILER_PHONE not in PHONES.values()


async def test_a_retailers_number_cannot_be_an_operators(db: asyncpg.Pool, world: World) -> None:  # noqa: F811
    async with db.acquire() as conn:
        with pytest.raises(Conflict, match="belongs to a retailer"):
            await add_operator(conn, "Ramesh", Role.OWNER, phone=RETAILER_PHONE)
