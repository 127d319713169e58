"""Placing orders: pricing snapshot, verdicts on the locked account, DEBIT and audit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from bot.credit import PaymentMode
from bot.orders import OrderLine
from db.ledger import get_credit_facts, place_order
from db.onboarding import NewProduct, NewRetailer, create_product, create_retailer

TZ = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)


async def _setup(db: asyncpg.Pool, limit: int = 10_000_00) -> tuple[int, int]:
    async with db.acquire() as conn:
        rid = await create_retailer(
            conn,
            NewRetailer(phone="+919812345678", name="Ramesh", credit_limit=limit),
            performed_by="test",
            now=NOW,
        )
        pid = await create_product(
            conn,
            NewProduct(sku="ATTA", name="Atta 10kg", category="Staples", price=450_00),
            now=NOW,
        )
    return rid, pid


async def test_credit_order_writes_debit_outstanding_and_audit(db: asyncpg.Pool) -> None:
    rid, pid = await _setup(db)
    async with db.acquire() as conn:
        result = await place_order(
            conn,
            retailer_id=rid,
            lines=[OrderLine(pid, 2)],
            mode=PaymentMode.CREDIT,
            now=NOW,
            tz=TZ,
            tolerance=100_00,
            performed_by="+919812345678",
        )
        assert result.verdict.allowed and result.order is not None
        assert result.order.total == 900_00
        assert result.order.due_date == date(2026, 1, 30)
        assert result.verdict.available == 10_000_00 - 900_00
        facts = await get_credit_facts(conn, rid, date(2026, 1, 15))
        assert facts is not None and facts.outstanding == 900_00
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action='DEBIT'") == 1
        order = result.order
        audit = await conn.fetchrow("SELECT * FROM audit_log WHERE action = 'DEBIT'")
        assert audit["reference"] == f"txn:{order.transaction_id}"
        assert audit["old_value"] == {"outstanding": 0}
        assert audit["new_value"] == {
            "outstanding": 900_00,
            "amount": 900_00,
            "orderId": order.order_id,
            "dueDate": "2026-01-30",
        }
        assert audit["reason"] == f"credit order #{order.order_id} of ₹900"
        assert audit["performed_by"] == "+919812345678" and audit["created_at"] == NOW
        debit = await conn.fetchrow("SELECT * FROM credit_transactions")
        assert (debit["id"], debit["order_id"], debit["amount"]) == (
            order.transaction_id,
            order.order_id,
            900_00,
        )
        assert (debit["due_date"], debit["txn_date"]) == (date(2026, 1, 30), date(2026, 1, 15))
        items = await conn.fetch(
            "SELECT product_id, quantity, unit_price, line_total FROM order_items"
        )
        assert [tuple(i) for i in items] == [(pid, 2, 450_00, 900_00)]
        # Aging stays exact for the day: the new debit is current.
        aging = await conn.fetchrow("SELECT aging_as_of, aged_current FROM credit_accounts")
        assert tuple(aging) == (date(2026, 1, 15), 900_00)
