"""Figures that must agree wherever they are shown (issue 9, item 6): one name, one computation and
one unit for each figure, in the API and in the admin chat alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from bot.cli.deps import Deps
from bot.insights import compute_insights
from db.pool import Conn
from handlers.admin.insights_json import AMOUNT_KEYS
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


# --- the `paid` reply says what was cleared and what was paid in part --------------------------


@pytest.mark.parametrize(
    "amount, words, not_words",
    [
        # ₹9,000 (40 days old) and ₹2,000 (5 days old) owed; FIFO clears the older first
        ("4000", ["₹4,000 paid towards 1 debit, still partly owed", "none cleared in full",
                  "₹11,000 → ₹7,000"], ["Cleared"]),
        ("9000", ["Cleared 1 debit in full (₹9,000)", "₹11,000 → ₹2,000"], ["partly"]),
        ("10000", ["Cleared 1 debit in full (₹9,000)", "₹1,000 went towards 1 more, still partly",
                   "₹11,000 → ₹1,000"], []),
        ("11000", ["Cleared 2 debits in full (₹11,000)", "₹11,000 → ₹0"], ["partly"]),
    ],
)  # fmt: skip
async def test_paid_reply_tells_cleared_from_part_paid(
    deps: Deps, db: asyncpg.Pool, amount: str, words: list[str], not_words: list[str]
) -> None:
    async with db.acquire() as conn:
        rid, *_ = await _retailer_with_debits(conn, (9_000_00, 40), (2_000_00, 5))
    reply = await say(deps, f"paid {rid} {amount} UTR9")
    for word in words:
        assert word in reply, reply
    for word in not_words:
        assert word not in reply, reply


async def test_paid_reply_in_hindi_renders_both_parts(deps: Deps) -> None:
    from bot.messages import Reply

    text = deps.renderer.render(
        Reply(
            "admin_paid",
            {
                "id": 1, "name": "Ramesh", "amount": 10_000_00, "reference": None,
                "cleared": 1, "cleared_amount": 9_000_00, "part_paid": 1,
                "part_paid_amount": 1_000_00, "outstanding_before": 11_000_00,
                "outstanding_after": 1_000_00,
            },
        ),
        "hi",
    )  # fmt: skip
    assert "₹9,000" in text and "₹1,000" in text and "आंशिक" in text


# --- amounts in the insights API are rupee strings, like every other amount -------------------


async def test_insights_api_gives_rupee_strings(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid, *_ = await _retailer_with_debits(conn, (900_00, 3), (450_50, 10))
    r = await api.post(f"{A}/jobs/regenerate_insights/run", json={})
    assert r.status_code == 200, r.text
    insights = (await api.get(f"{A}/insights/{rid}")).json()["insights"]
    assert (insights["orders"], insights["spend"], insights["averageOrder"]) == (
        2, "1350.50", "675.25",
    )  # fmt: skip
    profile = (await api.get(f"{A}/credit/{rid}")).json()
    assert profile["outstanding"] == insights["spend"]  # one unit: the same figure, the same form
    message = (await api.get(f"{A}/insights/{rid}/message")).json()["message"]
    assert "₹1,350.50" in message


def test_every_insights_key_is_known_to_be_an_amount_or_not() -> None:
    """A key added to the insight data must be classified here (and in AMOUNT_KEYS if it is
    paise), or the API would give paise where it gives rupees elsewhere."""
    not_amounts = {
        "asOf", "windowDays", "orders", "lastOrderOn", "daysSinceLastOrder", "typicalGapDays",
        "dueToReorder", "topItems", "creditSharePercent",
    }  # fmt: skip
    assert set(compute_insights([], TODAY)) == AMOUNT_KEYS | not_amounts
    assert not AMOUNT_KEYS & not_amounts


# --- `run <job>` replies format amounts as money ----------------------------------------------


async def test_run_reply_shows_amounts_in_rupees(deps: Deps, db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await _retailer_with_debits(conn, (9_000_00, 40), (2_000_00, 5))
    reply = await say(deps, "run evaluate_guardrails")
    assert "outstanding ₹11,000" in reply, reply
    assert "1-30 days ₹9,000" in reply and "current ₹2,000" in reply, reply
    assert "1100000" not in reply and "_paise" not in reply, reply
    assert "retailers 1" in reply, reply  # counts stay counts
    row = await db.fetchrow("SELECT counts FROM job_runs")
    assert row is not None and row["counts"]["outstanding_paise"] == 11_000_00  # named by unit
