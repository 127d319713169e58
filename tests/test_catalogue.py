"""The in-memory catalogue follows the database: any change to products moves its version."""

from __future__ import annotations

import asyncpg

from db.catalogue import CatalogueCache


async def add(db: asyncpg.Pool, sku: str, name: str, category: str = "Staples") -> int:
    pid: int = await db.fetchval(
        "INSERT INTO products (sku, name, category, price) VALUES ($1, $2, $3, 100) RETURNING id",
        sku,
        name,
        category,
    )
    return pid


async def test_cache_rereads_only_when_the_catalogue_changed(db: asyncpg.Pool) -> None:
    cache = CatalogueCache()
    salt = await add(db, "SALT", "Salt")
    atta = await add(db, "ATTA", "Atta")
    tea = await add(db, "TEA", "Tea", "Beverages")
    async with db.acquire() as conn:
        version = await conn.fetchval("SELECT version FROM catalogue_version")
        first = await cache.get(conn, version)
        assert first.active == (tea, atta, salt)  # by category, then name
        assert await cache.get(conn, version) is first  # nothing changed: nothing read

        await conn.execute("UPDATE products SET active = false WHERE id = $1", atta)
        moved = await conn.fetchval("SELECT version FROM catalogue_version")
        assert moved > version
        second = await cache.get(conn, moved)
        assert second.active == (tea, salt)
        assert second.products[atta].active is False  # still known, so it can be refused by name

        await conn.execute("UPDATE products SET price = 250 WHERE id = $1", salt)
        third = await cache.get(conn, await conn.fetchval("SELECT version FROM catalogue_version"))
        assert third.products[salt].price == 250
