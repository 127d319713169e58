"""Demo data for the run command: a few retailers in different credit states and a catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from bot.credit import SYSTEM

DEMO_ADMIN = "+919900000000"

PRODUCTS = [
    # sku, name, category, price (paise), unit
    ("ATTA-10", "Aashirvaad Atta 10kg", "Staples", 45000, "bag"),
    ("RICE-BAS-5", "India Gate Basmati 5kg", "Staples", 62500, "bag"),
    ("RICE-SON-25", "Sona Masoori Rice 25kg", "Staples", 135000, "bag"),
    ("DAL-TUR-1", "Toor Dal 1kg", "Staples", 16500, "kg"),
    ("DAL-MOONG-1", "Moong Dal 1kg", "Staples", 14000, "kg"),
    ("SUGAR-5", "Sugar 5kg", "Staples", 23000, "bag"),
    ("SALT-1", "Tata Salt 1kg", "Staples", 2800, "pack"),
    ("OIL-SUN-1", "Fortune Sunflower Oil 1L", "Staples", 15500, "bottle"),
    ("OIL-MUS-1", "Mustard Oil 1L", "Staples", 17000, "bottle"),
    ("BISC-PG-12", "Parle-G Biscuits (12 pack)", "Snacks", 6000, "box"),
    ("BISC-GD-10", "Good Day Cookies (10 pack)", "Snacks", 10000, "box"),
    ("CHIPS-LAYS-20", "Lay's Chips (20 pack)", "Snacks", 20000, "box"),
    ("NAMK-HAL-1", "Haldiram's Bhujia 1kg", "Snacks", 24000, "pack"),
    ("MAGGI-12", "Maggi Noodles (12 pack)", "Snacks", 16800, "box"),
    ("TEA-TAJ-500", "Taj Mahal Tea 500g", "Beverages", 30000, "pack"),
    ("TEA-RED-1", "Red Label Tea 1kg", "Beverages", 52000, "pack"),
    ("COFFEE-BRU-200", "Bru Instant Coffee 200g", "Beverages", 34000, "jar"),
    ("COLA-24", "Thums Up 300ml (24 crate)", "Beverages", 48000, "crate"),
    ("JUICE-FR-12", "Frooti 200ml (12 pack)", "Beverages", 18000, "box"),
    ("SOAP-LUX-4", "Lux Soap (4 pack)", "Personal care", 16000, "pack"),
    ("SOAP-DET-4", "Dettol Soap (4 pack)", "Personal care", 19000, "pack"),
    ("PASTE-COL-3", "Colgate Toothpaste (3 pack)", "Personal care", 27000, "pack"),
    ("SHAMP-CC-50", "Clinic Plus Sachets (50)", "Personal care", 10000, "strip"),
    ("OIL-PAR-500", "Parachute Coconut Oil 500ml", "Personal care", 21000, "bottle"),
    ("DET-SURF-1", "Surf Excel 1kg", "Household", 14500, "pack"),
    ("DET-RIN-1", "Rin Bar (5 pack)", "Household", 9000, "pack"),
    ("DISH-VIM-3", "Vim Bar (3 pack)", "Household", 6000, "pack"),
    ("AGARB-100", "Cycle Agarbatti (100)", "Household", 8000, "box"),
    ("MATCH-10", "Matchbox (10 pack)", "Household", 1000, "pack"),
    ("CLEAN-HAR-1", "Harpic 1L", "Household", 19500, "bottle"),
]

# phone, name, shop, language, limit (paise), status, pause reason, debits as (days ago, paise)
RETAILERS = [
    ("+919800000001", "Ramesh Kumar", "Ramesh General Store", "en", 10000000, "ACTIVE", None,
     [(5, 1850000), (20, 2200000)]),
    ("+919800000002", "Sunita Devi", "Sunita Kirana", "hi", 5000000, "ACTIVE", None,
     [(3, 4200000)]),
    ("+919800000003", "Abdul Rahman", "Rahman Provision", "en", 7500000, "ACTIVE", None,
     [(40, 1500000), (12, 900000)]),
    ("+919800000004", "Priya Sharma", "Sharma Stores", "hi", 6000000, "PAUSED",
     "Overdue beyond 30 days", [(45, 2500000)]),
    ("+919800000005", "Vijay Patil", "Patil Traders", "en", 4000000, "BLOCKED",
     "Cheque bounced twice", [(95, 1200000)]),
    ("+919800000006", "Lakshmi Iyer", "Lakshmi Supermart", "en", 15000000, "ACTIVE", None, []),
]  # fmt: skip

TERMS_DAYS = 15


async def seed_demo(conn: asyncpg.Connection, now: datetime | None = None) -> bool:
    """Load demo data into an empty database; return False (and do nothing) if it has retailers."""
    now = now or datetime.now(UTC)
    async with conn.transaction():
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM retailers)"):
            return False
        await conn.executemany(
            "INSERT INTO products (sku, name, category, price, unit) VALUES ($1, $2, $3, $4, $5)",
            PRODUCTS,
        )
        product = await conn.fetchrow(
            "SELECT id, sku, name, price FROM products WHERE sku = 'ATTA-10'"
        )
        assert product is not None
        for phone, name, shop, lang, limit, status, reason, debits in RETAILERS:
            paused = status != "ACTIVE"
            rid = await conn.fetchval(
                """INSERT INTO retailers (phone, name, shop_name, language, credit_status,
                       credit_paused_at, credit_pause_reason, paused_by, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
                phone, name, shop, lang, status,
                now - timedelta(days=10) if paused else None, reason,
                SYSTEM if status == "PAUSED" else (DEMO_ADMIN if paused else None),
                now - timedelta(days=120),
            )  # fmt: skip
            outstanding = sum(amount for _, amount in debits)
            await conn.execute(
                """INSERT INTO credit_accounts (retailer_id, credit_limit, outstanding)
                   VALUES ($1, $2, $3)""",
                rid,
                limit,
                outstanding,
            )
            for days_ago, amount in debits:
                created = now - timedelta(days=days_ago)
                qty = max(1, amount // product["price"])
                total = qty * product["price"]
                order_id = await conn.fetchval(
                    """INSERT INTO orders (retailer_id, total, payment_mode, status, due_date,
                           created_at) VALUES ($1, $2, 'CREDIT', 'DELIVERED', $3, $4) RETURNING id""",
                    rid, total, (created + timedelta(days=TERMS_DAYS)).date(), created,
                )  # fmt: skip
                await conn.execute(
                    """INSERT INTO order_items (order_id, product_id, sku, name, unit_price,
                           quantity, line_total) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                    order_id, product["id"], product["sku"], product["name"], product["price"],
                    qty, total,
                )  # fmt: skip
                # The order's total is what was debited; keep the account's total in step.
                if total != amount:
                    await conn.execute(
                        "UPDATE credit_accounts SET outstanding = outstanding + $2 WHERE retailer_id = $1",
                        rid,
                        total - amount,
                    )
                txn = await conn.fetchval(
                    """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status,
                           due_date, order_id, performed_by, created_at)
                       VALUES ($1, 'DEBIT', 'DEBIT', $2, 'OPEN', $3, $4, 'SEED', $5) RETURNING id""",
                    rid, total, (created + timedelta(days=TERMS_DAYS)).date(), order_id, created,
                )  # fmt: skip
                await conn.execute(
                    """INSERT INTO audit_log (retailer_id, action, reference, new_value,
                           performed_by, reason, created_at)
                       VALUES ($1, 'DEBIT', $2, $3, 'SEED', 'demo data', $4)""",
                    rid, f"txn:{txn}", {"amount": total, "orderId": order_id}, created,
                )  # fmt: skip
    return True
