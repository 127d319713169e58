"""Catalogue and retailer upkeep (DESIGN section 10): list and correct products and retailers.

Every change writes an audit entry in its transaction: a product's with `retailer_id` NULL (the
audit table allows it) and reference `product:<id>`, a retailer's with its id. A product change
moves `catalogue_version` (the products trigger, migration 0005), so every web process re-reads
the catalogue on its next message: a retired product leaves the menu at once.

Lists are keyset-paged on (name, id) with an opaque cursor; the retailer search uses the trigram
index over name, shop and number (migration 0017), with the WHERE built from the filters present.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from bot.credit import CreditStatus
from bot.limits import max_length
from bot.messages import LANGUAGES
from bot.phone import InvalidPhone, normalize_phone
from db.audit import insert_audit
from db.errors import Conflict, NotFound, Unprocessable, retailer_not_found
from db.pool import Conn

# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductRow:
    product_id: int
    sku: str
    name: str
    category: str
    price: int
    unit: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class ProductPage:
    products: tuple[ProductRow, ...]
    next_key: tuple[str, int] | None  # the last row's (name, id) when more follow


_PRODUCT_COLUMNS = "id, sku, name, category, price, unit, active, created_at"


def _product(r: Any) -> ProductRow:
    return ProductRow(
        product_id=r["id"],
        sku=r["sku"],
        name=r["name"],
        category=r["category"],
        price=r["price"],
        unit=r["unit"],
        active=r["active"],
        created_at=r["created_at"],
    )


def like_pattern(text: str) -> str:
    """`%text%` for ILIKE, with the pattern's own characters taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_products(
    conn: Conn,
    *,
    q: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    after: tuple[str, int] | None = None,
    limit: int = 50,
) -> ProductPage:
    """Products by name, filtered by text in the name or SKU, category (any case) and active."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if q:
        p = arg(like_pattern(q))
        where.append(f"(name ILIKE {p} OR sku ILIKE {p})")
    if category:
        where.append(f"lower(category) = lower({arg(category)})")
    if active is not None:
        where.append(f"active = {arg(active)}")
    if after is not None:
        where.append(f"(name, id) > ({arg(after[0])}, {arg(after[1])})")
    rows = await conn.fetch(
        f"""SELECT {_PRODUCT_COLUMNS} FROM products
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY name, id LIMIT {arg(limit + 1)}""",
        *args,
    )
    page = [_product(r) for r in rows[:limit]]
    more = len(rows) > limit
    return ProductPage(tuple(page), (page[-1].name, page[-1].product_id) if more and page else None)


async def get_product(conn: Conn, product_id: int) -> ProductRow | None:
    row = await conn.fetchrow(f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = $1", product_id)
    return None if row is None else _product(row)


async def find_product_by_sku(conn: Conn, sku: str) -> int | None:
    """The id of the product with this SKU, whatever its case or spacing."""
    found: int | None = await conn.fetchval(
        """SELECT id FROM products
           WHERE norm_key(sku) = norm_key($1)
           ORDER BY id LIMIT 1""",
        sku,
    )
    return found


@dataclass(frozen=True)
class ProductChange:
    """What to change on a product; None leaves a field as it is."""

    price: int | None = None
    name: str | None = None
    category: str | None = None
    unit: str | None = None
    active: bool | None = None


def _clean_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise Unprocessable("INVALID_FIELD", f"{field} must not be empty")
    limit = max_length(field)
    if len(text) > limit:
        raise Unprocessable("INVALID_FIELD", f"{field} is longer than {limit} characters")
    return text


_PRODUCT_FIELDS = {
    "price": "price",
    "name": "name",
    "category": "category",
    "unit": "unit",
    "active": "active",
}


async def update_product(
    conn: Conn, product_id: int, change: ProductChange, *, performed_by: str, now: datetime
) -> tuple[ProductRow, dict[str, Any]]:
    """Change a product's price, name, category, unit or active flag; return it and the fields
    that changed ({field: [old, new]}). NotFound for an unknown product; Unprocessable for a bad
    value or an empty change. Audited (retailer NULL) only when something changed."""
    if change.price is not None and change.price <= 0:
        raise Unprocessable("INVALID_AMOUNT", "price must be positive")
    wanted = {
        "price": change.price,
        "name": _clean_text(change.name, "name"),
        "category": _clean_text(change.category, "category"),
        "unit": _clean_text(change.unit, "unit"),
        "active": change.active,
    }
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if not wanted:
        raise Unprocessable(
            "INVALID_FIELD", "nothing to change: give price, name, category, unit or active"
        )
    async with conn.transaction():
        old = await conn.fetchrow(
            f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = $1 FOR UPDATE", product_id
        )
        if old is None:
            raise NotFound("PRODUCT_NOT_FOUND", f"no product {product_id}")
        changed = {k: v for k, v in wanted.items() if old[k] != v}
        if not changed:
            return _product(old), {}
        sets = ", ".join(f"{_PRODUCT_FIELDS[k]} = ${i}" for i, k in enumerate(changed, start=2))
        row = await conn.fetchrow(
            f"UPDATE products SET {sets} WHERE id = $1 RETURNING {_PRODUCT_COLUMNS}",
            product_id,
            *changed.values(),
        )
        assert row is not None
        # A category trigger may file the product under an existing spelling: report what is
        # stored.
        diff = {k: [old[k], row[k]] for k in changed if old[k] != row[k]}
        await insert_audit(
            conn,
            retailer_id=None,
            action="PRODUCT_UPDATED",
            reference=f"product:{product_id}",
            old_value={"sku": old["sku"]} | {k: v[0] for k, v in diff.items()},
            new_value={"sku": row["sku"]} | {k: v[1] for k, v in diff.items()},
            performed_by=performed_by,
            at=now,
        )
    return _product(row), diff


# --- retailers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetailerRow:
    retailer_id: int
    phone: str
    name: str
    shop_name: str
    language: str
    credit_status: str
    credit_limit: int
    outstanding: int
    opted_out: bool
    last_inbound_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class RetailerPage:
    retailers: tuple[RetailerRow, ...]
    next_key: tuple[str, int] | None  # the last row's (name, id) when more follow


# The expression the trigram index is built on (migration 0017): the search must say it so.
SEARCH_TEXT = "(r.name || ' ' || r.shop_name || ' ' || r.phone)"

_RETAILER_COLUMNS = """
    r.id, r.phone, r.name, r.shop_name, r.language, r.credit_status, r.opted_out,
    r.last_inbound_at, r.created_at, ca.credit_limit, ca.outstanding
