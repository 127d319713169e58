"""Ledger operations against a real database: each one audited, totals kept exact."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from bot.credit import CreditStatus, Direction, PaymentMode
from bot.orders import OrderLine
from db import ledger
from db.credit_queries import get_at_risk, get_credit_profile, get_risk_dashboard
from db.errors import Conflict, NotFound, Unprocessable
from db.ledger import (
    adjust,
    apply_guardrails,
    fail_order,
    get_credit_facts,
    pause_credit,
    place_order,
    record_payment,
    resolve_retailer,
    set_guardrails,
    unpause_credit,
)
from db.onboarding import NewProduct, NewRetailer, create_product, create_retailer
from tests.ledger_support import (
    NOW,
    TODAY,
    TOL,
    TZ,
    check_invariants,
    credit_order,
    days,
    make_product,
    make_retailer,
)


async def _status(conn: asyncpg.Connection, txn_id: int) -> tuple[str, int]:
    row = await conn.fetchrow(
        "SELECT status, cleared_amount FROM credit_transactions WHERE id = $1", txn_id
    )
    return row["status"], row["cleared_amount"]


async def _outbox(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT kind, dedupe_key, body, language FROM outbox_messages ORDER BY id"
    )


# --- addressing and onboarding ---------------------------------------------------------------


async def test_resolve_retailer_by_id_or_any_phone_spelling(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, "+919812345678")
        for ref in (
            str(rid),
            "+919812345678",
            "98123 45678",
            "whatsapp:+919812345678",
            "09812345678",
        ):
            assert await resolve_retailer(conn, ref) == rid, ref
        for ref in ("999", "+919800000000", "abc", "", "1" * 40):
            assert await resolve_retailer(conn, ref) is None, ref


async def test_onboarding_conflicts_and_validation(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await make_retailer(conn, "+919812345678")
        with pytest.raises(Conflict):
            await make_retailer(conn, "98123 45678")
        with pytest.raises(Unprocessable):
            await create_retailer(
                conn, NewRetailer(phone="12", name="x", credit_limit=0), performed_by="t", now=NOW
            )
        with pytest.raises(Unprocessable):
            await make_retailer(conn, "+919812340000", language="fr")
        await make_product(conn, "ATTA")
        with pytest.raises(Conflict):
            await make_product(conn, "ATTA")
        with pytest.raises(Unprocessable):
            await create_product(
                conn, NewProduct(sku=" ", name="n", category="c", price=1), now=NOW
            )
        assert (
            await conn.fetchval("SELECT count(*) FROM audit_log WHERE action='RETAILER_CREATED'")
            == 1
        )


# --- placing orders --------------------------------------------------------------------------


async def test_place_order_snapshots_prices_and_refuses_unavailable(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn, "A", 450_00)
        other = await make_product(conn, "B", 10_00)
        order = await credit_order(conn, rid, pid, 2)
        await conn.execute("UPDATE products SET price = 99900 WHERE id = $1", pid)
        item = await conn.fetchrow(
            "SELECT unit_price, line_total FROM order_items WHERE order_id=$1", order.order_id
        )
        assert (item["unit_price"], item["line_total"]) == (450_00, 900_00)

        await conn.execute("UPDATE products SET active = FALSE WHERE id = $1", other)
        for lines in ([OrderLine(other, 1)], [OrderLine(pid, 1), OrderLine(12345, 1)]):
            result = await place_order(
                conn, retailer_id=rid, lines=lines, mode=PaymentMode.CREDIT, now=NOW, tz=TZ,
                tolerance=TOL, performed_by="t",
            )  # fmt: skip
            assert result.order is None and result.verdict.code == "PRODUCT_UNAVAILABLE"
        for lines in ([], [OrderLine(pid, 0)]):
            result = await place_order(
                conn, retailer_id=rid, lines=lines, mode=PaymentMode.COD, now=NOW, tz=TZ,
                tolerance=TOL, performed_by="t",
            )  # fmt: skip
            assert result.verdict.code == "INVALID_AMOUNT"
        with pytest.raises(NotFound):
            await place_order(
                conn, retailer_id=999, lines=[OrderLine(pid, 1)], mode=PaymentMode.COD, now=NOW,
                tz=TZ, tolerance=TOL, performed_by="t",
            )  # fmt: skip
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1
        await check_invariants(conn)


async def test_duplicate_lines_are_merged(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn, "A", 10_00)
        result = await place_order(
            conn, retailer_id=rid, lines=[OrderLine(pid, 2), OrderLine(pid, 3)],
            mode=PaymentMode.CREDIT, now=NOW, tz=TZ, tolerance=TOL, performed_by="t",
        )  # fmt: skip
        assert result.order is not None
        assert [(i.quantity, i.line_total) for i in result.order.items] == [(5, 50_00)]


async def test_cod_takes_no_credit_and_is_allowed_when_paused(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, limit=0)
        pid = await make_product(conn, "A", 100_00)
        await pause_credit(conn, rid, reason="cheque bounced", performed_by="t", now=NOW)
        order = await credit_order(conn, rid, pid, 3, mode=PaymentMode.COD)
        assert order.due_date is None and order.transaction_id is None
        facts = await get_credit_facts(conn, rid, TODAY)
        assert facts is not None and facts.outstanding == 0
        refused = await place_order(
            conn, retailer_id=rid, lines=[OrderLine(pid, 1)], mode=PaymentMode.CREDIT, now=NOW,
            tz=TZ, tolerance=TOL, performed_by="t",
        )  # fmt: skip
        assert refused.verdict.code == "CREDIT_PAUSED" and refused.order is None


async def test_same_pending_order_is_placed_once(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn, "A", 100_00)
        pending = await conn.fetchval(
            "INSERT INTO pending_orders (retailer_id, expires_at) VALUES ($1, $2) RETURNING id",
            rid, NOW + days(1),
        )  # fmt: skip
        first = second = None
        for _ in range(2):
            result = await place_order(
                conn, retailer_id=rid, lines=[OrderLine(pid, 2)], mode=PaymentMode.CREDIT,
                now=NOW, tz=TZ, tolerance=TOL, performed_by="t", pending_order_id=pending,
            )  # fmt: skip
            assert result.verdict.allowed
            first, second = second, result.order
        assert first == second
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1
        assert await conn.fetchval("SELECT outstanding FROM credit_accounts") == 200_00


async def test_due_date_is_business_day_plus_terms(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, payment_terms_days=7)
        pid = await make_product(conn)
        # 20:00 UTC on Jan 15 is already Jan 16 in India
        order = await credit_order(conn, rid, pid, 1, now=NOW.replace(hour=20))
        assert order.due_date == date(2026, 1, 23)
        txn_date = await conn.fetchval("SELECT txn_date FROM credit_transactions")
        assert txn_date == date(2026, 1, 16)


async def test_credit_facts_count_only_debits_beyond_their_days(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn)
        await credit_order(conn, rid, pid, 500_00, now=NOW - days(31))
        await credit_order(conn, rid, pid, 300_00, now=NOW - days(30))
        facts = await get_credit_facts(conn, rid, TODAY)
        assert facts is not None
        assert facts.overdue_unpaid == 500_00 and facts.outstanding == 800_00
        assert await get_credit_facts(conn, 404, TODAY) is None


# --- payments -------------------------------------------------------------------------------


async def test_payment_clears_oldest_first_with_partial(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn)
        old = await credit_order(conn, rid, pid, 1_000_00, now=NOW - days(10))
        new = await credit_order(conn, rid, pid, 500_00, now=NOW - days(2))
        result = await record_payment(
            conn, retailer_id=rid, amount=1_200_00, reference="UPI-1", performed_by="api",
            now=NOW, tz=TZ,
        )  # fmt: skip
        assert [(a.transaction_id, a.amount) for a in result.allocations] == [
            (old.transaction_id, 1_000_00),
            (new.transaction_id, 200_00),
        ]
        assert (result.outstanding_before, result.outstanding_after) == (1_500_00, 300_00)
        assert await _status(conn, old.transaction_id or 0) == ("CLEARED", 1_000_00)
        assert await _status(conn, new.transaction_id or 0) == ("PARTIAL", 200_00)
        cleared_at = await conn.fetchval(
            "SELECT cleared_at FROM credit_transactions WHERE id = $1", old.transaction_id
        )
        assert cleared_at == NOW
        entry = await conn.fetchrow("SELECT * FROM audit_log WHERE action = 'PAYMENT'")
        assert entry["performed_by"] == "api"
        assert entry["new_value"]["outstanding"] == 300_00
        await check_invariants(conn)


async def test_payment_against_named_transaction(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn)
        old = await credit_order(conn, rid, pid, 1_000_00, now=NOW - days(10))
        new = await credit_order(conn, rid, pid, 500_00, now=NOW - days(2))
        await record_payment(
            conn,
            transaction_id=new.transaction_id,
            amount=500_00,
            performed_by="api",
            now=NOW,
            tz=TZ,
        )
        assert await _status(conn, new.transaction_id or 0) == ("CLEARED", 500_00)
        assert await _status(conn, old.transaction_id or 0) == ("OPEN", 0)
        with pytest.raises(Unprocessable) as err:
            await record_payment(
                conn, transaction_id=old.transaction_id, amount=1_000_01, performed_by="api",
                now=NOW, tz=TZ,
            )  # fmt: skip
        assert err.value.code == "AMOUNT_ABOVE_OWED" and err.value.extra["amountOwed"] == 1_000_00
        with pytest.raises(Unprocessable) as err:
            await record_payment(
                conn,
                transaction_id=new.transaction_id,
                amount=1_00,
                performed_by="api",
                now=NOW,
                tz=TZ,
            )
        assert err.value.code == "TRANSACTION_NOT_OPEN"
        with pytest.raises(NotFound):
            await record_payment(
                conn, transaction_id=9999, amount=1_00, performed_by="a", now=NOW, tz=TZ
            )
        await check_invariants(conn)


async def test_overpayment_and_reused_reference_are_refused(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        other = await make_retailer(conn, "+919812345679")
        pid = await make_product(conn)
        await credit_order(conn, rid, pid, 1_000_00)
        await credit_order(conn, other, pid, 1_000_00)
        with pytest.raises(Unprocessable) as err:
            await record_payment(
                conn, retailer_id=rid, amount=1_000_01, performed_by="a", now=NOW, tz=TZ
            )
        assert err.value.extra == {"amountOwed": 1_000_00}
        await record_payment(
            conn,
            retailer_id=rid,
            amount=100_00,
            reference="CHQ-7",
            performed_by="a",
            now=NOW,
            tz=TZ,
        )
        with pytest.raises(Conflict) as conflict:
            await record_payment(
                conn,
                retailer_id=rid,
                amount=100_00,
                reference="CHQ-7",
                performed_by="a",
                now=NOW,
                tz=TZ,
            )
        assert conflict.value.code == "DUPLICATE_REFERENCE"
        # the same reference from another retailer is a different payment
        await record_payment(
            conn,
            retailer_id=other,
            amount=100_00,
            reference="CHQ-7",
            performed_by="a",
            now=NOW,
            tz=TZ,
        )
        with pytest.raises(Unprocessable):
            await record_payment(conn, retailer_id=rid, amount=0, performed_by="a", now=NOW, tz=TZ)
        with pytest.raises(Unprocessable):
            await record_payment(
                conn,
                retailer_id=other,
                transaction_id=1,
                amount=1,
                performed_by="a",
                now=NOW,
                tz=TZ,
            )
        assert (
            await conn.fetchval("SELECT count(*) FROM credit_transactions WHERE type='PAYMENT'")
            == 2
        )
        await check_invariants(conn)


# --- adjustments ----------------------------------------------------------------------------


async def test_adjustments_debit_and_credit(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, payment_terms_days=10)
        pid = await make_product(conn)
        order = await credit_order(conn, rid, pid, 1_000_00, now=NOW - days(5))
        debit = await adjust(
            conn, rid, direction=Direction.DEBIT, amount=50_50, reason="correction",
            performed_by="+919900000000", now=NOW, tz=TZ,
        )  # fmt: skip
        assert debit.outstanding_after == 1_050_50
        due = await conn.fetchval(
            "SELECT due_date FROM credit_transactions WHERE id = $1", debit.transaction_id
        )
        assert due == date(2026, 1, 25)
        credit = await adjust(
            conn, rid, direction=Direction.CREDIT, amount=1_000_00, reason="return",
            performed_by="api", now=NOW, tz=TZ,
        )  # fmt: skip
        assert credit.allocations == (ledger.Allocation(order.transaction_id or 0, 1_000_00),)
        assert credit.outstanding_after == 50_50
        # A credit above what is owed is an operator's correction: the rest becomes advance.
        over = await adjust(
            conn, rid, direction=Direction.CREDIT, amount=50_51, reason="discount",
            performed_by="api", now=NOW, tz=TZ,
        )  # fmt: skip
        assert (over.outstanding_after, over.to_advance, over.advance_after) == (0, 1, 1)
        with pytest.raises(Unprocessable):
            await adjust(
                conn, rid, direction=Direction.DEBIT, amount=1_00, reason="because",
                performed_by="api", now=NOW, tz=TZ,
            )  # fmt: skip
        with pytest.raises(NotFound):
            await adjust(
                conn, 404, direction=Direction.DEBIT, amount=1_00, reason="return",
                performed_by="api", now=NOW, tz=TZ,
            )  # fmt: skip
        actions = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action='ADJUSTMENT'")
        assert actions == 3
        await check_invariants(conn)


# --- pause and unpause ----------------------------------------------------------------------


async def test_pause_and_unpause_conflicts_and_messages(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn, language="hi")
        paused = await pause_credit(conn, rid, reason="cheque bounced", performed_by="api", now=NOW)
        assert paused.status == CreditStatus.PAUSED
        with pytest.raises(Conflict) as err:
            await pause_credit(conn, rid, reason="again", performed_by="api", now=NOW)
        assert err.value.code == "ALREADY_PAUSED"
        row = await conn.fetchrow("SELECT * FROM retailers WHERE id = $1", rid)
        assert (row["credit_status"], row["paused_by"], row["credit_pause_reason"]) == (
            "PAUSED", "api", "cheque bounced",
        )  # fmt: skip
        resumed = await unpause_credit(conn, rid, performed_by="api", now=NOW, tz=TZ, tolerance=TOL)
        assert resumed.status == CreditStatus.ACTIVE
        with pytest.raises(Conflict) as err:
            await unpause_credit(conn, rid, performed_by="api", now=NOW, tz=TZ, tolerance=TOL)
        assert err.value.code == "NOT_PAUSED"
        with pytest.raises(Unprocessable):
            await pause_credit(conn, rid, reason="  ", performed_by="api", now=NOW)
        with pytest.raises(NotFound):
            await pause_credit(conn, 404, reason="x", performed_by="api", now=NOW)
        audit = await conn.fetch(
            "SELECT action FROM audit_log WHERE action IN ('PAUSE','UNPAUSE') ORDER BY id"
        )
        assert [a["action"] for a in audit] == ["PAUSE", "UNPAUSE"]
        out = await _outbox(conn)
        assert [m["kind"] for m in out] == ["credit_paused", "credit_resumed"]
        assert out[0]["dedupe_key"] == f"credit_paused:{rid}:{paused.audit_id}"
        assert "cheque bounced" in out[0]["body"] and out[0]["language"] == "hi"
        assert "₹1,00,000" in out[1]["body"]


# --- guardrail settings ---------------------------------------------------------------------


async def test_set_guardrails_audits_changes_only(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        g = await set_guardrails(
            conn, rid, credit_limit=0, max_outstanding_days=45, performed_by="api", now=NOW
        )
        assert (g.credit_limit, g.max_outstanding_days, g.payment_terms_days) == (0, 45, 15)
        await set_guardrails(conn, rid, max_outstanding_days=45, performed_by="api", now=NOW)
        entries = await conn.fetch(
            "SELECT action, old_value, new_value FROM audit_log WHERE action LIKE '%CHANGE'"
        )
        assert len(entries) == 1 and entries[0]["action"] == "LIMIT_CHANGE"
        assert entries[0]["old_value"] == {"creditLimit": 100_000_00, "maxOutstandingDays": 30}
        assert entries[0]["new_value"] == {"creditLimit": 0, "maxOutstandingDays": 45}
        for bad in ({"credit_limit": -1}, {"max_order_value": 0}, {"payment_terms_days": 0}, {}):
            with pytest.raises(Unprocessable):
                await set_guardrails(conn, rid, performed_by="api", now=NOW, **bad)


# --- guardrails evaluation ------------------------------------------------------------------


async def test_apply_guardrails_pauses_resumes_and_is_idempotent(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        pid = await make_product(conn)
        late = await make_retailer(conn, "+919800000001")
        day30 = await make_retailer(conn, "+919800000002")
        small = await make_retailer(conn, "+919800000003")
        admin_paused = await make_retailer(conn, "+919800000004")
        await credit_order(conn, late, pid, 5_000_00, now=NOW - days(31))
        await credit_order(conn, day30, pid, 5_000_00, now=NOW - days(30))
        await credit_order(conn, small, pid, 99_99, now=NOW - days(40))  # below the tolerance
        await credit_order(conn, admin_paused, pid, 5_000_00, now=NOW - days(1))
        await pause_credit(
            conn, admin_paused, reason="by hand", performed_by="+919900000000", now=NOW
        )

        run = await apply_guardrails(conn, today=TODAY, now=NOW, tolerance=TOL)
        assert [rid for rid, _ in run.paused] == [late] and run.resumed == ()
        assert "₹5,000 unpaid for more than 30 days" in run.paused[0][1]
        again = await apply_guardrails(conn, today=TODAY, now=NOW, tolerance=TOL)
        assert again.paused == () and again.resumed == ()
        status = await conn.fetchrow(
            "SELECT credit_status, paused_by FROM retailers WHERE id=$1", late
        )
        assert tuple(status) == ("PAUSED", "SYSTEM")
        assert (
            await conn.fetchval("SELECT count(*) FROM outbox_messages WHERE kind='credit_paused'")
            == 2
        )

        # paying most of it leaves less than the tolerance: the system lifts its own pause only,
        # in the payment's transaction (issue 11), so the next run has nothing to resume
        paid = await record_payment(
            conn, retailer_id=late, amount=4_950_00, performed_by="a", now=NOW, tz=TZ
        )
        assert paid.resumed is not None and paid.resumed.performed_by == "SYSTEM"
        paid = await record_payment(
            conn, retailer_id=admin_paused, amount=5_000_00, performed_by="a", now=NOW, tz=TZ
        )
        assert paid.resumed is None
        run = await apply_guardrails(conn, today=TODAY, now=NOW, tolerance=TOL)
        assert run.paused == () and run.resumed == ()
        status = await conn.fetchrow(
            "SELECT credit_status, paused_by FROM retailers WHERE id=$1", admin_paused
        )
        assert status["credit_status"] == "PAUSED"
        # next day the 30-day debit crosses the line
        run = await apply_guardrails(
            conn, today=date(2026, 1, 16), now=NOW + days(1), tolerance=TOL
        )
        assert [rid for rid, _ in run.paused] == [day30]
        await check_invariants(conn)


# --- failed orders --------------------------------------------------------------------------


async def test_fail_order_reverses_unpaid_part_once(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn)
        order = await credit_order(conn, rid, pid, 1_000_00)
        await record_payment(
            conn,
            transaction_id=order.transaction_id,
            amount=300_00,
            performed_by="a",
            now=NOW,
            tz=TZ,
        )
        failed = await fail_order(
            conn, order.order_id, reason="truck broke down", performed_by="api", now=NOW, tz=TZ
        )
        assert failed.reversed_amount == 700_00 and failed.total == 1_000_00
        row = await conn.fetchrow("SELECT status, failed_at, failure_reason FROM orders")
        assert tuple(row) == ("FAILED", NOW, "truck broke down")
        assert await _status(conn, order.transaction_id or 0) == ("REVERSED", 300_00)
        rev = await conn.fetchrow("SELECT * FROM credit_transactions WHERE type = 'REVERSAL'")
        # The REVERSAL undoes the whole debit (docs/decisions.md, "Advances"); the 300 paid is credited.
        assert (rev["amount"], rev["related_transaction_id"], rev["reason"]) == (
            1_000_00, order.transaction_id, "order_failed",
        )  # fmt: skip
        assert failed.credited == 300_00
        assert await conn.fetchval("SELECT outstanding FROM credit_accounts") == 0
        with pytest.raises(Conflict):
            await fail_order(
                conn, order.order_id, reason="again", performed_by="api", now=NOW, tz=TZ
            )
        with pytest.raises(NotFound):
            await fail_order(conn, 999, reason="x", performed_by="api", now=NOW, tz=TZ)
        out = await _outbox(conn)
        assert [(m["kind"], m["dedupe_key"]) for m in out] == [
            ("order_failed", f"order_failed:{order.order_id}")
        ]
        assert "truck broke down" in out[0]["body"]
        await check_invariants(conn)


async def test_fail_cod_order_changes_no_credit(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        pid = await make_product(conn)
        order = await credit_order(conn, rid, pid, 10, mode=PaymentMode.COD)
        failed = await fail_order(
            conn, order.order_id, reason="refused", performed_by="a", now=NOW, tz=TZ
        )
        assert failed.reversed_amount == 0 and failed.reversal_id is None
        assert await conn.fetchval(
            "SELECT reference FROM audit_log WHERE action='ORDER_FAILED'"
        ) == (f"order:{order.order_id}")


# --- views ----------------------------------------------------------------------------------


async def test_dashboard_at_risk_and_profile(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        pid = await make_product(conn)
        a = await make_retailer(conn, "+919800000001", limit=10_000_00)
        b = await make_retailer(conn, "+919800000002", limit=10_000_00)
        c = await make_retailer(conn, "+919800000003", limit=10_000_00)
        await make_retailer(conn, "+919800000004", limit=5_000_00)
        await credit_order(conn, a, pid, 2_000_00, now=NOW - days(20))  # due 5 days ago
        await credit_order(conn, a, pid, 1_000_00, now=NOW - days(120))  # due 105 days ago
        await credit_order(conn, b, pid, 8_500_00, now=NOW - days(1))  # current, 85% used
        await credit_order(conn, c, pid, 3_000_00, now=NOW - days(50))  # due 35 days ago
        await pause_credit(conn, c, reason="by hand", performed_by="api", now=NOW)

        d = await get_risk_dashboard(conn, TODAY)
        got = {k.value: (v.amount, v.retailers) for k, v in d.buckets.items()}
        assert got == {
            "current": (8_500_00, 1),
            "1_30": (2_000_00, 1),
            "31_60": (3_000_00, 1),
            "61_90": (0, 0),
            "90_plus": (1_000_00, 1),
        }
        assert d.total_outstanding == 14_500_00 and d.total_limit == 35_000_00
        assert d.available == 7_000_00 + 1_500_00 + 7_000_00 + 5_000_00
        assert d.utilisation == 41.4
        assert {k.value: v for k, v in d.status_counts.items()} == {
            "ACTIVE": 3,
            "PAUSED": 1,
            "BLOCKED": 0,
        }

        risky = await get_at_risk(conn, TODAY, tolerance=TOL)
        assert [(r.retailer_id, [x.value for x in r.reasons]) for r in risky.retailers] == [
            (a, ["OVERDUE_BEYOND_LIMIT"]),
            (b, ["HIGH_UTILISATION"]),
        ]
        assert risky.retailers[0].max_days_past_due == 105

        p = await get_credit_profile(conn, a, TODAY)
        assert p is not None
        assert (p.outstanding, p.available, p.overdue_amount, p.beyond_limit_amount) == (
            3_000_00, 7_000_00, 3_000_00, 1_000_00,
        )  # fmt: skip
        assert [d.days_overdue for d in p.open_debits] == [105, 5]
        assert len(p.recent_orders) == 2
        assert sorted(e.action for e in p.recent_audit) == ["DEBIT", "DEBIT", "RETAILER_CREATED"]
        assert await get_credit_profile(conn, 404, TODAY) is None
        await check_invariants(conn)
