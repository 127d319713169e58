"""No log line carries a full phone number, a token, a password or a cookie.

Real requests (the WhatsApp webhook from a retailer and from the admin, the admin API with the
bootstrap token and with an operator's token, console sign-ins with right and wrong passwords, an
outbox send to Twilio) run with every logger at DEBUG, written through both of the service's
formatters (JSON and text) as production writes them; the output is then searched for each
secret. The records' own messages, before any formatter, are searched too: the code must not
rely on the formatters' safety net (`bot.cli.logs.scrub`) for what it logs itself.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import asyncpg
import httpx
import pytest
import respx

from bot.cli.deps import Deps
from bot.cli.logs import JsonFormatter, TextFormatter, register_secrets, secrets_of
from bot.clock import FixedClock
from bot.roles import Role
from db import operators as ops
from db.seed import seed_demo
from jobs.outbox_sender import deliver_due
from tests.conftest import ACCOUNT_SID, ADMIN_PHONE, ADMIN_TOKEN, AUTH_TOKEN, TWILIO_API_URL
from tests.console_support import PASSWORD, SESSION_SECRET, add_operator, console_client, sign_in
from tests.test_outbox_sender import MESSAGES_PATH, queue
from tests.test_whatsapp import RAMESH, form, post

OPERATOR_PHONE = "+919811122233"
OUTBOX_PHONE = "+919876543210"


class Capture(logging.Handler):
    """Every record, as raw message and as the JSON and text formatters write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.raw = io.StringIO()
        self.out = io.StringIO()
        self.json = JsonFormatter()
        self.text = TextFormatter()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.raw.write(record.getMessage() + "\n")
        for key, value in record.__dict__.items():
            if key not in ("msg", "args", "message"):
                self.raw.write(f"{key}={value!r}\n")
        self.out.write(self.json.format(record) + "\n")
        self.out.write(self.text.format(record) + "\n")


@pytest.fixture
def capture() -> Iterator[Capture]:
    root = logging.getLogger()
    handler = Capture()
    old_level = root.level
    # Every logger at DEBUG, but httpx at WARNING as `setup_logging` sets it in every process
    # (at INFO it logs each URL it fetches: here the test client's, with a phone in the path).
    quieted = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET
    }
    for name in quieted:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quieted.setdefault("httpx", logging.NOTSET)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in quieted.items():
            logging.getLogger(name).setLevel(level)
        register_secrets(())


async def test_no_phone_token_password_or_cookie_is_logged(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, capture: Capture
) -> None:
    deps = dataclasses.replace(
        deps, settings=deps.settings.model_copy(update={"session_secret": SESSION_SECRET})
    )
    register_secrets(secrets_of(deps.settings))
    async with db.acquire() as conn:
        await seed_demo(conn, now=clock.now())
        operator = await add_operator(conn, "Asha Rao", Role.OWNER, phone=OPERATOR_PHONE)
        api_token = (
            await ops.issue_token(
                conn, operator.id, label="laptop", performed_by="test", now=clock.now()
            )
        ).token
    await queue(db, clock.now() - timedelta(minutes=1), retailer_id=None, to_phone=OUTBOX_PHONE)
    capture.records.clear()

    cookies: list[str] = []
    with respx.mock(base_url=TWILIO_API_URL, assert_all_called=False) as twilio:
        twilio.post(MESSAGES_PATH).mock(
            return_value=httpx.Response(201, json={"sid": "SM" + "b" * 32, "status": "queued"})
        )
        async with console_client(deps) as http:
            # The webhook: a retailer, the admin naming the retailer by number, an operator.
            for phone, body in (
                (RAMESH, "hi"),
                (RAMESH, "balance"),
                (ADMIN_PHONE, f"profile {RAMESH}"),
                (OPERATOR_PHONE, f"pause {RAMESH} cheque bounced"),
            ):
                r = await post(http, form(phone, body))
                assert r.status_code == 200, r.text
            # A bad signature and a form without a sender.
            bad = form(RAMESH, "hi")
            r = await http.post(
                "/webhooks/twilio/whatsapp", data=bad, headers={"X-Twilio-Signature": "x"}
            )
            assert r.status_code == 403
            # The admin API: the bootstrap token, an operator's, a wrong one; a retailer by phone.
            for token in (ADMIN_TOKEN, api_token, "wrong-token-123456"):
                r = await http.get(
                    f"/api/v1/admin/credit/{RAMESH}", headers={"Authorization": f"Bearer {token}"}
                )
                assert r.status_code in (200, 401), r.text
            # The console: a wrong password, then the right one (by phone), a page.
            r = await sign_in(http, OPERATOR_PHONE, password="not the password at all")
            assert r.status_code in (200, 400, 401, 403), r.text
            r = await sign_in(http, OPERATOR_PHONE, password=PASSWORD)
            assert r.status_code == 303, r.text
            cookies = [c for c in http.cookies.values() if len(c) >= 8]
            assert cookies
            r = await http.get("/admin")
            assert r.status_code == 200
        # An outbox send through (mocked) Twilio.
        counts = await deliver_due(deps)
        assert counts.get("sent") == 1, counts

    assert capture.records, "nothing was logged"
    forbidden = {
        "a retailer's phone": [RAMESH, RAMESH.removeprefix("+")],
        "an operator's phone": [OPERATOR_PHONE, OPERATOR_PHONE.removeprefix("+")],
        "an outbox recipient's phone": [OUTBOX_PHONE, OUTBOX_PHONE.removeprefix("+")],
        "the admin token": [ADMIN_TOKEN],
        "an operator's API token": [api_token],
        "a wrong bearer token": ["wrong-token-123456"],
        "Twilio's auth token": [AUTH_TOKEN],
        "the session secret": [SESSION_SECRET],
        "a password": [PASSWORD, "not the password at all"],
        "a cookie": cookies,
    }
    raw, out = capture.raw.getvalue(), capture.out.getvalue()
    for what, values in forbidden.items():
        for value in values:
            assert value not in out, f"{what} ({value}) is in the log output"
            assert value not in raw, f"{what} ({value}) is in a log record before formatting"
    # The request lines are there, with their routes as templates, and parse as JSON.
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    routes = {line.get("route") for line in lines if line.get("logger") == "kirana.request"}
    assert "/api/v1/admin/credit/{retailer}" in routes
    assert "/webhooks/twilio/whatsapp" in routes
    assert ACCOUNT_SID  # (the account SID is not a secret: it names the account in URLs)
