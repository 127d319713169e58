"""Helpers for the ledger tests: make retailers and products, place orders, check invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import business_date
from bot.credit import PaymentMode
from bot.orders import OrderLine
from db.credit_queries import get_risk_dashboard
from db.ledger import PlacedOrder, place_order
from db.onboarding import NewProduct, NewRetailer, create_product, create_retailer
from db.pool import Conn

TZ = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)  # the `clock` fixture's time; 12:00 in India
TODAY = date(2026, 1, 15)
TOL = 100_00


def days(n: float) -> timedelta:
    return timedelta(days=n)


async def make_retailer(
    conn: Conn,
    phone: str = "+919812345678",
    *,
    limit: int = 100_000_00,
    name: str = "Ramesh",
    language: str = "en",
    now: datetime = NOW,
    **kw: int,
) -> int:
    return await create_retailer(
        conn,
        NewRetailer(phone=phone, name=name, credit_limit=limit, language=language, **kw),
        performed_by="test",
        now=now,
    )


async def make_product(
    conn: Conn, sku: str = "UNIT", price: int = 1, *, now: datetime = NOW
) -> int:
    return await create_product(
        conn, NewProduct(sku=sku, name=f"Product {sku}", category="Test", price=price), now=now
    )


async def credit_order(
    conn: Conn,
    retailer_id: int,
    product_id: int,
    quantity: int,
    *,
    now: datetime = NOW,
    mode: PaymentMode = PaymentMode.CREDIT,
) -> PlacedOrder:
    """Place an order that must be allowed; return it."""
    result = await place_order(
        conn,
        retailer_id=retailer_id,
        lines=[OrderLine(product_id, quantity)],
        mode=mode,
        now=now,
        tz=TZ,
        tolerance=TOL,
        performed_by="test",
    )
    assert result.order is not None, result.verdict
    return result.order


async def check_invariants(conn: Conn, today: date | None = None) -> None:
    """Per account: outstanding = sum of open debits' unpaid parts, nothing negative; overall:
    the aging buckets sum to the outstanding; every ledger row has its audit entry."""
    bad = await conn.fetch(
        """SELECT ca.retailer_id, ca.outstanding, coalesce(s.unpaid, 0) AS unpaid
           FROM credit_accounts ca
           LEFT JOIN (SELECT retailer_id, sum(amount - cleared_amount) AS unpaid
                      FROM credit_transactions
                      WHERE status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT'
                      GROUP BY retailer_id) s ON s.retailer_id = ca.retailer_id
           WHERE ca.outstanding <> coalesce(s.unpaid, 0) OR ca.outstanding < 0"""
    )
    assert not bad, [dict(r) for r in bad]
    # The ledger's own sum: debits less credits is what is owed less what is held as advance
    # (docs/decisions.md, "Advances"); the statement's closing balance rests on it.
    unbalanced = await conn.fetch(
        """SELECT ca.retailer_id, ca.outstanding, ca.advance, coalesce(s.net, 0) AS net
           FROM credit_accounts ca
           LEFT JOIN (SELECT retailer_id,
                             sum(CASE WHEN direction = 'DEBIT' THEN amount ELSE -amount END)
                                 AS net
                      FROM credit_transactions GROUP BY retailer_id) s
                  ON s.retailer_id = ca.retailer_id
           WHERE coalesce(s.net, 0) <> ca.outstanding - ca.advance
              OR ca.advance < 0 OR (ca.advance > 0 AND ca.outstanding > 0)"""
    )
    assert not unbalanced, [dict(r) for r in unbalanced]
    negative = await conn.fetchval(
        """SELECT count(*) FROM credit_transactions
           WHERE amount <= 0 OR cleared_amount < 0 OR cleared_amount > amount"""
    )
    assert negative == 0
    # An open debit is never fully cleared, a cleared one always is.
    wrong_status = await conn.fetchval(
        """SELECT count(*) FROM credit_transactions WHERE direction = 'DEBIT' AND (
               (status = 'OPEN' AND cleared_amount <> 0)
            OR (status = 'PARTIAL' AND (cleared_amount = 0 OR cleared_amount = amount))
            OR (status = 'CLEARED' AND cleared_amount <> amount))"""
    )
    assert wrong_status == 0
    unaudited = await conn.fetchval(
        """SELECT count(*) FROM credit_transactions t
           WHERE t.performed_by <> 'SEED' AND NOT EXISTS (
               SELECT 1 FROM audit_log a WHERE a.reference = 'txn:' || t.id)"""
    )
    assert unaudited == 0
    dashboard = await get_risk_dashboard(conn, today or business_date(NOW, TZ))
    assert sum(b.amount for b in dashboard.buckets.values()) == dashboard.total_outstanding
    total = await conn.fetchval("SELECT coalesce(sum(outstanding), 0) FROM credit_accounts")
    assert dashboard.total_outstanding == total
