"""The console in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
driven by selenium against a real uvicorn server on a free port, with real PostgreSQL and Redis.

`make test` skips this module with one line when the browser is missing; `.ci/run` installs it.
Screenshots of the dashboard, a retailer and the orders board at 1280 and 360 px wide are written
to .artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(
        "browser tests need Chromium: apt-get install -y chromium chromium-driver",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402 - only once the browser is known to be there
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

from bot.cli.embedded import database_url_for  # noqa: E402
from bot.credit import PaymentMode  # noqa: E402
from bot.money import format_inr, parse_rupees  # noqa: E402
from bot.orders import OrderLine  # noqa: E402
from bot.roles import Role  # noqa: E402
from db import ledger  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.pool import connect  # noqa: E402
from db.seed import seed_demo  # noqa: E402
from handlers.console.chart import compact_inr  # noqa: E402
from tests.console_support import add_operator  # noqa: E402
from tests.ledger_support import TZ  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / ".artifacts" / "screenshots"
ADMIN_TOKEN = "browser-test-admin-token"
MANAGER = ("Priya Menon", "manager-password-1")
VIEWER = ("Vikram Viewer", "viewer-password-1")
RAMESH = "+919800000001"
WIDTHS = {"desktop": 1280, "phone": 360}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    base: str
    database_url: str


@pytest.fixture(scope="module")
async def server(database_server_url: str, redis_url: str) -> AsyncIterator[Server]:
    """A database of its own with the demo data, two operators and two placed orders, and
    `python -m uvicorn` serving the app on a free port."""
    name = f"kirana_browser_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(database_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url_for(database_server_url, name)
    conn = await connect(url)
    try:
        await migrate(conn)
        await seed_demo(conn)
        await add_operator(conn, MANAGER[0], Role.MANAGER, password=MANAGER[1])
        await add_operator(conn, VIEWER[0], Role.VIEWER, password=VIEWER[1])
        lakshmi = await conn.fetchval("SELECT id FROM retailers WHERE phone = '+919800000006'")
        products = await conn.fetch("SELECT id FROM products ORDER BY id LIMIT 3")
        for i, product in enumerate(products[:2]):
            placed = await ledger.place_order(
                conn, retailer_id=lakshmi, lines=[OrderLine(product["id"], 2 + i)],
                mode=PaymentMode.CREDIT, now=datetime.now(UTC), tz=TZ, tolerance=100_00,
                performed_by="test",
            )  # fmt: skip
            assert placed.order is not None
    finally:
        await conn.close()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": base,
        "ADMIN_API_TOKEN": ADMIN_TOKEN,
        "SESSION_SECRET": secrets.token_urlsafe(32),
        "ARQ_QUEUE_NAME": f"arq:browser:{name}",
        "DATABASE_POOL_SIZE": "4",
    }
    for unset in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "ADMIN_NUMBERS"):
        env.pop(unset, None)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open while the server runs, closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "handlers.app:app_from_env",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail("the server did not start:\n" + log.read().decode(errors="replace"))
            time.sleep(0.2)
        # Two jobs have run, so the dashboard's and the jobs page's last runs show something.
        for job in ("evaluate_guardrails", "expire_pending_orders"):
            r = httpx.post(
                f"{base}/api/v1/admin/jobs/{job}/run",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        yield Server(base, url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --- helpers ---------------------------------------------------------------------------------


def _gone(page: WebElement) -> Callable[[WebDriver], bool]:
    """`staleness_of`, also when Chromium answers for a node of the page being replaced with
    "Node with given id does not belong to the document" (a WebDriverException, not a stale
    element: seen once in a full `make test` on a loaded machine, failing the click's wait)."""

    def check(_: WebDriver) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return check


def submit(driver: WebDriver, element_id: str) -> None:
    """Click a submit button and wait until the browser has left the page (a form posts, the
    server redirects, the next page loads): what is read next is the new page."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, element_id).click()
    WebDriverWait(driver, 30).until(_gone(page))


def sign_in(driver: WebDriver, server: Server, name: str, password: str) -> None:
    driver.delete_all_cookies()  # signed out whatever an earlier test left (the browser is shared)
    driver.get(f"{server.base}/admin/sign-in")
    driver.find_element(By.ID, "login").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver, "sign-in")
    assert driver.find_element(By.CSS_SELECTOR, ".who").text == name


def sign_out(driver: WebDriver) -> None:
    submit(driver, "sign-out")
    assert "/admin/sign-in" in driver.current_url


def figure(driver: WebDriver, key: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'[data-figure="{key}"]').text


def api(server: Server, path: str) -> dict[str, object]:
    r = httpx.get(
        f"{server.base}/api/v1/admin{path}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


def shoot(driver: WebDriver, name: str) -> None:
    """Full-page screenshots at each width, into .artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, width in WIDTHS.items():
        driver.set_window_size(width, 900)
        height, chrome = driver.execute_script(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
        )
        driver.set_window_size(width, min(int(height) + int(chrome), 6000))
        driver.save_screenshot(str(SHOTS / f"{name}-{label}.png"))
    driver.set_window_size(1280, 900)


def rupees(value: object) -> str:
    return format_inr(parse_rupees(str(value), allow_zero=True))


# --- the scenario ----------------------------------------------------------------------------


def test_manager_reads_the_dashboard_records_a_payment_and_signs_out(
    server: Server, browser: WebDriver
) -> None:
    sign_in(browser, server, *MANAGER)
    # The dashboard's figures are the API's.
    dashboard = api(server, "/credit/risk-dashboard")
    assert figure(browser, "totalOutstanding") == rupees(dashboard["totalOutstanding"])
    assert figure(browser, "totalLimit") == rupees(dashboard["totalLimit"])
    assert figure(browser, "available") == rupees(dashboard["available"])
    counts = dashboard["statusCounts"]
    assert isinstance(counts, dict)
    for status in ("ACTIVE", "PAUSED", "BLOCKED"):
        assert figure(browser, status) == str(counts[status])
    buckets = dashboard["buckets"]
    assert isinstance(buckets, dict)
    for key, bucket in buckets.items():
        cell = browser.find_element(By.CSS_SELECTOR, f'[data-bucket="{key}"]')
        assert cell.text == rupees(bucket["amount"])
        bar = browser.find_element(By.CSS_SELECTOR, f"svg.chart .b-{key} text.amount")
        assert bar.text == compact_inr(parse_rupees(str(bucket["amount"]), allow_zero=True))
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    shoot(browser, "dashboard")

    # Find Ramesh by part of his number and open his page.
    browser.get(f"{server.base}/admin/retailers?q=00001")
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Ramesh Kumar").click()
    WebDriverWait(browser, 30).until(_gone(page))
    profile = api(server, f"/credit/{RAMESH}")
    before = parse_rupees(str(profile["outstanding"]))
    assert figure(browser, "outstanding") == format_inr(before)

    # Record a payment: the balance and the audit trail change, signed by the manager.
    browser.find_element(By.ID, "amountPaid").send_keys("1500")
    browser.find_element(By.NAME, "reference").send_keys("UTR-BROWSER-1")
    submit(browser, "record-payment")
    assert "recorded" in browser.find_element(By.ID, "flash").text
    assert figure(browser, "outstanding") == format_inr(before - 1500_00)
    first = browser.find_element(By.CSS_SELECTOR, "#audit tbody tr")
    assert "Payment" in first.text and MANAGER[0] in first.text
    assert "UTR-BROWSER-1" in browser.find_element(By.ID, "payments").text
    statement = browser.find_element(By.ID, "statement").text
    assert "Payment" in statement and "UTR-BROWSER-1" in statement
    assert figure(browser, "closing") == format_inr(before - 1500_00)
    after = api(server, f"/credit/{RAMESH}")
    assert parse_rupees(str(after["outstanding"])) == before - 1500_00
    audit = after["recentAudit"]
    assert isinstance(audit, list)
    assert audit[0]["performedBy"].endswith(f":{MANAGER[0]}")
    shoot(browser, "retailer")

    # A refused payment (more than is owed) says why and changes nothing.
    browser.find_element(By.ID, "amountPaid").send_keys("99999999")
    submit(browser, "record-payment")
    assert "more than" in browser.find_element(By.ID, "error").text
    assert figure(browser, "outstanding") == format_inr(before - 1500_00)

    # Dispatch and deliver the newest placed order from the board.
    browser.get(f"{server.base}/admin/orders?status=PLACED")
    row = browser.find_element(By.CSS_SELECTOR, "#orders tbody tr")
    order_id = row.get_attribute("id").removeprefix("order-")
    submit(browser, f"dispatch-{order_id}")
    assert f"Order #{order_id} dispatched." in browser.find_element(By.ID, "flash").text
    browser.get(f"{server.base}/admin/orders")
    shoot(browser, "orders")
    submit(browser, f"deliver-{order_id}")
    assert f"Order #{order_id} delivered." in browser.find_element(By.ID, "flash").text
    status = browser.find_element(By.CSS_SELECTOR, f"#order-{order_id} .badge").text
    assert status == "Delivered"
    detail = api(server, f"/orders/{order_id}")
    assert detail["status"] == "DELIVERED"

    sign_out(browser)
    browser.get(f"{server.base}/admin/retailers")
    assert "/admin/sign-in" in browser.current_url
    assert browser.find_element(By.ID, "login")


def test_a_viewer_finds_no_forms(server: Server, browser: WebDriver) -> None:
    sign_in(browser, server, *VIEWER)
    for path in ("/admin", "/admin/retailers/1", "/admin/orders", "/admin/jobs"):
        browser.get(server.base + path)
        posts = browser.find_elements(By.CSS_SELECTOR, "main form[method='post']")
        assert posts == [], path
    browser.get(f"{server.base}/admin/operators")
    assert "needs the owner role" in browser.find_element(By.ID, "message").text
    sign_out(browser)
