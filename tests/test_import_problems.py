"""The CSV import reports every problem of a line, not only the first (issue 9, item 8)."""

from __future__ import annotations

import asyncpg

from bot.cli.importer import import_csv, parse_products, parse_retailers
from tests.ledger_support import NOW, make_product, make_retailer


def test_every_problem_of_a_retailer_line() -> None:
    text = (
        "phone,name,language,credit_limit,max_order_value,max_outstanding_days,payment_terms_days\n"
        "12,,fr,12.345,abc,0,ten\n"
        "+919800000002,B,en,100,,20,25\n"
        "+919800000003,C,en,-1,0,x,\n"
    )
    errors = [str(e) for e in parse_retailers(text).errors]
    assert errors == [
        "line 2: phone is not a valid phone number",
        "line 2: language must be one of en, hi",
        "line 2: maxOutstandingDays must be a whole number from 1 to 3650",
        "line 2: name is required",
        "line 2: credit_limit: amount can have at most 2 decimals",
        "line 2: max_order_value: 'abc' is not an amount like 1,25,000.50",
        "line 2: payment_terms_days: 'ten' is not a whole number of days",
        "line 3: paymentTermsDays (25) must not be more than maxOutstandingDays (20): "
        "credit would stop before debits are due",
        "line 4: credit_limit: amount must be positive",
        "line 4: max_order_value: amount must be positive",
        "line 4: max_outstanding_days: 'x' is not a whole number of days",
    ]


def test_a_field_that_cannot_be_read_is_reported_once() -> None:
    # An unreadable max_outstanding_days is not also compared with the payment terms.
    text = (
        "phone,name,credit_limit,max_outstanding_days,payment_terms_days\n+919800000001,A,1,x,90\n"
    )
    assert [str(e) for e in parse_retailers(text).errors] == [
        "line 2: max_outstanding_days: 'x' is not a whole number of days"
    ]


def test_a_repeated_key_is_one_more_problem_of_its_line() -> None:
    text = "phone,name,credit_limit\n+919800000001,A,1\n98000 00001,,1\n"
    assert [str(e) for e in parse_retailers(text).errors] == [
        "line 3: name is required",
        "line 3: +919800000001 repeats line 2",
    ]
    products = "sku,name,category,price\nGHEE-1,Ghee,Staples,1\nghee-1 ,,Staples,0\n"
    assert [str(e) for e in parse_products(products).errors] == [
        "line 3: name is required",
        "line 3: price: amount must be positive",
        "line 3: ghee-1 repeats line 2",
    ]


def test_every_problem_of_a_product_line() -> None:
    text = "sku,name,category,price\n,,,abc\n"
    assert [str(e) for e in parse_products(text).errors] == [
        "line 2: sku is required",
        "line 2: name is required",
        "line 2: category is required",
        "line 2: price: 'abc' is not an amount like 1,25,000.50",
    ]


async def test_what_the_database_has_is_one_more_problem_of_its_line(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await make_retailer(conn, "+919800000001")
        await make_product(conn, "GHEE-1")
        retailers = await import_csv(
            conn, "retailers", "phone,name,credit_limit\n+919800000001,A,abc\n", now=NOW
        )
        products = await import_csv(
            conn, "products", "sku,name,category,price\n ghee-1,Ghee,Staples,0\n", now=NOW
        )
    assert [str(e) for e in retailers.errors] == [
        "line 2: credit_limit: 'abc' is not an amount like 1,25,000.50",
        "line 2: phone +919800000001 is already registered",
    ]
    assert [str(e) for e in products.errors] == [
        "line 2: price: amount must be positive",
        "line 2: SKU ghee-1 already exists (as GHEE-1)",
    ]
