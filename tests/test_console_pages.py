"""The console's pages and forms in-process: what they show, and that each form accepts and
refuses what the admin API does, changing nothing when it refuses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from bot.cli.deps import Deps
from bot.roles import Role
from tests.console_support import add_operator, console_client, csrf_of, signed_in, with_secret
from tests.ledger_support import credit_order, make_product, make_retailer

PHONE = "+919812345678"


@pytest.fixture
async def cdeps(deps: Deps) -> AsyncIterator[Deps]:
    cd = with_secret(deps)
    keys = [k async for k in cd.redis.scan_iter(f"{cd.settings.arq_queue_name}:console:*")]
    if keys:
        await cd.redis.delete(*keys)
    yield cd


@pytest.fixture
async def http(cdeps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with console_client(cdeps) as client:
        yield client


@pytest.fixture
async def shop(db: asyncpg.Pool) -> int:
    """Ramesh with two credit orders (₹500 and ₹300) and the operators of every role."""
    async with db.acquire() as conn:
        rid = await make_retailer(conn, PHONE, name="Ramesh Kumar", limit=10_000_00)
        product = await make_product(conn, "ATTA", 100_00)
        await credit_order(conn, rid, product, 5)
        await credit_order(conn, rid, product, 3)
        for role in Role:
            await add_operator(conn, f"{role.value.title()} One", role)
    return rid


async def outstanding(db: asyncpg.Pool, rid: int) -> int:
    value: int = await db.fetchval(
        "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", rid
    )
    return value


async def test_dashboard_shows_the_figures(http: httpx.AsyncClient, shop: int) -> None:
    await signed_in(http, "manager one")
    page = (await http.get("/admin")).text
    assert 'data-figure="totalOutstanding">₹800<' in page
    assert 'data-figure="totalLimit">₹10,000<' in page
    assert "<svg" in page and 'class="bucket b-current"' in page
    assert "payment reminders" in page


async def test_record_a_payment(http: httpx.AsyncClient, shop: int, db: asyncpg.Pool) -> None:
    await signed_in(http, "collector one")
    page = await http.get(f"/admin/retailers/{shop}")
    assert page.status_code == 200 and "Record a payment" in page.text
    csrf = csrf_of(page.text)
    r = await http.post(
        f"/admin/retailers/{shop}/payment",
        data={"csrf": csrf, "amountPaid": "1,50.50", "reference": "UTR-1"},
    )
    assert r.status_code == 422 and "amountPaid" in r.text
    assert await outstanding(db, shop) == 800_00
    r = await http.post(
        f"/admin/retailers/{shop}/payment",
        data={"csrf": csrf, "amountPaid": "150.50", "reference": "UTR-1", "transactionId": ""},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/retailers/{shop}"
    assert await outstanding(db, shop) == 800_00 - 150_50
    page = await http.get(r.headers["location"])
    assert "Payment of ₹150.50 recorded" in page.text
    assert re.search(
        r"<td class=\"who\" data-by=\"operator:\d+:Collector One\">Collector One", page.text
    )
    # The message is shown once.
    assert (
        "recorded"
        not in (await http.get(f"/admin/retailers/{shop}")).text.split("<main>")[1].split("<h1>")[0]
    )
    # Refusals: the same reference again, more than is owed.
    for data, status, words in (
        ({"amountPaid": "10", "reference": "UTR-1"}, 409, "already recorded"),
        ({"amountPaid": "5000"}, 422, "more than"),
    ):
        r = await http.post(f"/admin/retailers/{shop}/payment", data={"csrf": csrf, **data})
        assert r.status_code == status and words in r.text, r.text
    assert await outstanding(db, shop) == 800_00 - 150_50
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'PAYMENT'")
    assert entry["performed_by"].endswith(":Collector One")
