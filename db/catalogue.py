"""The catalogue, kept in memory per process and re-read only when `catalogue_version` moves.

The version is read in the same statement as the rest of a message's facts, so a product retired
or repriced a moment ago is seen by the next message (the ledger re-checks prices and activity at
placement anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.checkout import Product
from db.pool import Conn


@dataclass(frozen=True)
class Catalogue:
    version: int
    products: Mapping[int, Product]  # every product, active or not, by id
    active: tuple[int, ...]  # active product ids in display order (category, name)


@dataclass
class CatalogueCache:
    current: Catalogue | None = field(default=None)

    async def get(self, conn: Conn, version: int) -> Catalogue:
        """The catalogue at `version`, read from the database when the cached one is another."""
        if self.current is None or self.current.version != version:
            self.current = await read_catalogue(conn)
        return self.current


async def read_catalogue(conn: Conn) -> Catalogue:
    rows = await conn.fetch(
        """SELECT (SELECT version FROM catalogue_version) AS version,
                  id, sku, name, category, price, unit, active
           FROM products ORDER BY NOT active, category, name, id"""
    )
    version = (
        rows[0]["version"] if rows else await conn.fetchval("SELECT version FROM catalogue_version")
    )
    products = {
        r["id"]: Product(
            r["id"], r["sku"], r["name"], r["category"], r["price"], r["unit"], r["active"]
        )
        for r in rows
    }
    active = tuple(r["id"] for r in rows if r["active"])
    return Catalogue(version=int(version or 0), products=MappingProxyType(products), active=active)
