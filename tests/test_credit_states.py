"""Credit states as a credit controller means them (issue 11) and advances (issue 12), end to end.

Block and unblock (API and admin command, audit, one message), unpause refused while overdue,
an override and its end with an injected clock, a SYSTEM pause lifted in the payment's own
transaction (one message even when the 11:00 run follows), an admin's pause never lifted by a
payment, and an overpayment kept as advance then consumed by the next credit order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from bot.cli.deps import Deps
from bot.clock import FixedClock, business_date
from bot.credit import Direction, PaymentMode
from bot.orders import OrderLine
from bot.settings import Settings
from db import ledger
from handlers.admin_chat import handle_admin_text
from jobs.runner import run_job_now
from tests.conftest import ADMIN_PHONE
from tests.ledger_support import (
    NOW,
    TOL,
    TZ,
    check_invariants,
    credit_order,
    days,
    make_product,
    make_retailer,
)

A = "/api/v1/admin"
PHONE = "+919812345678"
SUPPORT = "+919876500000"
TODAY = business_date(NOW, TZ)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with a support number for blocked retailers."""
    return settings.model_copy(update={"support_phone": SUPPORT})


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


async def _retailer(db: asyncpg.Pool, *debits: tuple[int, float], language: str = "en") -> int:
    """A retailer (limit ₹1,00,000) with credit orders of (paise, days ago)."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, language=language, now=NOW - days(90))
        pid = await make_product(conn)
        for amount, ago in sorted(debits, key=lambda d: d[1]):
            await credit_order(conn, rid, pid, amount, now=NOW - days(ago))
    return rid


async def _say(deps: Deps, text: str) -> str:
    """One admin text, as the webhook runs it (inside a transaction that commits)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        return await handle_admin_text(deps, conn, ADMIN_PHONE, text, deps.clock.now())


async def _status(db: asyncpg.Pool, rid: int) -> tuple[str, str | None]:
    row = await db.fetchrow("SELECT credit_status, paused_by FROM retailers WHERE id = $1", rid)
    return row["credit_status"], row["paused_by"]


async def _messages(db: asyncpg.Pool, kind: str) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM outbox_messages WHERE kind = $1 ORDER BY id", kind))


async def _audit(db: asyncpg.Pool, action: str) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM audit_log WHERE action = $1 ORDER BY id", action))


async def _snapshot(db: asyncpg.Pool) -> tuple[object, ...]:
    return (
        tuple(await db.fetch("SELECT * FROM retailers ORDER BY id")),
        tuple(await db.fetch("SELECT * FROM credit_accounts ORDER BY retailer_id")),
        tuple(await db.fetch("SELECT * FROM credit_transactions ORDER BY id")),
        await db.fetchval("SELECT count(*) FROM audit_log"),
        await db.fetchval("SELECT count(*) FROM outbox_messages"),
    )


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == code, err
    return err


async def _verdict(
    api: httpx.AsyncClient, rid: int, amount: int = 100, mode: str = "CREDIT"
) -> Any:
    r = await api.post(
        f"{A}/guardrails/validate-order",
        json={"retailerId": rid, "orderAmount": amount, "paymentMode": mode},
    )
    assert r.status_code == 200, r.text
    return r.json()


# --- block and unblock ---------------------------------------------------------------------------


