"""An admin number is never a retailer's (issue 9, item 5).

An admin's messages go to the admin commands, so a retailer with that number could never order:
onboarding refuses it (API 409 PHONE_IS_ADMIN, a CSV line error), and a configured admin number
that is already a retailer's stops the web and worker start-up with one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from bot.cli.deps import open_deps
from bot.cli.importer import import_csv, parse_retailers
from bot.cli.local import with_local_servers
from bot.settings import Settings, SettingsError, load_settings
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


def test_cli_under_make_run_knows_the_local_admin_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m bot import retailers` in a second terminal under `make run` (no ADMIN_NUMBERS in
    its environment) took the URLs from run.json but not the demo admin's number, and imported
    it as a retailer's: the next `make run` then refused to start (walk of issue 13)."""
    run_info = {
        "database_url": "postgresql://localhost/kirana",
        "redis_url": "redis://127.0.0.1:6399/0",
        "admin_numbers": "+919900000000",
    }
    (tmp_path / "run.json").write_text(json.dumps(run_info))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "ADMIN_"))
    }
    monkeypatch.setattr(os, "environ", {**env, "DATA_DIR": str(tmp_path)})
    settings = with_local_servers(load_settings())
    assert settings.database_url == run_info["database_url"]
    assert settings.admin_numbers == (ADMIN_PHONE,)
    parsed = parse_retailers(
        f"phone,name,credit_limit\n{ADMIN_PHONE},B,100\n", admin_numbers=settings.admin_numbers
    )
    assert parsed.rows == [] and [e.line for e in parsed.errors] == [2]
    # Numbers set in the environment win over the local service's.
    monkeypatch.setattr(
        os, "environ", {**env, "DATA_DIR": str(tmp_path), "ADMIN_NUMBERS": "+919911111111"}
    )
    assert with_local_servers(load_settings()).admin_numbers == ("+919911111111",)


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
