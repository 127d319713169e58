"""Onboarding: a retailer with its credit account, and catalogue products (API and CSV import)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bot.credit import MAX_DAYS, terms_problem
from bot.limits import max_length
from bot.messages import LANGUAGES
from bot.phone import InvalidPhone, normalize_phone
from bot.settings import SettingsError
from db.audit import insert_audit
from db.errors import AppError, Conflict, Unprocessable
from db.pool import Conn

DEFAULT_MAX_ORDER_VALUE = 50_000_00
DEFAULT_MAX_OUTSTANDING_DAYS = 30
DEFAULT_PAYMENT_TERMS_DAYS = 15


@dataclass(frozen=True)
class NewRetailer:
    phone: str
    name: str
    credit_limit: int  # paise
    shop_name: str = ""
    language: str = "en"
    max_order_value: int = DEFAULT_MAX_ORDER_VALUE
    max_outstanding_days: int = DEFAULT_MAX_OUTSTANDING_DAYS
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS


@dataclass(frozen=True)
class NewProduct:
    sku: str
    name: str
    category: str
    price: int  # paise
    unit: str = "pc"


def _text(value: str, field: str, problems: list[AppError], *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        problems.append(Unprocessable("INVALID_FIELD", f"{field} is required"))
    else:
        limit = max_length(field)
        if len(text) > limit:
            problems.append(
                Unprocessable("INVALID_FIELD", f"{field} is longer than {limit} characters")
            )
    return text


def _days(value: int, field: str, problems: list[AppError]) -> None:
    if not 1 <= value <= MAX_DAYS:
        problems.append(
            Unprocessable("INVALID_FIELD", f"{field} must be a whole number from 1 to {MAX_DAYS}")
        )


def _admin_phone(phone: str) -> Conflict:
    return Conflict(
        "PHONE_IS_ADMIN",
        f"{phone} is an admin number (ADMIN_NUMBERS): its messages go to the admin commands, "
        "so it cannot be a retailer",
    )


def check_retailer(
    new: NewRetailer, *, admin_numbers: Collection[str] = ()
) -> tuple[NewRetailer, list[AppError]]:
    """The retailer with its phone in E.164 and text trimmed, and every problem found (each an
    error naming its field), in the order the API reports the first of them."""
    problems: list[AppError] = []
    phone = new.phone
    try:
        phone = normalize_phone(new.phone)
    except InvalidPhone:
        problems.append(Unprocessable("INVALID_FIELD", "phone is not a valid phone number"))
    else:
        if phone in admin_numbers:
            problems.append(_admin_phone(phone))
    if new.language not in LANGUAGES:
        problems.append(
            Unprocessable("INVALID_FIELD", f"language must be one of {', '.join(LANGUAGES)}")
        )
    if new.credit_limit < 0:
        problems.append(Unprocessable("INVALID_FIELD", "creditLimit must not be negative"))
    if new.max_order_value <= 0:
        problems.append(Unprocessable("INVALID_FIELD", "maxOrderValue must be positive"))
    _days(new.max_outstanding_days, "maxOutstandingDays", problems)
    _days(new.payment_terms_days, "paymentTermsDays", problems)
    in_range = all(1 <= d <= MAX_DAYS for d in (new.max_outstanding_days, new.payment_terms_days))
    terms = terms_problem(new.max_outstanding_days, new.payment_terms_days)
    if terms and in_range:  # a day count out of range is its own problem, not also this one
        problems.append(Unprocessable("INVALID_FIELD", terms))
    checked = NewRetailer(
        phone=phone,
        name=_text(new.name, "name", problems),
        shop_name=_text(new.shop_name, "shopName", problems, required=False),
        language=new.language,
        credit_limit=new.credit_limit,
        max_order_value=new.max_order_value,
        max_outstanding_days=new.max_outstanding_days,
        payment_terms_days=new.payment_terms_days,
    )
    return checked, problems


def validate_retailer(new: NewRetailer, *, admin_numbers: Collection[str] = ()) -> NewRetailer:
    """The retailer with its phone in E.164 and text trimmed; the first problem raised
    (Unprocessable naming a bad field, Conflict PHONE_IS_ADMIN for an admin number)."""
    checked, problems = check_retailer(new, admin_numbers=admin_numbers)
    if problems:
        raise problems[0]
    return checked


def check_product(new: NewProduct) -> tuple[NewProduct, list[AppError]]:
    """The product with text trimmed, and every problem found."""
    problems: list[AppError] = []
    if new.price <= 0:
        problems.append(Unprocessable("INVALID_FIELD", "price must be positive"))
    checked = NewProduct(
        sku=_text(new.sku, "sku", problems),
        name=_text(new.name, "name", problems),
        category=_text(new.category, "category", problems),
        price=new.price,
        unit=_text(new.unit, "unit", problems, required=False) or "pc",
    )
    return checked, problems


def validate_product(new: NewProduct) -> NewProduct:
    """The product with text trimmed; Unprocessable naming the first bad field."""
    checked, problems = check_product(new)
    if problems:
        raise problems[0]
    return checked


async def create_retailer(
    conn: Conn,
    new: NewRetailer,
    *,
    performed_by: str,
    now: datetime,
    admin_numbers: Collection[str] = (),
) -> int:
    """Insert a retailer and its credit account; Conflict when the phone is registered, or is
    one of `admin_numbers` (pass the configured ADMIN_NUMBERS: an admin's messages never reach
    the retailer's conversation, so such a retailer could never order)."""
    new = validate_retailer(new, admin_numbers=admin_numbers)
    async with conn.transaction():
        retailer_id: int | None = await conn.fetchval(
            """INSERT INTO retailers (phone, name, shop_name, language, created_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (phone) DO NOTHING RETURNING id""",
            new.phone,
            new.name,
            new.shop_name,
            new.language,
            now,
        )
        if retailer_id is None:
            raise Conflict("PHONE_REGISTERED", "a retailer with this phone is already registered")
        await conn.execute(
            """INSERT INTO credit_accounts (retailer_id, credit_limit, max_order_value,
                   max_outstanding_days, payment_terms_days, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            retailer_id,
            new.credit_limit,
            new.max_order_value,
            new.max_outstanding_days,
            new.payment_terms_days,
            now,
        )
        await insert_audit(
            conn,
            retailer_id=retailer_id,
            action="RETAILER_CREATED",
            performed_by=performed_by,
            at=now,
            reference=f"retailer:{retailer_id}",
            new_value={
                "creditLimit": new.credit_limit,
                "maxOrderValue": new.max_order_value,
                "maxOutstandingDays": new.max_outstanding_days,
                "paymentTermsDays": new.payment_terms_days,
            },
        )
    return retailer_id


async def create_product(conn: Conn, new: NewProduct, *, now: datetime) -> int:
    """Insert a catalogue product; Conflict when the SKU exists in any case or spacing. Its
    category is filed under the spelling the database already has for it (migration 0009)."""
    new = validate_product(new)
    # Checked first: an insert that then does nothing still runs the row trigger (a category
    # registered for no product) and the statement trigger (the catalogue's version moves).
    existing: str | None = await conn.fetchval(
        "SELECT sku FROM products WHERE norm_key(sku) = norm_key($1)", new.sku
    )
    if existing is not None:
        raise Conflict("SKU_EXISTS", f"a product with SKU {existing} already exists")
    product_id: int | None = await conn.fetchval(
        """INSERT INTO products (sku, name, category, price, unit, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT DO NOTHING RETURNING id""",
        new.sku,
        new.name,
        new.category,
        new.price,
        new.unit,
        now,
    )
    if product_id is None:  # written by another request since the check
        raise Conflict("SKU_EXISTS", f"a product with SKU {new.sku} already exists")
    return product_id


async def admin_retailers(conn: Conn, admin_numbers: Collection[str]) -> list[tuple[str, int]]:
    """The configured admin numbers that are also retailers, with the retailer's id."""
    if not admin_numbers:
        return []
    try:
        rows = await conn.fetch(
            "SELECT phone, id FROM retailers WHERE phone = any($1::text[]) ORDER BY phone",
            list(admin_numbers),
        )
    except asyncpg.UndefinedTableError:
        return []  # not migrated yet: no retailers at all

    return [(r["phone"], r["id"]) for r in rows]


async def check_admin_numbers(conn: Conn, admin_numbers: Collection[str]) -> None:
    """Refuse to start (SettingsError, one line) when an admin number is a retailer's: its
    messages would be taken as admin commands and that retailer could never order."""
    clashes = await admin_retailers(conn, admin_numbers)
    if clashes:
        listed = ", ".join(f"{phone} (retailer {rid})" for phone, rid in clashes)
        raise SettingsError(
            f"invalid configuration: ADMIN_NUMBERS: {listed} "
            f"{'is a retailer' if len(clashes) == 1 else 'are retailers'}; "
            "an admin number cannot be a retailer's number"
        )