async def test_block_and_unblock_by_api(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    rid = await _retailer(db, (2_000_00, 5))
    r = await api.post(f"{A}/credit/{PHONE}/block", json={"reason": "cheque bounced twice"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["creditStatus"], body["previousStatus"], body["pausedBy"]) == (
        "BLOCKED", "ACTIVE", "api",
    )  # fmt: skip
    (entry,) = await _audit(db, "BLOCK")
    assert (entry["performed_by"], entry["reason"]) == ("api", "cheque bounced twice")
    (notice,) = await _messages(db, "credit_blocked")
    # told once whom to call; the staff's reason stays with the staff
    assert SUPPORT in notice["body"] and "cheque" not in notice["body"]
    assert "again" not in notice["body"]

    # only unblock lifts it: a second block, a pause and an unpause (even with an override) are
    # refused, and change nothing
    before = await _snapshot(db)
    _error(await api.post(f"{A}/credit/{rid}/block", json={"reason": "x"}), 409, "ALREADY_BLOCKED")
    _error(await api.post(f"{A}/credit/{rid}/pause", json={"reason": "x"}), 409, "CREDIT_BLOCKED")
    err = _error(await api.post(f"{A}/credit/{rid}/unpause"), 409, "CREDIT_BLOCKED")
    assert "unblock" in err["message"]
    until = (TODAY + timedelta(days=3)).isoformat()
    r = await api.post(f"{A}/credit/{rid}/unpause", json={"overrideUntil": until})
    _error(r, 409, "CREDIT_BLOCKED")
    assert await _snapshot(db) == before

    # credit refused, COD allowed; a payment and the 11:00 run leave the block alone
    assert (await _verdict(api, rid))["code"] == "CREDIT_BLOCKED"
    assert (await _verdict(api, rid, 900_000, "COD"))["allowed"] is True
    r = await api.post(f"{A}/payment/record", json={"retailerId": rid, "amountPaid": 2000})
    assert r.status_code == 201 and r.json()["creditResumed"] is False
    await api.post(f"{A}/jobs/auto_pause/run", json={})
    assert await _status(db, rid) == ("BLOCKED", "api")
    profile = (await api.get(f"{A}/credit/{rid}")).json()
    assert (profile["creditStatus"], profile["blockedReason"]) == (
        "BLOCKED", "cheque bounced twice",
    )  # fmt: skip
    dashboard = (await api.get(f"{A}/credit/risk-dashboard")).json()
    assert dashboard["statusCounts"] == {"ACTIVE": 0, "PAUSED": 0, "BLOCKED": 1}

    r = await api.post(f"{A}/credit/{rid}/unblock", json={"reason": "cheque cleared"})
    assert r.status_code == 200 and r.json()["creditStatus"] == "ACTIVE"
    (entry,) = await _audit(db, "UNBLOCK")
    assert (entry["performed_by"], entry["reason"]) == ("api", "cheque cleared")
    (resumed,) = await _messages(db, "credit_resumed")
    assert "block on your credit is lifted" in resumed["body"] and "₹1,00,000" in resumed["body"]
    assert (await api.get(f"{A}/credit/{rid}")).json()["blockedReason"] is None
    _error(await api.post(f"{A}/credit/{rid}/unblock"), 409, "NOT_BLOCKED")
    assert len(await _messages(db, "credit_blocked")) == 1


async def test_unblock_while_overdue_leaves_a_system_pause_that_payment_lifts(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    rid = await _retailer(db, (5_000_00, 40), language="hi")
    await api.post(f"{A}/credit/{rid}/block", json={"reason": "fraud check"})
    r = await api.post(f"{A}/credit/{rid}/unblock", json={"reason": "owner met them"})
    assert r.status_code == 200, r.text
    assert (r.json()["creditStatus"], r.json()["pausedBy"]) == ("PAUSED", "SYSTEM")
    # The operator's reason is kept in the audit, with why credit stays paused (walk of issue 11:
    # it was replaced by the pause's reason and lost).
    (entry,) = await _audit(db, "UNBLOCK")
    assert entry["reason"].startswith("owner met them (credit stays paused: ₹5,000 unpaid")
    assert await _status(db, rid) == ("PAUSED", "SYSTEM")
    pause_reason = await db.fetchval("SELECT credit_pause_reason FROM retailers WHERE id = $1", rid)
    assert pause_reason.startswith("₹5,000 unpaid for more than")
    (notice,) = await _messages(db, "credit_paused")
    # in Hindi: the block is lifted, credit stays paused until the ₹5,000 is paid
    assert "रोक हटा दी गई है" in notice["body"] and "₹5,000" in notice["body"]
    assert "दर्ज होते ही" in notice["body"]
    assert await _messages(db, "credit_resumed") == []
    r = await api.post(f"{A}/payment/record", json={"retailerId": rid, "amountPaid": 5000})
    assert r.json()["creditResumed"] is True
    assert await _status(db, rid) == ("ACTIVE", None)


async def test_block_and_unblock_by_command(deps: Deps, db: asyncpg.Pool) -> None:
    rid = await _retailer(db, (2_000_00, 5))
    reply = await _say(deps, f"block {rid} cheque bounced twice")
    assert reply.startswith("⛔ Credit blocked for #1") and SUPPORT in reply
    assert await _status(db, rid) == ("BLOCKED", ADMIN_PHONE)
    (entry,) = await _audit(db, "BLOCK")
    assert (entry["performed_by"], entry["reason"]) == (ADMIN_PHONE, "cheque bounced twice")
    assert "only unblock lifts a block" in await _say(deps, f"unpause {rid}")
    assert "ALREADY_BLOCKED" in await _say(deps, f"block {PHONE} again")
    assert (await _say(deps, f"block {rid}")).startswith("Usage: block <retailer> <reason>")
    reply = await _say(deps, f"unblock {PHONE}")
    assert reply.startswith("▶️ Block lifted for #1") and "₹98,000 available" in reply
    (entry,) = await _audit(db, "UNBLOCK")
    assert entry["performed_by"] == ADMIN_PHONE
    assert len(await _messages(db, "credit_blocked")) == 1
    assert len(await _messages(db, "credit_resumed")) == 1
    assert "NOT_BLOCKED" in await _say(deps, f"unblock {rid}")


# --- unpause while still overdue, and the override -----------------------------------------------


async def test_unpause_refused_while_overdue_changes_nothing(
    api: httpx.AsyncClient, deps: Deps, db: asyncpg.Pool
) -> None:
    rid = await _retailer(db, (5_000_00, 40), (1_000_00, 45))
    await api.post(f"{A}/credit/{rid}/pause", json={"reason": "called, no answer"})
    before = await _snapshot(db)
    err = _error(await api.post(f"{A}/credit/{rid}/unpause"), 409, "STILL_OVERDUE")
    assert err["amountOverdue"] == "6000.00" and err["maxOutstandingDays"] == 30
    assert err["oldestDebitDate"] == (TODAY - timedelta(days=45)).isoformat()
    for bad, words in [
        ((TODAY - timedelta(days=1)).isoformat(), "in the past"),
        ((TODAY + timedelta(days=31)).isoformat(), "at most 30 days"),
        ("next friday", "YYYY-MM-DD"),
        ("2026-02-30", "YYYY-MM-DD"),
    ]:
        r = await api.post(f"{A}/credit/{rid}/unpause", json={"overrideUntil": bad})
        assert words in _error(r, 422, "INVALID_FIELD")["message"]
    reply = await _say(deps, f"unpause {rid}")
    assert reply.startswith("Not done: #1 Ramesh still has ₹6,000 unpaid for more than 30 days")
    assert "unpause 1 until" in reply and "1 Dec 2025" in reply
    assert "Usage: unpause" in await _say(deps, f"unpause {rid} until 31d")
    assert await _snapshot(db) == before


async def test_override_holds_the_overdue_rule_off_until_its_day_then_ends_by_itself(
    api: httpx.AsyncClient, deps: Deps, db: asyncpg.Pool, clock: FixedClock
) -> None:
    rid = await _retailer(db, (5_000_00, 40))
    assert (await run_job_now(deps, "auto_pause")).counts["paused"] == 1
    until = TODAY + timedelta(days=3)
    r = await api.post(
        f"{A}/credit/{rid}/unpause",
        json={"reason": "promised by Friday", "overrideUntil": until.isoformat()},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["creditStatus"], r.json()["overrideUntil"]) == ("ACTIVE", until.isoformat())
    (entry,) = await _audit(db, "UNPAUSE")
    assert entry["new_value"]["overrideUntil"] == until.isoformat()
    assert (entry["performed_by"], entry["reason"]) == ("api", "promised by Friday")
    (resumed,) = await _messages(db, "credit_resumed")
    assert "18 Jan 2026 (inclusive)" in resumed["body"] and "₹5,000" in resumed["body"]

    async def state() -> tuple[Any, ...]:
        verdict = await _verdict(api, rid)
        profile = (await api.get(f"{A}/credit/{rid}")).json()
        at_risk = (await api.get(f"{A}/credit/at-risk")).json()["retailers"]
        overrides = (await api.get(f"{A}/credit/risk-dashboard")).json()["overrides"]
        return verdict["code"], profile["overrideUntil"], at_risk[0]["reasons"], overrides

    # through its last day: credit allowed, no pause, listed as overdue (not "about to pause")
    for _ in range(4):
        assert await state() == (None, until.isoformat(), ["OVERDUE"], 1)
        assert (await run_job_now(deps, "auto_pause")).counts["paused"] == 0
        clock.advance(days=1)
    # the limit and the largest order still apply under it (₹35,000 left after a ₹60,000 charge)
    clock.advance(days=-1)
    r = await api.post(
        f"{A}/credit/{rid}/adjustment",
        json={"direction": "DEBIT", "amount": 60000, "reason": "correction"},
    )
    assert r.status_code == 201, r.text
    assert (await _verdict(api, rid, 35_000))["code"] is None
    assert (await _verdict(api, rid, 35_001))["code"] == "CREDIT_LIMIT_EXCEEDED"
    assert (await _verdict(api, rid, 50_001))["code"] == "ORDER_VALUE_EXCEEDED"
    # the day after: the normal rules again, without anyone acting
    clock.advance(days=1)
    assert await state() == ("OVERDUE_OUTSTANDING", None, ["OVERDUE_BEYOND_LIMIT"], 0)
    assert (await run_job_now(deps, "auto_pause")).counts["paused"] == 1
    assert await _status(db, rid) == ("PAUSED", "SYSTEM")


async def test_override_by_command_on_an_active_account_on_hold(
    deps: Deps, db: asyncpg.Pool
) -> None:
    rid = await _retailer(db, (5_000_00, 40))  # overdue, not yet paused by the 11:00 run
    assert "₹5,000 unpaid for more than 30 days holds" in await _say(deps, f"unpause {rid}")
    reply = await _say(deps, f"unpause {rid} until 2026-01-20")
    assert reply.startswith("▶️ Credit for #1 Ramesh") and "already active" in reply
    assert "20 Jan 2026 (inclusive)" in reply
    (entry,) = await _audit(db, "OVERRIDE")
    assert (entry["performed_by"], entry["new_value"]["overrideUntil"]) == (
        ADMIN_PHONE, "2026-01-20",
    )  # fmt: skip
    # they could not order on credit before, so they are told (once) that they can now
    (notice,) = await _messages(db, "credit_resumed")
    assert "20 Jan 2026" in notice["body"]
    assert "held off until 20 Jan 2026" in await _say(deps, f"profile {rid}")
    reply = await _say(deps, f"unpause {rid} until 7d")  # moved: today + 7 = 22 Jan
    assert "22 Jan 2026" in reply


# --- resume on payment ---------------------------------------------------------------------------


async def test_payment_resumes_a_system_pause_in_its_own_transaction(
    api: httpx.AsyncClient, deps: Deps, db: asyncpg.Pool
) -> None:
    rid = await _retailer(db, (5_000_00, 40), (2_000_00, 5))
    assert (await run_job_now(deps, "auto_pause")).counts["paused"] == 1

    # the resume is part of the payment: roll the payment back and the pause stays
    async with db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        paid = await ledger.record_payment(
            conn, retailer_id=rid, amount=5_000_00, performed_by="t", now=NOW, tz=TZ,
            tolerance=TOL,
        )  # fmt: skip
        assert paid.resumed is not None
        assert await conn.fetchval("SELECT credit_status FROM retailers") == "ACTIVE"
        await tx.rollback()
    assert await _status(db, rid) == ("PAUSED", "SYSTEM")
    assert await _messages(db, "credit_resumed") == []

    # part of the overdue: still paused
    r = await api.post(f"{A}/payment/record", json={"retailerId": rid, "amountPaid": 4000})
    assert r.json()["creditResumed"] is False and await _status(db, rid) == ("PAUSED", "SYSTEM")
    # the rest of it (the newer debit stays owed): resumed at once
    r = await api.post(
        f"{A}/payment/record",
        json={"retailerId": rid, "amountPaid": 1000, "reference": "UTR-1"},
        headers={"Idempotency-Key": "pay-1"},
    )
    assert r.status_code == 201 and r.json()["creditResumed"] is True, r.text
    assert r.json()["outstanding"] == "2000.00"
    assert await _status(db, rid) == ("ACTIVE", None)
    (entry,) = await _audit(db, "UNPAUSE")
    payment_id = r.json()["paymentId"]
    assert entry["performed_by"] == "SYSTEM"
    assert entry["reason"] == f"overdue paid (payment txn:{payment_id})"
    # one database transaction wrote the payment, its audit entry, the resume and its message
    xids = await db.fetch(
        """SELECT xmin::text AS x FROM credit_transactions WHERE id = $1
           UNION ALL SELECT xmin::text FROM audit_log WHERE reference = 'txn:' || $1
           UNION ALL SELECT xmin::text FROM audit_log WHERE action = 'UNPAUSE'
           UNION ALL SELECT xmin::text FROM outbox_messages WHERE kind = 'credit_resumed'
           UNION ALL SELECT xmin::text FROM retailers WHERE id = $2""",
        payment_id,
        rid,
    )
    assert len(xids) == 5 and len({x["x"] for x in xids}) == 1
    (notice,) = await _messages(db, "credit_resumed")
    assert "thank you for your payment" in notice["body"]

    # the 11:00 run after it has nothing to do: still one message
    assert (await run_job_now(deps, "auto_pause")).counts["resumed"] == 0
    assert len(await _messages(db, "credit_resumed")) == 1
    # a retry of the same request replays the answer, resuming nothing twice
    again = await api.post(
        f"{A}/payment/record",
        json={"retailerId": rid, "amountPaid": 1000, "reference": "UTR-1"},
        headers={"Idempotency-Key": "pay-1"},
    )
    assert again.content == r.content and len(await _audit(db, "UNPAUSE")) == 1
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_paid_command_says_credit_resumed(deps: Deps, db: asyncpg.Pool) -> None:
    rid = await _retailer(db, (5_000_00, 40))
    await run_job_now(deps, "auto_pause")
    reply = await _say(deps, f"paid {rid} 5000 UTR9")
    assert "Credit resumed" in reply
    assert await _status(db, rid) == ("ACTIVE", None)


async def test_a_credit_adjustment_resumes_too(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    rid = await _retailer(db, (5_000_00, 40))
    async with db.acquire() as conn:
        await ledger.apply_guardrails(conn, today=TODAY, now=NOW, tolerance=TOL)
    r = await api.post(
        f"{A}/credit/{rid}/adjustment",
        json={"direction": "CREDIT", "amount": 4950, "reason": "return"},
    )
    # ₹50 left is below the ₹100 tolerance
    assert r.json()["creditResumed"] is True and await _status(db, rid) == ("ACTIVE", None)


async def test_an_admins_pause_is_not_lifted_by_a_payment(
    api: httpx.AsyncClient, deps: Deps, db: asyncpg.Pool
) -> None:
    rid = await _retailer(db, (5_000_00, 40))
    await api.post(f"{A}/credit/{rid}/pause", json={"reason": "shop closed for audit"})
    r = await api.post(f"{A}/payment/record", json={"retailerId": rid, "amountPaid": 5000})
    assert r.json()["creditResumed"] is False
    assert (await run_job_now(deps, "auto_pause")).counts["resumed"] == 0
    assert await _status(db, rid) == ("PAUSED", "api")
    assert await _messages(db, "credit_resumed") == []
    # nothing is overdue any more: the admin's own unpause goes ahead
    r = await api.post(f"{A}/credit/{rid}/unpause")
    assert r.status_code == 200 and r.json()["creditStatus"] == "ACTIVE"


# --- advances ------------------------------------------------------------------------------------


async def test_overpayment_as_advance_then_consumed_by_the_next_credit_order(
    api: httpx.AsyncClient, deps: Deps, db: asyncpg.Pool
) -> None:
    rid = await _retailer(db, (1_000_00, 5))
    pay = {"retailerId": rid, "amountPaid": 1500}
    err = _error(await api.post(f"{A}/payment/record", json=pay), 422, "AMOUNT_ABOVE_OWED")
    assert err["amountOwed"] == "1000.00"
    _error(
        await api.post(f"{A}/payment/record", json={**pay, "asAdvance": "yes"}),
        422,
        "INVALID_FIELD",
    )
    r = await api.post(f"{A}/payment/record", json={**pay, "asAdvance": True})
    assert r.status_code == 201, r.text
    assert (r.json()["outstanding"], r.json()["toAdvance"], r.json()["advance"]) == (
        "0.00", "500.00", "500.00",
    )  # fmt: skip
    profile = (await api.get(f"{A}/credit/{rid}")).json()
    assert (profile["advance"], profile["available"]) == ("500.00", "100500.00")
    dashboard = (await api.get(f"{A}/credit/risk-dashboard")).json()
    assert dashboard["advances"] == {"amount": "500.00", "retailers": 1}
    buckets = sum(float(b["amount"]) for b in dashboard["buckets"].values())
    assert f"{buckets:.2f}" == dashboard["totalOutstanding"] == "0.00"

    async with db.acquire() as conn:
        pid = await conn.fetchval("SELECT id FROM products")
        order = await credit_order(conn, rid, pid, 800_00)  # ₹800: ₹500 from the advance
        debit = await conn.fetchrow(
            "SELECT * FROM credit_transactions WHERE id = $1", order.transaction_id
        )
        assert (debit["status"], debit["cleared_amount"], debit["cleared_at"]) == (
            "PARTIAL", 500_00, NOW,
        )  # fmt: skip
        account = await conn.fetchrow("SELECT outstanding, advance FROM credit_accounts")
        assert tuple(account) == (300_00, 0)
        entry = await conn.fetchrow("SELECT * FROM audit_log WHERE reference = $1",
                                    f"txn:{order.transaction_id}")  # fmt: skip
        assert entry["new_value"]["advanceApplied"] == 500_00
        assert entry["old_value"] == {"outstanding": 0, "advance": 500_00}
        await check_invariants(conn)

    # by command: refused without the word, kept as advance with it; then an order smaller than
    # the advance is paid in full by it
    reply = await _say(deps, f"paid {PHONE} 1300 CASH-4")
    assert "AMOUNT_ABOVE_OWED" in reply and "end with *advance*" in reply
    reply = await _say(deps, f"paid {PHONE} 1300 CASH-4 advance")
    assert "₹1,000 kept as advance" in reply and "(ref CASH-4)" in reply
    async with db.acquire() as conn:
        order = await credit_order(conn, rid, pid, 400_00)
        status = await conn.fetchval(
            "SELECT status FROM credit_transactions WHERE id = $1", order.transaction_id
        )
        assert status == "CLEARED"
        assert tuple(await conn.fetchrow("SELECT outstanding, advance FROM credit_accounts")) == (
            0, 600_00,
        )  # fmt: skip
        await check_invariants(conn)


async def test_credit_with_nothing_owed_becomes_advance_and_a_debit_adjustment_uses_it(
    api: httpx.AsyncClient, deps: Deps, db: asyncpg.Pool
) -> None:
    rid = await _retailer(db)
    r = await api.post(
        f"{A}/credit/{rid}/adjustment",
        json={"direction": "CREDIT", "amount": 300, "reason": "discount"},
    )
    assert (r.json()["toAdvance"], r.json()["advance"]) == ("300.00", "300.00")
    reply = await _say(deps, f"adjust {rid} +500 correction freight")
    assert "₹300 paid from their advance" in reply and "₹0 → ₹200" in reply
    async with db.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, cleared_amount FROM credit_transactions WHERE direction = 'DEBIT'"
        )
        assert tuple(row) == ("PARTIAL", 300_00)
        await check_invariants(conn)


async def test_advance_counts_towards_what_a_credit_order_may_use(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, limit=1_000_00)
        pid = await make_product(conn)
        await ledger.adjust(
            conn, rid, direction=Direction.CREDIT, amount=200_00,
            reason="correction", performed_by="t", now=NOW, tz=TZ,
        )  # fmt: skip
        over = await ledger.place_order(
            conn, retailer_id=rid, lines=[OrderLine(pid, 1_200_01)], mode=PaymentMode.CREDIT,
            now=NOW, tz=TZ, tolerance=TOL, performed_by="t",
        )  # fmt: skip
        assert over.verdict.code == "CREDIT_LIMIT_EXCEEDED" and over.verdict.available == 1_200_00
        exact = await credit_order(conn, rid, pid, 1_200_00)
        assert exact.total == 1_200_00
        assert tuple(await conn.fetchrow("SELECT outstanding, advance FROM credit_accounts")) == (
            1_000_00, 0,
        )  # fmt: skip
        await check_invariants(conn)
