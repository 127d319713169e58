"""The product catalogue as the checkout sees it."""

from __future__ import annotations

from collections.abc import Iterable

from bot.checkout import Product
from db.pool import Conn


async def get_catalogue(conn: Conn, also: Iterable[int] = ()) -> list[Product]:
    """Active products in display order (category, name), plus the products `also` names even
    when inactive (a cart's or a shown list's), so the checkout can name what was retired."""
    rows = await conn.fetch(
        """SELECT id, sku, name, category, price, unit, active FROM products
           WHERE active OR id = any($1::bigint[])
           ORDER BY category, name, id""",
        sorted(set(also)),
    )
    return [Product(**dict(r)) for r in rows]
