"""Placing orders: pricing snapshot, verdicts on the locked account, DEBIT and audit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from bot.credit import PaymentMode
from db.ledger import OrderLine, get_credit_facts, place_order
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