"""


def _retailer(r: Any) -> RetailerRow:
    return RetailerRow(
        retailer_id=r["id"],
        phone=r["phone"],
        name=r["name"],
        shop_name=r["shop_name"],
        language=r["language"],
        credit_status=r["credit_status"],
        credit_limit=r["credit_limit"],
        outstanding=r["outstanding"],
        opted_out=r["opted_out"],
        last_inbound_at=r["last_inbound_at"],
        created_at=r["created_at"],
    )


def retailers_query(
    *, q: str | None, status: CreditStatus | None, after: tuple[str, int] | None, limit: int
) -> tuple[str, list[Any]]:
    """The search's SQL and arguments for the filters present (exposed for the EXPLAIN test). A
    query that is a phone number finds that number exactly; other text matches anywhere in the
    name, shop or number."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    text = (q or "").strip()
    searching = False
    if text:
        try:
            phone = normalize_phone(text) if sum(c.isdigit() for c in text) >= 10 else None
        except InvalidPhone:
            phone = None
        if phone is not None:
            where.append(f"r.phone = {arg(phone)}")
        else:
            digits = "".join(text.split()) if text.replace(" ", "").isdigit() else text
            where.append(f"{SEARCH_TEXT} ILIKE {arg(like_pattern(digits))}")
            searching = True
    if status is not None:
        where.append(f"r.credit_status = {arg(status.value)}")
    if after is not None:
        where.append(f"(r.name, r.id) > ({arg(after[0])}, {arg(after[1])})")
    # With text to find, the rows come from the trigram index and are sorted (a common name
    # matches thousands, scattered through the name order): `r.name || ''` keeps the planner
    # from walking the whole name index instead, filtering as it goes (150 ms at 100k rows in
    # bench/desk.py, against 15 ms this way). Without it, the name index gives the order.
    order = "r.name || '', r.id" if searching else "r.name, r.id"
    sql = f"""
        SELECT {_RETAILER_COLUMNS}
        FROM retailers r LEFT JOIN credit_accounts ca ON ca.retailer_id = r.id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY {order}
        LIMIT {arg(limit + 1)}
    """
    return sql, args


async def search_retailers(
    conn: Conn,
    *,
    q: str | None = None,
    status: CreditStatus | None = None,
    after: tuple[str, int] | None = None,
    limit: int = 50,
) -> RetailerPage:
    """Retailers by name, found by any part of name, shop or number, of one credit status."""
    sql, args = retailers_query(q=q, status=status, after=after, limit=limit)
    async with conn.transaction(readonly=True) if not conn.is_in_transaction() else nullcontext():
        # A prepared statement's generic plan cannot see the pattern, and for `ILIKE $1` it
        # scans the table (100 ms at 100k retailers) where the pattern's own plan reads the
        # trigram index (7 ms): plan each search for its pattern. And the planner prices an
        # ILIKE on every row of a small table too cheaply: keep it on the indexes.
        await conn.execute(
            "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_seqscan = off"
        )
        rows = await conn.fetch(sql, *args)
    page = [_retailer(r) for r in rows[:limit]]
    more = len(rows) > limit
    return RetailerPage(
        tuple(page), (page[-1].name, page[-1].retailer_id) if more and page else None
    )


