"""Onboarding: a retailer with its credit account, and catalogue products (API and CSV import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.credit import MAX_DAYS, terms_problem
from bot.limits import max_length
from bot.messages import LANGUAGES
from bot.phone import InvalidPhone, normalize_phone
from db.audit import insert_audit
from db.errors import Conflict, Unprocessable
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


def _text(value: str, field: str, *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise Unprocessable("INVALID_FIELD", f"{field} is required")
    limit = max_length(field)
    if len(text) > limit:
        raise Unprocessable("INVALID_FIELD", f"{field} is longer than {limit} characters")
    return text


def _days(value: int, field: str) -> int:
    if not 1 <= value <= MAX_DAYS:
        raise Unprocessable("INVALID_FIELD", f"{field} must be a whole number from 1 to {MAX_DAYS}")
    return value


def validate_retailer(new: NewRetailer) -> NewRetailer:
    """The retailer with its phone in E.164 and text trimmed; Unprocessable naming a bad field."""
    try:
        phone = normalize_phone(new.phone)
    except InvalidPhone:
        raise Unprocessable("INVALID_FIELD", "phone is not a valid phone number") from None
    if new.language not in LANGUAGES:
        raise Unprocessable("INVALID_FIELD", f"language must be one of {', '.join(LANGUAGES)}")
    if new.credit_limit < 0:
        raise Unprocessable("INVALID_FIELD", "creditLimit must not be negative")
    if new.max_order_value <= 0:
        raise Unprocessable("INVALID_FIELD", "maxOrderValue must be positive")
    problem = terms_problem(new.max_outstanding_days, new.payment_terms_days)
    if problem:
        raise Unprocessable("INVALID_FIELD", problem)
    return NewRetailer(
        phone=phone,
        name=_text(new.name, "name"),
        shop_name=_text(new.shop_name, "shopName", required=False),
        language=new.language,
        credit_limit=new.credit_limit,
        max_order_value=new.max_order_value,
        max_outstanding_days=_days(new.max_outstanding_days, "maxOutstandingDays"),
        payment_terms_days=_days(new.payment_terms_days, "paymentTermsDays"),
    )


def validate_product(new: NewProduct) -> NewProduct:
    """The product with text trimmed; Unprocessable naming a bad field."""
    if new.price <= 0:
        raise Unprocessable("INVALID_FIELD", "price must be positive")
    return NewProduct(
        sku=_text(new.sku, "sku"),
        name=_text(new.name, "name"),
        category=_text(new.category, "category"),
        price=new.price,
        unit=_text(new.unit, "unit", required=False) or "pc",
    )


async def create_retailer(conn: Conn, new: NewRetailer, *, performed_by: str, now: datetime) -> int:
    """Insert a retailer and its credit account; Conflict when the phone is registered."""
    new = validate_retailer(new)
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
    """Insert a catalogue product; Conflict when the SKU exists."""
    new = validate_product(new)
    product_id: int | None = await conn.fetchval(
        """INSERT INTO products (sku, name, category, price, unit, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (sku) DO NOTHING RETURNING id""",
        new.sku,
        new.name,
        new.category,
        new.price,
        new.unit,
        now,
    )
    if product_id is None:
        raise Conflict("SKU_EXISTS", f"a product with SKU {new.sku} already exists")
    return product_id
