"""The console's pages and forms in-process: what they show, and that each form accepts and
refuses what the admin API does, changing nothing when it refuses."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from bot.cli.deps import Deps
from bot.clock import FixedClock
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
    assert "Payment reminders" in page


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
    assert re.search(r'data-by="operator:\d+:Collector One">Collector One<', page.text)
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


async def test_adjust_pause_unpause_and_limits(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool
) -> None:
    csrf = await signed_in(http, "manager one")
    url = f"/admin/retailers/{shop}"
    # Refusals as the API words them; nothing changes.
    for path, data, status, words in (
        ("adjust", {"direction": "SIDEWAYS", "amount": "10", "reason": "return"}, 422, "direction"),
        ("adjust", {"direction": "CREDIT", "amount": "-5", "reason": "return"}, 422, "amount"),
        ("adjust", {"direction": "CREDIT", "amount": "5", "reason": "gift"}, 422, "reason"),
        ("pause", {}, 422, "reason is required"),
        ("unpause", {}, 409, "already active"),
        ("limits", {"creditLimit": "abc"}, 422, "creditLimit"),
        ("limits", {"maxOutstandingDays": "10", "paymentTermsDays": "20"}, 422, "days"),
    ):
        before = await db.fetch("SELECT * FROM audit_log")
        r = await http.post(f"{url}/{path}", data={"csrf": csrf, **data})
        assert r.status_code == status and words in r.text, (path, data, r.status_code)
        assert 'role="alert"' in r.text
        assert await db.fetch("SELECT * FROM audit_log") == before
    r = await http.post(
        f"{url}/adjust",
        data={
            "csrf": csrf,
            "direction": "CREDIT",
            "amount": "50",
            "reason": "discount",
            "notes": "",
        },
    )
    assert r.status_code == 303
    assert await outstanding(db, shop) == 750_00
    r = await http.post(f"{url}/pause", data={"csrf": csrf, "reason": "cheque bounced"})
    assert r.status_code == 303
    page = (await http.get(url)).text
    assert "Credit paused: cheque bounced." in page and "Resume credit" in page
    assert "Pause credit" not in page
    r = await http.post(f"{url}/unpause", data={"csrf": csrf, "reason": ""})
    assert r.status_code == 303
    r = await http.post(
        f"{url}/limits",
        data={"csrf": csrf, "creditLimit": "20,000", "maxOrderValue": "5000",
              "maxOutstandingDays": "30", "paymentTermsDays": "15"},
    )  # fmt: skip
    assert r.status_code == 303
    limit = await db.fetchval(
        "SELECT credit_limit FROM credit_accounts WHERE retailer_id = $1", shop
    )
    assert limit == 20_000_00
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-4:-1] == ["ADJUSTMENT", "PAUSE", "UNPAUSE"]
    performers = await db.fetch(
        "SELECT DISTINCT performed_by FROM audit_log WHERE performed_by LIKE 'operator:%'"
    )
    assert [r["performed_by"].split(":")[2] for r in performers] == ["Manager One"]


async def test_fail_an_order_from_the_board(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool
) -> None:
    csrf = await signed_in(http, "manager one")
    board = (await http.get("/admin/orders?status=PLACED")).text
    order_ids = [int(x) for x in re.findall(r'action="/admin/orders/(\d+)/fail"', board)]
    assert len(order_ids) == 2
    r = await http.post(
        f"/admin/orders/{order_ids[0]}/fail", data={"csrf": csrf, "back": "/admin/orders"}
    )
    assert r.status_code == 422 and "reason is required" in r.text
    r = await http.post(
        f"/admin/orders/{order_ids[0]}/fail",
        data={"csrf": csrf, "reason": "truck broke down", "back": "https://evil.example/"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order_ids[0]) == "FAILED"
    r = await http.post(
        f"/admin/orders/{order_ids[0]}/fail", data={"csrf": csrf, "reason": "again"}
    )
    assert r.status_code == 409
    r = await http.post("/admin/orders/999999/fail", data={"csrf": csrf, "reason": "x"})
    assert r.status_code == 404


async def test_retailer_search_and_paging(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        for i in range(60):
            await make_retailer(conn, f"+9198000{i:05d}", name=f"Shopkeeper {i:02d}")
    await signed_in(http, "viewer one")
    first = (await http.get("/admin/retailers?q=shopkeeper")).text
    names = re.findall(r">(Shopkeeper \d\d)</a>", first)
    assert names == [f"Shopkeeper {i:02d}" for i in range(50)]
    next_url = re.search(r'href="(/admin/retailers\?[^"]+)" rel="next"', first)
    assert next_url
    second = (await http.get(next_url.group(1).replace("&amp;", "&"))).text
    assert re.findall(r">(Shopkeeper \d\d)</a>", second) == [
        f"Shopkeeper {i:02d}" for i in range(50, 60)
    ]
    assert 'rel="next"' not in second
    by_number = (await http.get("/admin/retailers?q=98123 45678")).text
    assert "Ramesh Kumar" in by_number and "Shopkeeper" not in by_number
    by_id = (await http.get(f"/admin/retailers?q={shop}")).text
    assert "Ramesh Kumar" in by_id
    assert "No retailer matches" in (await http.get("/admin/retailers?q=%25_%25")).text
    paused = (await http.get("/admin/retailers?status=PAUSED")).text
    assert "No retailer matches" in paused
    assert (await http.get("/admin/retailers/999999")).status_code == 404
    assert (await http.get("/admin/retailers/abc")).status_code == 404


async def test_jobs_and_operators_pages(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool
) -> None:
    csrf = await signed_in(http, "owner one")
    r = await http.post("/admin/jobs/evaluate_guardrails/run", data={"csrf": csrf})
    assert r.status_code == 303
    jobs = (await http.get("/admin/jobs")).text
    assert "Ran evaluate guardrails" in jobs and "as of" in jobs
    r = await http.post("/admin/jobs/nope/run", data={"csrf": csrf})
    assert r.status_code == 404
    r = await http.post(
        "/admin/operators", data={"csrf": csrf, "name": "Ravi", "role": "collector"}
    )
    assert r.status_code == 201
    password = re.search(r'id="secret-value">([^<]+)<', r.text)
    assert password
    async with db.acquire() as conn:
        from db import operators as ops

        login = await ops.get_login(conn, "ravi")
        assert login and await ops.check_password(login[1], password.group(1))
        ravi = login[0].id
    r = await http.post("/admin/operators", data={"csrf": csrf, "name": "RAVI", "role": "viewer"})
    assert r.status_code == 409 and "already exists" in r.text
    r = await http.post(f"/admin/operators/{ravi}/tokens", data={"csrf": csrf, "label": "laptop"})
    assert r.status_code == 201 and "kco_" in r.text
    token_id = await db.fetchval("SELECT id FROM operator_tokens")
    r = await http.post(f"/admin/operators/{ravi}/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert r.status_code == 303
    assert await db.fetchval("SELECT revoked_at FROM operator_tokens") is not None
    r = await http.post(f"/admin/operators/{ravi}/password", data={"csrf": csrf})
    assert r.status_code == 200 and "New password for Ravi" in r.text
    audit = [r["action"] for r in await db.fetch(
        "SELECT action FROM audit_log WHERE action LIKE 'OPERATOR%' AND performed_by LIKE 'operator:%'"
        " ORDER BY id"
    )]  # fmt: skip
    assert audit == [
        "OPERATOR_CREATED", "OPERATOR_TOKEN_ISSUED", "OPERATOR_TOKEN_REVOKED",
        "OPERATOR_PASSWORD_SET",
    ]  # fmt: skip


async def test_block_unblock_override_and_advance(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool, clock: FixedClock, cdeps: Deps
) -> None:
    url = f"/admin/retailers/{shop}"
    # 40 days on, the debits are overdue beyond the allowed 30: resuming needs an override.
    clock.advance(days=40)
    csrf = await signed_in(http, "manager one")
    page = (await http.get(url)).text
    assert f'action="{url}/block"' not in page  # owners only
    assert (
        await http.post(f"{url}/pause", data={"csrf": csrf, "reason": "call him"})
    ).status_code == 303
    r = await http.post(f"{url}/unpause", data={"csrf": csrf})
    assert r.status_code == 409 and "STILL_OVERDUE" not in r.text and 'role="alert"' in r.text
    too_far = (clock.now() + timedelta(days=45)).date().isoformat()
    r = await http.post(f"{url}/unpause", data={"csrf": csrf, "overrideUntil": too_far})
    assert r.status_code == 422 and "30 days" in r.text
    until = (clock.now() + timedelta(days=7)).date().isoformat()
    r = await http.post(f"{url}/unpause", data={"csrf": csrf, "overrideUntil": until})
    assert r.status_code == 303
    page = (await http.get(url)).text
    assert "held off until" in page and "Credit resumed" in page
    # More than is owed, kept as an advance.
    r = await http.post(
        f"{url}/payment", data={"csrf": csrf, "amountPaid": "1000", "asAdvance": "true"}
    )
    assert r.status_code == 303
    page = (await http.get(url)).text
    assert 'data-figure="advance">₹200<' in page and 'data-figure="outstanding">₹0<' in page

    http.cookies.clear()
    csrf = await signed_in(http, "owner one")
    page = (await http.get(url)).text
    assert f'action="{url}/block"' in page and f'action="{url}/unblock"' not in page
    r = await http.post(f"{url}/block", data={"csrf": csrf})
    assert r.status_code == 422 and "reason is required" in r.text
    assert (
        await http.post(f"{url}/block", data={"csrf": csrf, "reason": "fraud"})
    ).status_code == 303
    page = (await http.get(url)).text
    assert "Credit blocked: fraud." in page and f'action="{url}/unblock"' in page
    assert (await http.post(f"{url}/unblock", data={"csrf": csrf})).status_code == 303
    assert "Block lifted" in (await http.get(url)).text
    status = await db.fetchval("SELECT credit_status FROM retailers WHERE id = $1", shop)
    assert status == "ACTIVE"


async def test_a_payment_form_sent_twice_records_once(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool
) -> None:
    await signed_in(http, "collector one")
    page = (await http.get(f"/admin/retailers/{shop}")).text
    key = re.search(r'name="idempotencyKey" value="([^"]+)"', page)
    assert key
    data = {"csrf": csrf_of(page), "idempotencyKey": key.group(1), "amountPaid": "100"}
    first, second = await asyncio.gather(
        http.post(f"/admin/retailers/{shop}/payment", data=data),
        http.post(f"/admin/retailers/{shop}/payment", data=data),
    )
    assert first.status_code == second.status_code == 303
    assert await db.fetchval("SELECT count(*) FROM credit_transactions WHERE type = 'PAYMENT'") == 1
    assert await outstanding(db, shop) == 700_00


async def test_order_desk_dispatch_deliver_return_cancel_and_statement(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool
) -> None:
    csrf = await signed_in(http, "manager one")
    first, second = [r["id"] for r in await db.fetch("SELECT id FROM orders ORDER BY id")]
    page = (await http.get(f"/admin/retailers/{shop}")).text
    for move in ("dispatch", "cancel", "fail"):
        assert f'action="/admin/orders/{first}/{move}"' in page
    assert f'action="/admin/orders/{first}/deliver"' not in page
    back = f"/admin/retailers/{shop}"
    # Deliver before dispatch: refused, naming the status, nothing changes.
    r = await http.post(f"/admin/orders/{first}/deliver", data={"csrf": csrf, "back": back})
    assert r.status_code == 409 and "PLACED" in r.text.upper() and 'role="alert"' in r.text
    for move in ("dispatch", "deliver"):
        r = await http.post(f"/admin/orders/{first}/{move}", data={"csrf": csrf, "back": back})
        assert r.status_code == 303 and r.headers["location"] == back
    page = (await http.get(back)).text
    assert f"Order #{first} delivered." in page
    assert f'action="/admin/orders/{first}/return"' in page
    r = await http.post(
        f"/admin/orders/{first}/return", data={"csrf": csrf, "back": back, "amount": "100"}
    )
    assert r.status_code == 422 and "reason is required" in r.text
    r = await http.post(
        f"/admin/orders/{first}/return",
        data={"csrf": csrf, "back": back, "amount": "600", "reason": "torn"},
    )
    assert r.status_code == 422  # more than the ₹500 delivered
    r = await http.post(
        f"/admin/orders/{first}/return",
        data={"csrf": csrf, "back": back, "amount": "100", "reason": "2 bags torn"},
    )
    assert r.status_code == 303
    r = await http.post(
        f"/admin/orders/{second}/cancel",
        data={"csrf": csrf, "back": "/admin/orders", "reason": "asked to"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/orders"
    assert [r["status"] for r in await db.fetch("SELECT status FROM orders ORDER BY id")] == [
        "DELIVERED", "CANCELLED",
    ]  # fmt: skip
    assert await outstanding(db, shop) == 400_00
    # The statement: every entry with a running balance, closing at what is owed.
    page = (await http.get(back)).text
    statement = page.split('id="statement"')[1].split("</table>")[0]
    for words in ("Order", "Return", "Reversal", "2 bags torn"):
        assert words in statement, words
    assert 'data-figure="closing">₹400<' in statement
    csv = await http.get(f"{back}/statement.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    board = (await http.get("/admin/orders?status=DELIVERED")).text
    assert f"#{first}" in board and f"#{second}" not in board
    assert (await http.get("/admin/orders?cursor=nonsense")).status_code == 422


async def test_checkouts_catalogue_and_details(
    http: httpx.AsyncClient, shop: int, db: asyncpg.Pool
) -> None:
    csrf = await signed_in(http, "manager one")
    assert "No checkouts here." in (await http.get("/admin/checkouts")).text
    page = (await http.get("/admin/catalogue")).text
    assert "Product ATTA" in page and "₹100" in page
    pid = await db.fetchval("SELECT id FROM products")
    r = await http.post(f"/admin/catalogue/{pid}/price", data={"csrf": csrf, "price": "-1"})
    assert r.status_code == 422 and 'role="alert"' in r.text
    r = await http.post(f"/admin/catalogue/{pid}/price", data={"csrf": csrf, "price": "120"})
    assert r.status_code == 303
    assert await db.fetchval("SELECT price FROM products") == 120_00
    r = await http.post(f"/admin/catalogue/{pid}/retire", data={"csrf": csrf})
    assert r.status_code == 303 and not await db.fetchval("SELECT active FROM products")
    r = await http.post(
        "/admin/catalogue",
        data={"csrf": csrf, "sku": "ATTA", "name": "Atta", "category": "Staples", "price": "10"},
    )
    assert r.status_code == 409
    r = await http.post(
        "/admin/catalogue",
        data={
            "csrf": csrf,
            "sku": "SALT",
            "name": "Salt 1kg",
            "category": "Staples",
            "price": "28",
        },
    )
    assert r.status_code == 303
    assert "Salt 1kg added at ₹28." in (await http.get("/admin/catalogue")).text
    url = f"/admin/retailers/{shop}/details"
    r = await http.post(url, data={"csrf": csrf, "name": "Ramesh K", "language": "xx"})
    assert r.status_code == 422 and "language" in r.text
    r = await http.post(url, data={"csrf": csrf, "name": "Ramesh K", "language": "hi"})
    assert r.status_code == 303
    name, language = await db.fetchrow("SELECT name, language FROM retailers WHERE id = $1", shop)
    assert (name, language) == ("Ramesh K", "hi")
    who = await db.fetch(
        "SELECT DISTINCT performed_by FROM audit_log WHERE performed_by LIKE 'op%'"
    )
    assert [r["performed_by"].split(":")[2] for r in who] == ["Manager One"]


def test_console_pages_are_not_message_templates() -> None:
    from bot.messages import TEMPLATES_DIR
    from tests.test_templates import NAMES

    pages = {p.stem for p in (TEMPLATES_DIR / "console").glob("*.html")}
    assert {"base", "dashboard", "retailer"} <= pages
    assert not pages & set(NAMES)
