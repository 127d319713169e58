"""Figures that must agree wherever they are shown (issue 9, item 6): one name, one computation and
one unit for each figure, in the API and in the admin chat alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from bot.deps import Deps
from bot.insights import OrderSummary, compute_insights
from db.pool import Conn
from handlers.admin_chat import handle_admin_text
from tests.conftest import ADMIN_PHONE
from tests.ledger_support import NOW, TODAY, credit_order, days, make_product, make_retailer

A = "/api/v1/admin"
PHONE = "+919812345678"


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


async def _retailer_with_debits(conn: Conn, *amounts_days_ago: tuple[int, int]) -> list[int]:
    """A retailer (₹1,00,000 limit) with credit orders; returns [retailer id, debit ids...]."""
    rid = await make_retailer(conn, PHONE)
    pid = await make_product(conn)  # 1 paisa each: quantity = amount
    ids = [rid]
    # newest first, so an older debit never stands in the way of placing a newer one
    for amount, ago in sorted(amounts_days_ago, key=lambda a: a[1]):
        order = await credit_order(conn, rid, pid, amount, now=NOW - days(ago))
        ids.append(order.transaction_id or 0)
    return ids


async def say(deps: Deps, text: str) -> str:
    """One admin text, as the webhook runs it: inside a transaction that then commits."""
    async with deps.pool.acquire() as conn, conn.transaction():
        return await handle_admin_text(deps, conn, ADMIN_PHONE, text, deps.clock.now())


# --- one reminder figure ----------------------------------------------------------------------


async def test_at_risk_and_profile_show_the_same_reminder_figure(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        rid, debit = await _retailer_with_debits(conn, (1_000_00, 20))  # 5 days overdue
        await conn.execute("UPDATE credit_transactions SET reminder_count = 1 WHERE id = $1", debit)
    (listed,) = (await api.get(f"{A}/credit/at-risk")).json()["retailers"]
    profile = (await api.get(f"{A}/credit/{rid}")).json()
    assert [d["reminderCount"] for d in profile["openDebits"]] == [1]
    assert listed["maxReminders"] == profile["maxReminders"] == 1
    assert listed["reasons"] == ["OVERDUE"]  # one reminder is not "repeated reminders"