@dataclass(frozen=True)
class RetailerChange:
    """What to change on a retailer; None leaves a field as it is."""

    name: str | None = None
    shop_name: str | None = None
    language: str | None = None
    phone: str | None = None


_RETAILER_FIELDS = {
    "name": "name",
    "shop_name": "shop_name",
    "language": "language",
    "phone": "phone",
}
_AUDIT_NAMES = {"name": "name", "shop_name": "shopName", "language": "language", "phone": "phone"}


async def update_retailer(
    conn: Conn,
    retailer_id: int,
    change: RetailerChange,
    *,
    admin_numbers: Collection[str],
    performed_by: str,
    now: datetime,
) -> tuple[RetailerRow, dict[str, Any]]:
    """Correct a retailer's name, shop name, language or WhatsApp number; return the retailer and
    what changed ({field: [old, new]}). A new number must be free (Conflict `PHONE_REGISTERED`)
    and not an admin's (Conflict `ADMIN_NUMBER`); the conversation moves with it, and the 24-hour
    window starts again when the new number first writes. Audited when something changed."""
    wanted: dict[str, Any] = {}
    if change.name is not None:
        wanted["name"] = _clean_text(change.name, "name")
    if change.shop_name is not None:
        text = change.shop_name.strip()
        if len(text) > max_length("shopName"):
            raise Unprocessable(
                "INVALID_FIELD", f"shopName is longer than {max_length('shopName')} characters"
            )
        wanted["shop_name"] = text
    if change.language is not None:
        if change.language not in LANGUAGES:
            raise Unprocessable("INVALID_FIELD", f"language must be one of {', '.join(LANGUAGES)}")
        wanted["language"] = change.language
    if change.phone is not None:
        try:
            wanted["phone"] = normalize_phone(change.phone)
        except InvalidPhone:
            raise Unprocessable("INVALID_FIELD", "phone is not a valid phone number") from None
        if wanted["phone"] in admin_numbers:
            raise Conflict("ADMIN_NUMBER", "this number is an admin's; a retailer cannot use it")
    if not wanted:
        raise Unprocessable(
            "INVALID_FIELD", "nothing to change: give name, shopName, language or phone"
        )
    async with conn.transaction():
        old = await conn.fetchrow(
            "SELECT id, phone, name, shop_name, language FROM retailers WHERE id = $1 FOR UPDATE",
            retailer_id,
        )
        if old is None:
            raise retailer_not_found(retailer_id)
        changed = {k: v for k, v in wanted.items() if old[k] != v}
        if "phone" in changed:
            taken = await conn.fetchval(
                "SELECT id FROM retailers WHERE phone = $1", changed["phone"]
            )
            if taken is not None:
                raise Conflict("PHONE_REGISTERED", "another retailer is registered with this phone")
        if changed:
            sets = [f"{_RETAILER_FIELDS[k]} = ${i}" for i, k in enumerate(changed, start=2)]
            if "phone" in changed:
                # The window of the 24 hours is the old number's; the new one has not written.
                sets.append("last_inbound_at = NULL")
            try:
                async with conn.transaction():  # a savepoint: the race below is a 409
                    await conn.execute(
                        f"UPDATE retailers SET {', '.join(sets)} WHERE id = $1",
                        retailer_id,
                        *changed.values(),
                    )
            except asyncpg.UniqueViolationError:  # registered meanwhile by another request
                raise Conflict(
                    "PHONE_REGISTERED", "another retailer is registered with this phone"
                ) from None
            if "phone" in changed:
                await _move_conversation(conn, retailer_id, old["phone"], changed["phone"])
            await insert_audit(
                conn,
                retailer_id=retailer_id,
                action="RETAILER_UPDATED",
                reference=f"retailer:{retailer_id}",
                old_value={_AUDIT_NAMES[k]: old[k] for k in changed},
                new_value={_AUDIT_NAMES[k]: v for k, v in changed.items()},
                performed_by=performed_by,
                at=now,
            )
        row = await conn.fetchrow(
            f"""SELECT {_RETAILER_COLUMNS}
                FROM retailers r LEFT JOIN credit_accounts ca ON ca.retailer_id = r.id
                WHERE r.id = $1""",
            retailer_id,
        )
    assert row is not None
    return _retailer(row), {_AUDIT_NAMES[k]: [old[k], v] for k, v in changed.items()}


async def _move_conversation(conn: Conn, retailer_id: int, old: str, new: str) -> None:
    """The retailer's conversation (cart, stage) follows them to the new number; whatever the new
    number chatted before it was registered (as a stranger) is dropped."""
    await conn.execute("DELETE FROM conversations WHERE phone = $1 AND retailer_id IS NULL", new)
    await conn.execute(
        "UPDATE conversations SET phone = $2 WHERE phone = $1 AND retailer_id = $3",
        old,
        new,
        retailer_id,
    )
