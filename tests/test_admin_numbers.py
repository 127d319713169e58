"""An admin number is never a retailer's (issue 9, item 5).

An admin's messages go to the admin commands, so a retailer with that number could never order:
onboarding refuses it (API 409 PHONE_IS_ADMIN, a CSV line error), and a configured admin number
that is already a retailer's stops the web and worker start-up with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import httpx
import pytest

from bot.cli.deps import open_deps
from bot.cli.importer import import_csv, parse_retailers
from bot.settings import Settings, SettingsError
from tests.conftest import ADMIN_PHONE, ADMIN_TOKEN
from tests.ledger_support import NOW, make_retailer

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize("phone", [ADMIN_PHONE, "99000 00000", "whatsapp:+919900000000"])
async def test_api_refuses_an_admin_number(
    client: httpx.AsyncClient, db: asyncpg.Pool, phone: str
) -> None:
    r = await client.post(
        "/api/v1/admin/retailers",
        json={"phone": phone, "name": "Admin's shop", "creditLimit": 1000},
        headers=AUTH,
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "PHONE_IS_ADMIN"
    assert "ADMIN_NUMBERS" in r.json()["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM retailers") == 0


def test_csv_line_with_an_admin_number() -> None:
    text = "phone,name,credit_limit\n+919800000001,A,100\n99000 00000,B,100\n"
    parsed = parse_retailers(text, admin_numbers=(ADMIN_PHONE,))
    assert [line for line, _ in parsed.rows] == [2]
    (error,) = parsed.errors
    assert error.line == 3 and error.message.startswith(f"{ADMIN_PHONE} is an admin number")


async def test_csv_import_with_an_admin_number_writes_nothing(db: asyncpg.Pool) -> None:
    text = f"phone,name,credit_limit\n+919800000001,A,100\n{ADMIN_PHONE},B,100\n"
    async with db.acquire() as conn:
        result = await import_csv(conn, "retailers", text, now=NOW, admin_numbers=(ADMIN_PHONE,))
    assert not result.ok and [e.line for e in result.errors] == [3]
    assert await db.fetchval("SELECT count(*) FROM retailers") == 0


async def test_start_up_refuses_an_admin_number_that_is_a_retailer(
    db: asyncpg.Pool, settings: Settings
) -> None:
    async with open_deps(settings) as deps:  # no clash: starts
        assert deps.settings.admin_numbers == (ADMIN_PHONE,)
    async with db.acquire() as conn:
        rid = await make_retailer(conn, ADMIN_PHONE)
    with pytest.raises(SettingsError) as refused:
        async with open_deps(settings):
            pytest.fail("started with an admin number that is a retailer's")
    assert str(refused.value) == (
        f"invalid configuration: ADMIN_NUMBERS: {ADMIN_PHONE} (retailer {rid}) is a retailer; "
        "an admin number cannot be a retailer's number"
    )
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("command", ["worker", "web"])
async def test_start_up_refusal_is_one_line(
    db: asyncpg.Pool, database_url: str, redis_url: str, command: str
) -> None:
    async with db.acquire() as conn:
        await make_retailer(conn, ADMIN_PHONE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADMIN_", "TWILIO_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, ADMIN_NUMBERS="99000 00000")
    run = subprocess.run(
        [sys.executable, "-m", "bot", command],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().count("\n") == 0, run.stderr
    assert f"ADMIN_NUMBERS: {ADMIN_PHONE} (retailer 1) is a retailer" in run.stderr
    assert "Traceback" not in run.stderr
