from __future__ import annotations

import asyncpg

from db.migrate import load_migrations, migrate


async def test_migrations_apply_to_empty_database_then_nothing(database_server_url: str) -> None:
    from bot.cli.embedded import database_url_for

    admin = await asyncpg.connect(database_server_url)
    name = "kirana_migrate_probe"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(database_url_for(database_server_url, name))
        try:
            first = await migrate(conn)
            assert first == [m.name for m in load_migrations()]
            assert await migrate(conn) == []
            tables = {
                r["tablename"]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public'"
                )
            }
            for table in (
                "retailers", "credit_accounts", "credit_transactions", "products", "orders",
                "order_items", "pending_orders", "conversations", "inbound_messages",
                "outbox_messages", "audit_log", "retailer_insights", "job_runs",
            ):  # fmt: skip
                assert table in tables
            versions = await conn.fetchval("SELECT count(*) FROM schema_migrations")
            assert versions == len(first)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_credit_account_defaults(db: asyncpg.Pool) -> None:
    rid = await db.fetchval(
        "INSERT INTO retailers (phone, name) VALUES ('+919811111111', 'A') RETURNING id"
    )
    await db.execute("INSERT INTO credit_accounts (retailer_id) VALUES ($1)", rid)
    row = await db.fetchrow("SELECT * FROM credit_accounts WHERE retailer_id = $1", rid)
    assert row["max_order_value"] == 50_000_00
    assert row["max_outstanding_days"] == 30
    assert row["payment_terms_days"] == 15
    status = await db.fetchval("SELECT credit_status FROM retailers WHERE id = $1", rid)
    assert status == "ACTIVE"
