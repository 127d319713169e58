"""Named operators: names, passwords, API tokens, sessions, and the `operators` command line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from bot.cli.main import main
from bot.cli.run import local_environment
from bot.clock import FixedClock
from bot.roles import Role
from bot.settings import Settings
from db import operators as ops
from db.errors import Conflict, NotFound, Unprocessable
from db.pool import Conn


@pytest.fixture
async def conn(db: asyncpg.Pool) -> AsyncIterator[Conn]:
    async with db.acquire() as c:
        yield c


async def _add(db: Conn, name: str, role: Role = Role.MANAGER, phone: str | None = None,
               password: str = "correct horse battery") -> ops.Operator:  # fmt: skip
    return await ops.create_operator(
        db, name=ops.clean_name(name), role=role, phone=ops.clean_phone(phone),
        password=password, performed_by="test", now=FixedClock().now(),
    )  # fmt: skip


@pytest.mark.parametrize(
    "raw, cleaned",
    [("  Asha   Rao ", "Asha Rao"), ("ＡＳＨＡ", "ASHA"), ("रवि", "रवि"), ("Ravi 2", "Ravi 2")],
)
def test_names_are_cleaned(raw: str, cleaned: str) -> None:
    assert ops.clean_name(raw) == cleaned


@pytest.mark.parametrize("raw", ["", "   ", "12345", "+919812345678", "a" * 65, "As\x00ha"])
def test_bad_names_are_refused(raw: str) -> None:
    with pytest.raises(Unprocessable):
        ops.clean_name(raw)


def test_roles_and_phones_are_checked() -> None:
    assert ops.clean_role(" Manager ") is Role.MANAGER
    with pytest.raises(Unprocessable, match="viewer, collector, manager, owner"):
        ops.clean_role("admin")
    assert ops.clean_phone("98123 45678") == "+919812345678"
    assert ops.clean_phone("") is None
    with pytest.raises(Unprocessable):
        ops.clean_phone("12")


async def test_names_are_unique_in_any_case_and_phones_unique(conn: Conn) -> None:
    asha = await _add(conn, "Asha", phone="+919811111111")
    assert asha.caller.performed_by == f"operator:{asha.id}:Asha"
    with pytest.raises(Conflict, match="name"):
        await _add(conn, "ASHA")
    with pytest.raises(Conflict, match="phone"):
        await _add(conn, "Ravi", phone="+919811111111")
    entry = await conn.fetchrow("SELECT * FROM audit_log WHERE action = 'OPERATOR_CREATED'")
    assert entry["performed_by"] == "test" and entry["new_value"]["role"] == "manager"
    assert (await conn.fetchval("SELECT password_hash FROM operators")).startswith("$argon2id$")


async def test_sign_in_lookup_by_name_or_phone(conn: Conn) -> None:
    asha = await _add(conn, "Asha Rao", phone="+919811111111")
    for login in ("asha rao", "ASHA RAO", "+919811111111", "98111 11111"):
        found = await ops.get_login(conn, login)
        assert found is not None and found[0].id == asha.id, login
    _, stored = found
    assert await ops.check_password(stored, "correct horse battery")
    assert not await ops.check_password(stored, "wrong horse battery")
    assert not await ops.check_password(None, "anything")  # unknown name: a dummy check
    assert await ops.get_login(conn, "nobody") is None
    await conn.execute("UPDATE operators SET active = FALSE")
    assert await ops.get_login(conn, "asha rao") is None


async def test_tokens_are_stored_hashed_shown_once_and_revocable(conn: Conn) -> None:
    clock = FixedClock()
    asha = await _add(conn, "Asha")
    issued = await ops.issue_token(
        conn, asha.id, label="laptop", performed_by="test", now=clock.now()
    )
    assert issued.token.startswith(ops.TOKEN_PREFIX) and len(issued.token) > 40
    stored = await conn.fetchval("SELECT token_hash FROM operator_tokens")
    assert stored == ops.secret_hash(issued.token) and issued.token.encode() not in stored
    found = await ops.authenticate_token(conn, issued.token, clock.now())
    assert found is not None and found.id == asha.id
    assert await conn.fetchval("SELECT last_used_at FROM operator_tokens") == clock.now()
    clock.advance(seconds=10)  # not written again within the minute
    await ops.authenticate_token(conn, issued.token, clock.now())
    assert await conn.fetchval(
        "SELECT last_used_at FROM operator_tokens"
    ) == clock.now() - timedelta(seconds=10)
    assert await ops.authenticate_token(conn, issued.token + "x", clock.now()) is None
    assert await ops.authenticate_token(conn, "not-a-token", clock.now()) is None
    with pytest.raises(NotFound):
        await ops.revoke_token(conn, issued.id + 1, performed_by="test", now=clock.now())
    revoked = await ops.revoke_token(conn, issued.id, performed_by="test", now=clock.now())
    assert revoked.revoked_at == clock.now()
    again = await ops.revoke_token(conn, issued.id, performed_by="test", now=clock.now())
    assert again.revoked_at == revoked.revoked_at
    assert await ops.authenticate_token(conn, issued.token, clock.now()) is None
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["OPERATOR_CREATED", "OPERATOR_TOKEN_ISSUED", "OPERATOR_TOKEN_REVOKED"]


async def test_sessions_end_on_sign_out_new_password_and_deactivation(conn: Conn) -> None:
    clock = FixedClock()
    asha = await _add(conn, "Asha")
    life = timedelta(hours=12)
    raw1, s1 = await ops.start_session(conn, asha.id, now=clock.now(), lifetime=life)
    raw2, s2 = await ops.start_session(conn, asha.id, now=clock.now(), lifetime=life)
    assert raw1 != raw2 and s1.csrf_token != s2.csrf_token
    assert (await ops.get_session(conn, raw1, clock.now())).operator.id == asha.id  # type: ignore[union-attr]
    assert await ops.get_session(conn, raw1, clock.now() + life) is None  # expired
    await ops.end_session(conn, raw1)
    assert await ops.get_session(conn, raw1, clock.now()) is None
    await ops.set_flash(conn, s2.id, "Payment recorded")
    assert (await ops.get_session(conn, raw2, clock.now())).flash == "Payment recorded"  # type: ignore[union-attr]
    await ops.set_password(
        conn, asha.id, "a new long password", performed_by="test", now=clock.now()
    )
    assert await ops.get_session(conn, raw2, clock.now()) is None
    raw3, _ = await ops.start_session(conn, asha.id, now=clock.now(), lifetime=life)
    await conn.execute("UPDATE operators SET active = FALSE")
    assert await ops.get_session(conn, raw3, clock.now()) is None
    with pytest.raises(Unprocessable):
        await ops.set_password(conn, asha.id, "short", performed_by="test", now=clock.now())


async def _cli(args: list[str]) -> int:
    return await asyncio.to_thread(main, ["operators", *args])


async def test_command_line(
    conn: Conn, database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await _cli(["add", "Asha Rao", "--role", "manager", "--phone", "+919811111111"]) == 0
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    found = await ops.get_login(conn, "asha rao")
    assert found is not None and await ops.check_password(found[1], password)
    assert await _cli(["add", "asha rao", "--role", "viewer"]) == 1
    assert "already exists" in capsys.readouterr().err

    assert await _cli(["token", "Asha Rao", "--label", "laptop"]) == 0
    token = capsys.readouterr().out.splitlines()[1]
    assert (await ops.authenticate_token(conn, token, FixedClock().now())) is not None
    assert await _cli(["list"]) == 0
    listing = capsys.readouterr().out
    assert "Asha Rao" in listing and "manager" in listing and "laptop: active" in listing

    token_id = await conn.fetchval("SELECT id FROM operator_tokens")
    assert await _cli(["revoke", str(token_id)]) == 0
    assert (await ops.authenticate_token(conn, token, FixedClock().now())) is None
    assert await _cli(["revoke", "999"]) == 1

    assert await _cli(["passwd", "ASHA RAO"]) == 0
    new = capsys.readouterr().out.split("Asha Rao: ")[1].split()[0]
    found = await ops.get_login(conn, "asha rao")
    assert found is not None and await ops.check_password(found[1], new)
    assert await _cli(["passwd", "nobody"]) == 1
    performers = {r["performed_by"] for r in await conn.fetch("SELECT performed_by FROM audit_log")}
    assert performers == {"cli"}


def test_make_run_generates_a_session_secret_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), _env_file=None)  # type: ignore[call-arg]
    first = local_environment(settings, "postgresql://x/y", "redis://x")["SESSION_SECRET"]
    again = local_environment(settings, "postgresql://x/y", "redis://x")["SESSION_SECRET"]
    assert first == again and len(first) >= 32
    assert Settings(session_secret=first).session_secret == first
    with pytest.raises(ValidationError):
        Settings(session_secret="too short")
    assert Settings(session_secret="").session_secret is None
