"""The outbox sender against real PostgreSQL, with Twilio's Messages API mocked by respx."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import httpx
import pytest
import respx

from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.messages import Reply
from bot.sending import MAX_ATTEMPTS
from bot.twilio_edge import compute_signature
from db.outbox import enqueue
from jobs.outbox_sender import LEASE, deliver_due, run_sender
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, TWILIO_API_URL, WHATSAPP_FROM

MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
STATUS_PATH = "/webhooks/twilio/status"
PHONE = "+919812345678"


def with_settings(deps: Deps, **changes: Any) -> Deps:
    return dataclasses.replace(deps, settings=deps.settings.model_copy(update=changes))


async def add_retailer(
    db: asyncpg.Pool,
    phone: str = PHONE,
    *,
    last_inbound_at: datetime | None = None,
    opted_out: bool = False,
    outstanding: int = 0,
) -> int:
    rid: int = await db.fetchval(
        """INSERT INTO retailers (phone, name, shop_name, opted_out, last_inbound_at)
           VALUES ($1, 'Ramesh', 'Ramesh Store', $2, $3) RETURNING id""",
        phone,
        opted_out,
        last_inbound_at,
    )
    await db.execute(
        """INSERT INTO credit_accounts (retailer_id, credit_limit, outstanding)
           VALUES ($1, 10000000, $2)""",
        rid,
        outstanding,
    )
    return rid


async def queue(
    db: asyncpg.Pool,
    now: datetime,
    *,
    retailer_id: int | None,
    to_phone: str = PHONE,
    kind: str = "credit_paused",
    body: str = "Your credit is paused.",
    variables: dict[str, Any] | None = None,
    language: str = "en",
    key: str | None = None,
) -> int:
    row_id: int = await db.fetchval(
        """INSERT INTO outbox_messages (retailer_id, to_phone, kind, language, template, body,
               variables, dedupe_key, next_attempt_at, created_at)
           VALUES ($1, $2, $3, $4, $3, $5, $6, $7, $8, $8) RETURNING id""",
        retailer_id,
        to_phone,
        kind,
        language,
        body,
        variables if variables is not None else {"name": "Ramesh", "reason": "overdue"},
        key or f"test:{to_phone}:{kind}:{body}",
        now,
    )
    return row_id


async def row(db: asyncpg.Pool, row_id: int) -> asyncpg.Record:
    record = await db.fetchrow("SELECT * FROM outbox_messages WHERE id = $1", row_id)
    assert record is not None
    return record


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def created(sid: str = "SM" + "a" * 32, status: str = "queued") -> httpx.Response:
    return httpx.Response(201, json={"sid": sid, "status": status})


def sign_status(sid: str, status: str, **extra: str) -> tuple[dict[str, str], dict[str, str]]:
    """A status callback's fields and signature header, as Twilio posts them."""
    fields = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID, **extra}
    signature = compute_signature(AUTH_TOKEN, PUBLIC_BASE_URL + STATUS_PATH, fields.items())
    return fields, {"X-Twilio-Signature": signature}


NO_MESSAGES = {"messages": [], "next_page_uri": None}


@pytest.fixture
def twilio_api() -> Iterator[respx.MockRouter]:
    """Twilio's Messages API: its list answers "no messages" unless a test says otherwise."""
    with respx.mock(base_url=TWILIO_API_URL, assert_all_called=False) as mock:
        mock.get(MESSAGES_PATH, name="list").mock(
            return_value=httpx.Response(200, json=NO_MESSAGES)
        )
        yield mock


@pytest.fixture
def twilio(twilio_api: respx.MockRouter) -> respx.Route:
    """The Messages API's create (POST)."""
    return twilio_api.post(MESSAGES_PATH)


async def test_inside_window_sends_the_body(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now - timedelta(hours=23))
    row_id = await queue(db, now, retailer_id=rid, body="Credit paused ₹1,250")
    twilio.mock(return_value=created())

    counts = await deliver_due(deps)

    assert counts["claimed"] == 1 and counts["sent"] == 1
    request = twilio.calls.last.request
    assert form(request) == {
        "To": f"whatsapp:{PHONE}",
        "From": WHATSAPP_FROM,
        "Body": "Credit paused ₹1,250",
        "StatusCallback": f"{PUBLIC_BASE_URL}/webhooks/twilio/status",
    }
    assert request.headers["Authorization"] == httpx.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)._auth_header
    r = await row(db, row_id)
    assert (r["status"], r["twilio_sid"], r["attempts"]) == ("ACCEPTED", "SM" + "a" * 32, 1)
    assert r["sent_at"] == now and r["content_sid"] is None


async def test_outside_window_uses_the_content_sid(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    deps = with_settings(deps, whatsapp_templates={"payment_reminder": "HX" + "1" * 32})
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now - timedelta(hours=25), outstanding=1875050)
    reply = Reply(
        "payment_reminder",
        {
            "name": "Ramesh",
            "stage": "overdue",
            "items": [{"order_id": 9, "unpaid": 1875050, "due_date": "2026-01-10",
                       "days_overdue": 5}],
            "total_due": 1875050,
        },
    )  # fmt: skip
    row_id = await enqueue(
        db, kind="payment_reminder", reply=reply, to_phone=PHONE, language="hi",
        dedupe_key="reminder:1", now=now, retailer_id=rid,
    )  # fmt: skip
    assert row_id is not None
    twilio.mock(return_value=created(status="accepted"))

    await deliver_due(deps)

    fields = form(twilio.calls.last.request)
    assert fields == {
        "To": f"whatsapp:{PHONE}",
        "From": WHATSAPP_FROM,
        "ContentSid": "HX" + "1" * 32,
        "ContentVariables": fields["ContentVariables"],
        "StatusCallback": f"{PUBLIC_BASE_URL}/webhooks/twilio/status",
    }
    assert "Body" not in fields
    assert json.loads(fields["ContentVariables"]) == {
        "1": "Ramesh", "2": "₹18,750.50", "3": "10 जनवरी 2026",
    }  # fmt: skip
    r = await row(db, row_id)
    assert (r["status"], r["content_sid"]) == ("ACCEPTED", "HX" + "1" * 32)


async def test_outside_window_without_content_sid_is_held(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=None)
    row_id = await queue(db, clock.now(), retailer_id=rid, kind="order_failed")

    counts = await deliver_due(deps)

    assert counts["held"] == 1 and twilio.call_count == 0
    r = await row(db, row_id)
    assert r["status"] == "HELD" and r["error_code"] == "NO_TEMPLATE"
    assert "order_failed" in r["error_message"] and "WHATSAPP_TEMPLATES" in r["error_message"]
    clock.advance(hours=1)
    assert (await deliver_due(deps))["claimed"] == 0


async def test_window_counts_inbound_messages_of_non_retailers(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    # An admin (not a retailer) who wrote an hour ago gets a test message as a free-form body.
    admin = "+919900000000"
    await db.execute(
        "INSERT INTO inbound_messages (message_sid, phone, received_at) VALUES ('SMx', $1, $2)",
        admin,
        clock.now() - timedelta(hours=1),
    )
    await queue(db, clock.now(), retailer_id=None, to_phone=admin, kind="test_message",
                body="hello", variables={"message": "hello"})  # fmt: skip
    twilio.mock(return_value=created())
    await deliver_due(deps)
    assert form(twilio.calls.last.request)["Body"] == "hello"


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(429, json={"code": 20429, "message": "Too Many Requests", "status": 429}),
        httpx.Response(503, text="Service Unavailable"),
        httpx.ConnectTimeout("timed out"),
    ],
)
async def test_temporary_failures_are_retried_with_backoff(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route, first: Any
) -> None:
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now)
    row_id = await queue(db, now, retailer_id=rid)
    twilio.mock(side_effect=[first, created()])

    assert (await deliver_due(deps))["retried"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["attempts"]) == ("QUEUED", 1)
    assert r["error_code"] in ("20429", "HTTP_503", "NETWORK_ERROR")
    assert now + timedelta(seconds=30) <= r["next_attempt_at"] <= now + timedelta(seconds=45)

    # Not due yet: nothing is tried.
    assert (await deliver_due(deps))["claimed"] == 0
    clock.advance(minutes=1)
    assert (await deliver_due(deps))["sent"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["attempts"], r["error_code"]) == ("ACCEPTED", 2, None)
    assert twilio.call_count == 2


async def test_permanent_4xx_fails_once_with_twilio_code(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    row_id = await queue(db, clock.now(), retailer_id=rid)
    twilio.mock(
        return_value=httpx.Response(
            400, json={"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
        )
    )
    assert (await deliver_due(deps))["failed"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["error_code"], r["error_message"]) == (
        "FAILED", "21211", "Invalid 'To' Phone Number",
    )  # fmt: skip
    clock.advance(hours=2)
    await deliver_due(deps)
    assert twilio.call_count == 1


async def test_gives_up_after_max_attempts(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    row_id = await queue(db, clock.now(), retailer_id=rid)
    twilio.mock(return_value=httpx.Response(500, json={"code": 20500, "message": "Internal"}))
    for _ in range(MAX_ATTEMPTS + 2):
        await deliver_due(deps)
        clock.advance(hours=1)
    r = await row(db, row_id)
    assert (r["status"], r["attempts"], r["error_code"]) == ("FAILED", MAX_ATTEMPTS, "20500")
    assert twilio.call_count == MAX_ATTEMPTS


async def test_two_senders_racing_send_each_row_once(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    deps = with_settings(deps, send_rate_per_second=1000.0)
    now = clock.now()
    phones = [f"+9198100{i:05d}" for i in range(40)]
    for phone in phones:
        rid = await add_retailer(db, phone, last_inbound_at=now)
        await queue(db, now, retailer_id=rid, to_phone=phone)
    counter = iter(range(10_000))

    async def slow_twilio(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.005)  # let the other sender run while this one waits on Twilio
        return created(f"SM{next(counter):032d}")

    twilio.mock(side_effect=slow_twilio)

    rounds = 0
    while await db.fetchval("SELECT count(*) FROM outbox_messages WHERE status = 'QUEUED'"):
        a, b = await asyncio.gather(deliver_due(deps, limit=7), deliver_due(deps, limit=7))
        assert a["claimed"] + b["claimed"] > 0
        rounds += 1
    assert rounds >= 3  # both senders really took turns at the same queue

    sent_to = sorted(form(call.request)["To"] for call in twilio.calls)
    assert sent_to == sorted(f"whatsapp:{p}" for p in phones)
    statuses = await db.fetch("SELECT status, count(*) FROM outbox_messages GROUP BY status")
    assert [tuple(s) for s in statuses] == [("ACCEPTED", 40)]


async def test_rate_limit_spaces_sends(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    deps = with_settings(deps, send_rate_per_second=20.0)
    for i in range(6):
        phone = f"+9198200{i:05d}"
        rid = await add_retailer(db, phone, last_inbound_at=clock.now())
        await queue(db, clock.now(), retailer_id=rid, to_phone=phone)
    sids = iter(range(100))
    twilio.mock(side_effect=lambda request: created(f"SM{next(sids):032d}"))
    started = time.monotonic()
    assert (await deliver_due(deps))["sent"] == 6
    assert time.monotonic() - started >= 5 / 20 * 0.95


async def test_without_twilio_credentials_messages_are_printed(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    caplog: pytest.LogCaptureFixture,
) -> None:
    deps = with_settings(deps, twilio_account_sid=None, twilio_auth_token=None)
    rid = await add_retailer(db, last_inbound_at=None)
    row_id = await queue(db, clock.now(), retailer_id=rid, body="Credit paused: overdue")
    with caplog.at_level(logging.INFO, logger="jobs.outbox_sender"):
        assert (await deliver_due(deps))["sent"] == 1
    assert twilio.call_count == 0
    r = await row(db, row_id)
    assert (r["status"], r["twilio_sid"]) == ("SENT", f"local-{row_id}")
    assert "Credit paused: overdue" in caplog.text
    assert "+91*******678" in caplog.text and PHONE not in caplog.text


async def test_opted_out_retailer_gets_no_reminder_but_gets_account_notices(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now(), opted_out=True, outstanding=100)
    reminder = await queue(db, clock.now(), retailer_id=rid, kind="payment_reminder",
                           variables={"items": []})  # fmt: skip
    notice = await queue(db, clock.now(), retailer_id=rid, kind="credit_paused")
    twilio.mock(return_value=created())
    counts = await deliver_due(deps)
    assert (counts["skipped"], counts["sent"]) == (1, 1)
    r = await row(db, reminder)
    assert (r["status"], r["error_code"]) == ("FAILED", "OPTED_OUT")
    assert (await row(db, notice))["status"] == "ACCEPTED"
    assert twilio.call_count == 1


async def test_reminder_dropped_when_paid_meanwhile(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now(), outstanding=0)
    row_id = await queue(db, clock.now(), retailer_id=rid, kind="payment_reminder",
                         variables={"items": []})  # fmt: skip
    await deliver_due(deps)
    r = await row(db, row_id)
    assert (r["status"], r["error_code"]) == ("FAILED", "NOTHING_DUE")
    assert twilio.call_count == 0


async def test_reminder_listing_transactions_checks_them(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now(), outstanding=500_00)
    cleared = await db.fetchval(
        """INSERT INTO credit_transactions (retailer_id, type, direction, amount, status, due_date,
               cleared_amount)
           VALUES ($1, 'DEBIT', 'DEBIT', 500, 'CLEARED', '2026-01-10', 500) RETURNING id""",
        rid,
    )
    row_id = await queue(db, clock.now(), retailer_id=rid, kind="payment_reminder",
                         variables={"items": [{"transaction_id": cleared}]})  # fmt: skip
    await deliver_due(deps)
    assert (await row(db, row_id))["error_code"] == "NOTHING_DUE"


async def test_expired_lease_is_requeued_and_sent_live_lease_is_not(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now)
    dead = await queue(db, now, retailer_id=rid, body="dead sender's row")
    live = await queue(db, now, retailer_id=rid, body="live sender's row")
    await db.execute(
        """UPDATE outbox_messages SET status = 'SENDING', attempts = 1,
               next_attempt_at = CASE WHEN id = $1 THEN $3::timestamptz ELSE $4 END
           WHERE id = any($2::bigint[])""",
        dead,
        [dead, live],
        now - timedelta(seconds=1),
        now + LEASE,
    )
    twilio.mock(return_value=created())
    counts = await deliver_due(deps)
    assert (counts["requeued"], counts["sent"]) == (1, 1)
    assert [form(c.request)["Body"] for c in twilio.calls] == ["dead sender's row"]
    assert ((await row(db, dead))["status"], (await row(db, dead))["attempts"]) == ("ACCEPTED", 2)
    assert (await row(db, live))["status"] == "SENDING"


async def test_late_result_after_lost_lease_is_not_recorded(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    # A sender whose lease was taken over must not overwrite the new owner's outcome.
    from bot.outbox_status import OutboxStatus
    from db.outbox_queries import claim_due, mark_accepted

    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now)
    await queue(db, now, retailer_id=rid)
    async with db.acquire() as conn:
        [first] = await claim_due(conn, now=now, lease_until=now, limit=1)
        await conn.execute("UPDATE outbox_messages SET status = 'QUEUED'")
        [second] = await claim_due(conn, now=now, lease_until=now + LEASE, limit=1)
        assert second.attempts == first.attempts + 1
        assert not await mark_accepted(
            conn, first, twilio_sid="SMold", status=OutboxStatus.ACCEPTED, content_sid=None,
            now=now,
        )  # fmt: skip
        assert await mark_accepted(
            conn, second, twilio_sid="SMnew", status=OutboxStatus.ACCEPTED, content_sid=None,
            now=now,
        )  # fmt: skip
    assert await db.fetchval("SELECT twilio_sid FROM outbox_messages") == "SMnew"


async def test_run_sender_loop_delivers_and_stops(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    twilio.mock(return_value=created())
    stop = asyncio.Event()
    task = asyncio.create_task(run_sender(deps, stop, poll_seconds=0.05))
    row_id = await queue(db, clock.now(), retailer_id=rid)
    for _ in range(100):
        if (await row(db, row_id))["status"] == "ACCEPTED":
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await row(db, row_id))["status"] == "ACCEPTED"


async def test_stopping_mid_round_gives_rows_back(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    for i in range(3):
        await queue(db, clock.now(), retailer_id=rid, body=f"m{i}")
    stop = asyncio.Event()

    def stop_after_first(request: httpx.Request) -> httpx.Response:
        stop.set()
        return created()

    twilio.mock(side_effect=stop_after_first)
    counts = await deliver_due(deps, stop=stop)
    assert (counts["sent"], counts["given_back"]) == (1, 2)
    rows = await db.fetch("SELECT status, attempts FROM outbox_messages ORDER BY id")
    assert [tuple(r) for r in rows] == [("ACCEPTED", 1), ("QUEUED", 0), ("QUEUED", 0)]


async def test_held_row_is_sent_when_the_retailer_writes_in(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=None)
    row_id = await queue(db, clock.now(), retailer_id=rid, body="Credit paused")
    await deliver_due(deps)
    assert (await row(db, row_id))["status"] == "HELD"

    clock.advance(hours=3)
    await db.execute("UPDATE retailers SET last_inbound_at = $1", clock.now())
    twilio.mock(return_value=created())
    counts = await deliver_due(deps)
    assert (counts["released"], counts["sent"]) == (1, 1)
    assert form(twilio.calls.last.request)["Body"] == "Credit paused"
    assert (await row(db, row_id))["status"] == "ACCEPTED"


async def test_held_row_is_sent_once_a_template_is_configured(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=None)
    row_id = await queue(db, clock.now(), retailer_id=rid, language="hi")
    await deliver_due(deps)
    assert (await row(db, row_id))["status"] == "HELD"

    # A Hindi template for another kind does not release it; one for this kind and language does.
    other = with_settings(deps, whatsapp_templates={"credit_resumed:hi": "HXr"})
    assert (await deliver_due(other)).get("released", 0) == 0
    configured = with_settings(deps, whatsapp_templates={"credit_paused:hi": "HXp"})
    twilio.mock(return_value=created())
    assert (await deliver_due(configured))["sent"] == 1
    assert form(twilio.calls.last.request)["ContentSid"] == "HXp"


async def test_stale_held_row_stays_held(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=None)
    row_id = await queue(db, clock.now(), retailer_id=rid)
    await deliver_due(deps)
    clock.advance(days=2)
    await db.execute("UPDATE retailers SET last_inbound_at = $1", clock.now())
    await deliver_due(deps)
    assert (await row(db, row_id))["status"] == "HELD"
    assert twilio.call_count == 0


# --- status callbacks that come before the SID is written ----------------------------------------


async def test_status_callback_before_the_sid_is_written_is_applied_after(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    client: httpx.AsyncClient,
) -> None:
    """Twilio calls back while the sender still waits for its answer: the callback is kept, and
    the sender's next round applies it."""
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now - timedelta(hours=1))
    row_id = await queue(db, now, retailer_id=rid)
    sid = "SM" + "e" * 32

    async def accept_after_calling_back(request: httpx.Request) -> httpx.Response:
        callback = sign_status(sid, "delivered")
        response = await client.post(STATUS_PATH, data=callback[0], headers=callback[1])
        assert response.status_code == 204
        return created(sid)

    twilio.mock(side_effect=accept_after_calling_back)
    await deliver_due(deps)
    assert (await row(db, row_id))["status"] == "ACCEPTED"
    assert await db.fetchval("SELECT count(*) FROM early_status_callbacks") == 1

    counts = await deliver_due(deps)

    assert counts["early_callbacks"] == 1
    assert (await row(db, row_id))["status"] == "DELIVERED"
    assert await db.fetchval("SELECT count(*) FROM early_status_callbacks") == 0


async def test_early_callback_never_moves_a_status_back_and_strays_are_dropped_after_a_day(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, client: httpx.AsyncClient
) -> None:
    now = clock.now()
    read_sid, stray_sid = "SM" + "1" * 32, "SM" + "2" * 32
    for sid in (read_sid, stray_sid):
        fields, headers = sign_status(sid, "sent")
        assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
    # Meanwhile the message was recorded and got as far as READ.
    row_id = await queue(db, now, retailer_id=None)
    await db.execute(
        "UPDATE outbox_messages SET status = 'READ', twilio_sid = $2 WHERE id = $1",
        row_id,
        read_sid,
    )

    counts = await deliver_due(deps)
    assert counts["early_callbacks"] == 1
    assert (await row(db, row_id))["status"] == "READ"
    assert await db.fetchval("SELECT twilio_sid FROM early_status_callbacks") == stray_sid

    clock.advance(hours=23)
    await deliver_due(deps)
    assert await db.fetchval("SELECT count(*) FROM early_status_callbacks") == 1
    clock.advance(hours=2)
    await deliver_due(deps)
    assert await db.fetchval("SELECT count(*) FROM early_status_callbacks") == 0


# --- the message is true when it is sent ------------------------------------------------------


async def test_reminder_paid_in_part_meanwhile_is_sent_with_what_is_left(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    """The job lists two debits at 10:00; one is paid and the other part-paid before the sender
    gets to the row: the message lists only what is still owed, and the row keeps that text."""
    from db.ledger import record_payment
    from jobs.runner import run_job_now
    from tests.test_jobs import add_debit

    today = clock.now().astimezone(deps.settings.tz).date()
    rid = await add_retailer(db, last_inbound_at=clock.now())
    old = await add_debit(db, rid, 14_850_00, today - timedelta(days=40))
    recent = await add_debit(db, rid, 9_000_00, today - timedelta(days=16))
    assert (await run_job_now(deps, "payment_reminders")).counts["queued"] == 1
    queued = await db.fetchrow("SELECT id, body FROM outbox_messages")
    assert "₹23,850" in queued["body"]

    async with db.acquire() as conn:
        for txn, amount in ((old, 14_850_00), (recent, 8_000_00)):
            await record_payment(
                conn, amount=amount, retailer_id=None, transaction_id=txn, reference=None,
                performed_by="test", now=clock.now(), tz=deps.settings.tz,
            )  # fmt: skip
    twilio.mock(return_value=created())
    await deliver_due(deps)

    sent = form(twilio.calls.last.request)["Body"]
    assert "₹14,850" not in sent and "₹23,850" not in sent
    assert "₹1,000" in sent and "Total due: ₹1,000" in sent
    assert "long overdue" not in sent  # the long-overdue debit was paid
    r = await row(db, queued["id"])
    assert r["status"] == "ACCEPTED" and r["body"] == sent
    assert r["variables"]["total_due"] == 1_000_00


async def test_follow_up_not_sent_once_the_checkout_is_over_or_after_stop(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    now = clock.now()
    done_rid = await add_retailer(db, "+919812340001", last_inbound_at=now)
    stop_rid = await add_retailer(db, "+919812340002", last_inbound_at=now, opted_out=True)
    open_rid = await add_retailer(db, "+919812340003", last_inbound_at=now)
    rows = {}
    for rid, phone, status in (
        (done_rid, "+919812340001", "COMPLETED"),
        (stop_rid, "+919812340002", "PENDING"),
        (open_rid, "+919812340003", "PENDING"),
    ):
        pending = await db.fetchval(
            """INSERT INTO pending_orders (retailer_id, status, expires_at)
               VALUES ($1, $2, $3) RETURNING id""",
            rid, status, now + timedelta(hours=20),
        )  # fmt: skip
        rows[phone] = await queue(
            db, now, retailer_id=rid, to_phone=phone, kind="pending_order_follow_up",
            variables={"pending_order_id": pending}, key=f"f:{pending}",
        )  # fmt: skip
    twilio.mock(return_value=created())
    await deliver_due(deps)
    got = {phone: ((await row(db, i))["status"], (await row(db, i))["error_code"])
           for phone, i in rows.items()}  # fmt: skip
    assert got == {
        "+919812340001": ("FAILED", "CHECKOUT_CLOSED"),
        "+919812340002": ("FAILED", "OPTED_OUT"),
        "+919812340003": ("ACCEPTED", None),
    }
    assert twilio.call_count == 1


# --- Twilio says the 24-hour window is closed (63016) ------------------------------------------

WINDOW_CLOSED_ANSWER = {"code": 63016, "message": "Failed to send freeform message because you "
                        "are outside the allowed window."}  # fmt: skip


async def test_refused_as_outside_the_window_goes_again_with_the_template(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    # By our reckoning the window is open (23 h), by Twilio's it is not.
    deps = with_settings(deps, whatsapp_templates={"credit_paused": "HXp"})
    rid = await add_retailer(db, last_inbound_at=clock.now() - timedelta(hours=23))
    row_id = await queue(db, clock.now(), retailer_id=rid)
    twilio.mock(side_effect=[httpx.Response(400, json=WINDOW_CLOSED_ANSWER), created()])

    assert (await deliver_due(deps))["window_refused"] == 1
    assert (await row(db, row_id))["status"] == "QUEUED"
    await deliver_due(deps)

    first, second = (form(c.request) for c in twilio.calls)
    assert "Body" in first and "ContentSid" not in first
    assert second["ContentSid"] == "HXp" and "Body" not in second
    r = await row(db, row_id)
    assert (r["status"], r["content_sid"]) == ("ACCEPTED", "HXp")


async def test_refused_as_outside_the_window_without_a_template_waits_for_the_retailer(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now() - timedelta(hours=23))
    row_id = await queue(db, clock.now(), retailer_id=rid)
    twilio.mock(side_effect=[httpx.Response(400, json=WINDOW_CLOSED_ANSWER), created()])
    await deliver_due(deps)
    for _ in range(3):  # held, and not released by the old inbound message
        clock.advance(seconds=5)
        await deliver_due(deps)
    r = await row(db, row_id)
    assert (r["status"], r["error_code"]) == ("HELD", "NO_TEMPLATE")
    assert twilio.call_count == 1

    clock.advance(minutes=1)
    await db.execute("UPDATE retailers SET last_inbound_at = $2 WHERE id = $1", rid, clock.now())
    clock.advance(seconds=5)
    await deliver_due(deps)
    assert twilio.call_count == 2 and "Body" in form(twilio.calls.last.request)
    assert (await row(db, row_id))["status"] == "ACCEPTED"


async def test_window_failure_reported_by_status_callback_goes_again_once(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    client: httpx.AsyncClient,
) -> None:
    """Twilio usually accepts the message and reports 63016 later, in a status callback."""
    deps = with_settings(deps, whatsapp_templates={"credit_paused": "HXp"})
    rid = await add_retailer(db, last_inbound_at=clock.now() - timedelta(hours=23))
    row_id = await queue(db, clock.now(), retailer_id=rid)
    twilio.mock(side_effect=[created("SM" + "1" * 32), created("SM" + "2" * 32)])
    await deliver_due(deps)

    fields, headers = sign_status("SM" + "1" * 32, "failed", ErrorCode="63016")
    assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
    r = await row(db, row_id)
    assert (r["status"], r["twilio_sid"], r["error_code"]) == ("QUEUED", None, "63016")

    await deliver_due(deps)
    assert form(twilio.calls.last.request)["ContentSid"] == "HXp"
    r = await row(db, row_id)
    assert (r["status"], r["twilio_sid"]) == ("ACCEPTED", "SM" + "2" * 32)

    # The template failing the same way is final: no loop.
    fields, headers = sign_status("SM" + "2" * 32, "failed", ErrorCode="63016")
    assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
    assert (await row(db, row_id))["status"] == "FAILED"


# --- Twilio's error codes: temporary failures come back later, counted ---------------------------


def refused(code: int, message: str = "refused") -> httpx.Response:
    return httpx.Response(400, json={"code": code, "message": message, "status": 400})


async def test_21611_in_the_answer_is_sent_again_after_a_long_backoff(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now)
    row_id = await queue(db, now, retailer_id=rid)
    twilio.mock(side_effect=[refused(21611, "queue over its limit"), created()])

    assert (await deliver_due(deps))["deferred"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["error_code"], r["temporary_failures"]) == ("QUEUED", "21611", 1)
    assert "temporary failure 1 of 5" in r["error_message"]
    assert now + timedelta(hours=1) <= r["next_attempt_at"] <= now + timedelta(hours=1.25)

    clock.advance(minutes=30)
    assert (await deliver_due(deps))["claimed"] == 0  # a long backoff, not 30 seconds
    clock.advance(minutes=46)
    assert (await deliver_due(deps))["sent"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["error_code"], r["temporary_failures"]) == ("ACCEPTED", None, 1)
    assert twilio.call_count == 2


async def test_63018_by_callback_is_sent_again_later_as_a_new_row(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    client: httpx.AsyncClient,
) -> None:
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now)
    first = await queue(db, now, retailer_id=rid, key="pause:1")
    twilio.mock(side_effect=[created("SM" + "1" * 32), created("SM" + "2" * 32)])
    await deliver_due(deps)

    fields, headers = sign_status("SM" + "1" * 32, "failed", ErrorCode="63018")
    assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
    # The failed row keeps its SID and says what happens next; a new row will send it again.
    r = await row(db, first)
    assert (r["status"], r["error_code"], r["twilio_sid"]) == ("FAILED", "63018", "SM" + "1" * 32)
    assert "Rate limit exceeded" in r["error_message"] and "sent again later" in r["error_message"]
    again = await db.fetchrow("SELECT * FROM outbox_messages WHERE retry_of = $1", first)
    assert (again["status"], again["temporary_failures"], again["dedupe_key"]) == (
        "QUEUED", 1, "pause:1:again:1",
    )  # fmt: skip
    assert again["next_attempt_at"] >= now + timedelta(hours=1)
    assert f"#{again['id']}" in r["error_message"]

    assert (await deliver_due(deps))["claimed"] == 0
    clock.advance(hours=2)
    assert (await deliver_due(deps))["sent"] == 1
    assert [form(c.request)["Body"] for c in twilio.calls] == ["Your credit is paused."] * 2
    assert (await row(db, again["id"]))["twilio_sid"] == "SM" + "2" * 32
    assert (await row(db, first))["status"] == "FAILED"


async def test_late_delivery_of_a_failed_message_cancels_its_resend(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    client: httpx.AsyncClient,
) -> None:
    """Callbacks can come out of order: "undelivered" (temporary) and then "delivered"."""
    rid = await add_retailer(db, last_inbound_at=clock.now())
    first = await queue(db, clock.now(), retailer_id=rid)
    twilio.mock(return_value=created("SM" + "1" * 32))
    await deliver_due(deps)
    for status, extra in (("undelivered", {"ErrorCode": "30003"}), ("delivered", {})):
        fields, headers = sign_status("SM" + "1" * 32, status, **extra)
        assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
    assert (await row(db, first))["status"] == "DELIVERED"

    clock.advance(hours=1)
    counts = await deliver_due(deps)
    assert (counts["claimed"], counts["skipped"]) == (1, 1)
    again = await db.fetchrow(
        "SELECT status, error_code FROM outbox_messages WHERE retry_of = $1", first
    )
    assert tuple(again) == ("FAILED", "ARRIVED")
    assert twilio.call_count == 1


async def test_temporary_failures_by_callback_end_after_five(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    client: httpx.AsyncClient,
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    await queue(db, clock.now(), retailer_id=rid)
    sids = iter(f"SM{i:032d}" for i in range(100))
    twilio.mock(side_effect=lambda request: created(next(sids)))
    for _ in range(8):
        await db.execute("UPDATE retailers SET last_inbound_at = $1", clock.now())  # in window
        await deliver_due(deps)
        for (sid,) in await db.fetch(
            "SELECT twilio_sid FROM outbox_messages WHERE status = 'ACCEPTED'"
        ):
            fields, headers = sign_status(sid, "failed", ErrorCode="63038")
            assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
        clock.advance(hours=16)
    rows = await db.fetch(
        "SELECT status, temporary_failures, error_message FROM outbox_messages ORDER BY id"
    )
    assert [(r["status"], r["temporary_failures"]) for r in rows] == [
        ("FAILED", 0), ("FAILED", 1), ("FAILED", 2), ("FAILED", 3), ("FAILED", 4), ("FAILED", 5),
    ]  # fmt: skip
    assert "gave up after 6 temporary failures" in rows[-1]["error_message"]
    assert twilio.call_count == 6


# --- no double sends: what may have reached Twilio is looked up first ----------------------------


def listing(*messages: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"messages": list(messages), "next_page_uri": None})


def twilio_message(sid: str, body: str, created_at: datetime, to: str = PHONE) -> dict[str, Any]:
    return {
        "sid": sid, "to": f"whatsapp:{to}", "from": WHATSAPP_FROM, "body": body,
        "status": "delivered", "direction": "outbound-api", "date_sent": None,
        "date_created": created_at.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"code": 20500, "message": "Internal Server Error"}),
        httpx.Response(502, text="Bad Gateway"),
        httpx.ReadTimeout("the answer never came"),
    ],
)
@pytest.mark.parametrize("there", [True, False])
async def test_unconfirmed_attempt_is_looked_up_before_sending_again(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
    failure: Any,
    there: bool,
) -> None:
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now)
    row_id = await queue(db, now, retailer_id=rid, body="Credit paused ₹1,250")
    twilio.mock(side_effect=[failure, created("SM" + "9" * 32)])

    assert (await deliver_due(deps))["unconfirmed"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["unconfirmed_since"]) == ("QUEUED", now)

    found = twilio_message("SM" + "f" * 32, "Credit paused ₹1,250", now + timedelta(seconds=2))
    other = twilio_message("SM" + "e" * 32, "Something else", now + timedelta(seconds=3))
    twilio_api["list"].mock(return_value=listing(other, found) if there else listing(other))
    clock.advance(minutes=1)
    counts = await deliver_due(deps)

    lookup = twilio_api["list"].calls.last.request
    # No DateSent filter: a message still queued at Twilio has no date_sent (docs/decisions.md).
    assert dict(lookup.url.params) == {
        "To": f"whatsapp:{PHONE}", "From": WHATSAPP_FROM, "PageSize": "100",
    }  # fmt: skip
    r = await row(db, row_id)
    assert r["unconfirmed_since"] is None and counts["sent"] == 1
    if there:
        # Twilio had it: adopted, not sent a second time.
        assert twilio.call_count == 1
        assert (r["status"], r["twilio_sid"]) == ("DELIVERED", "SM" + "f" * 32)
        assert "found in Twilio's Messages list" in r["error_message"]
    else:
        assert twilio.call_count == 2
        assert (r["status"], r["twilio_sid"]) == ("ACCEPTED", "SM" + "9" * 32)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, json={"code": 20429, "message": "Too Many Requests"}),
        httpx.Response(503, text="Service Unavailable"),
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("no connection"),
    ],
)
async def test_what_cannot_have_reached_twilio_is_retried_without_a_lookup(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
    failure: Any,
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    row_id = await queue(db, clock.now(), retailer_id=rid)
    twilio.mock(side_effect=[failure, created()])
    assert (await deliver_due(deps))["retried"] == 1
    assert (await row(db, row_id))["unconfirmed_since"] is None
    clock.advance(minutes=1)
    assert (await deliver_due(deps))["sent"] == 1
    assert twilio.call_count == 2 and not twilio_api["list"].called


async def test_a_lookup_that_fails_sends_nothing_and_tries_later(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    row_id = await queue(db, clock.now(), retailer_id=rid)
    attempt = clock.now()
    twilio.mock(side_effect=[httpx.Response(500), created()])
    await deliver_due(deps)
    twilio_api["list"].mock(side_effect=[httpx.Response(503), listing()])
    clock.advance(minutes=1)
    assert (await deliver_due(deps))["retried"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["error_code"], r["unconfirmed_since"]) == (
        "QUEUED", "LOOKUP_FAILED", attempt,
    )  # fmt: skip
    assert twilio.call_count == 1
    clock.advance(minutes=5)
    assert (await deliver_due(deps))["sent"] == 1
    assert twilio.call_count == 2


async def test_a_row_whose_sender_died_is_looked_up_before_it_is_sent_again(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    """The sender was killed after Twilio took the message, before it wrote the SID down."""
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now)
    row_id = await queue(db, now, retailer_id=rid, body="dead sender's row")
    await db.execute(
        """UPDATE outbox_messages SET status = 'SENDING', attempts = 1, updated_at = $2,
               next_attempt_at = $2::timestamptz + interval '2 minutes' WHERE id = $1""",
        row_id,
        now,
    )
    twilio_api["list"].mock(
        return_value=listing(twilio_message("SM" + "d" * 32, "dead sender's row", now))
    )
    clock.advance(minutes=3)
    counts = await deliver_due(deps)
    assert (counts["requeued"], counts["sent"]) == (1, 1)
    assert twilio.call_count == 0
    assert (await row(db, row_id))["twilio_sid"] == "SM" + "d" * 32


# --- opt-outs that Twilio reports ----------------------------------------------------------------


async def opt_out_audit(db: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            """SELECT retailer_id, action, performed_by, old_value, new_value, reason
               FROM audit_log WHERE action = 'OPTED_OUT' ORDER BY id"""
        )
    )


async def test_21610_marks_the_retailer_opted_out_until_they_write_in(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    now = clock.now()
    rid = await add_retailer(db, last_inbound_at=now, outstanding=500_00)
    row_id = await queue(db, now, retailer_id=rid, key="n1")
    twilio.mock(
        side_effect=[refused(21610, "Attempt to send to unsubscribed recipient"), created()]
    )

    assert (await deliver_due(deps))["opted_out"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["error_code"]) == ("FAILED", "21610")
    retailer = await db.fetchrow("SELECT opted_out, twilio_opted_out_at FROM retailers")
    assert tuple(retailer) == (True, now)
    [audit] = await opt_out_audit(db)
    assert (audit["retailer_id"], audit["performed_by"]) == (rid, "twilio")
    assert (audit["old_value"], audit["new_value"]) == ({"opted_out": False}, {"opted_out": True})
    assert "21610" in audit["reason"]

    # Nothing more goes out, account notices included, until the retailer writes in.
    clock.advance(minutes=5)
    notice = await queue(db, clock.now(), retailer_id=rid, key="n2")
    reminder = await queue(db, clock.now(), retailer_id=rid, kind="payment_reminder",
                           variables={"items": []}, key="r1")  # fmt: skip
    await deliver_due(deps)
    assert {(await row(db, i))["error_code"] for i in (notice, reminder)} == {"OPTED_OUT"}
    assert twilio.call_count == 1

    clock.advance(minutes=5)
    await db.execute("UPDATE retailers SET last_inbound_at = $1", clock.now())
    later = await queue(db, clock.now(), retailer_id=rid, key="n3")
    reminder = await queue(db, clock.now(), retailer_id=rid, kind="payment_reminder",
                           variables={"items": []}, key="r2")  # fmt: skip
    await deliver_due(deps)
    assert (await row(db, later))["status"] == "ACCEPTED"
    # Reminders stay off until they send START (the bot's own opt-out, now set).
    assert (await row(db, reminder))["error_code"] == "OPTED_OUT"
    assert len(await opt_out_audit(db)) == 1


async def test_63014_by_callback_marks_the_retailer_opted_out_once(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    client: httpx.AsyncClient,
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    row_id = await queue(db, clock.now(), retailer_id=rid, key="n1")
    other = await queue(db, clock.now(), retailer_id=rid, key="n2")
    twilio.mock(side_effect=[created("SM" + "1" * 32), created("SM" + "2" * 32)])
    await deliver_due(deps)
    for sid in ("SM" + "1" * 32, "SM" + "2" * 32):
        fields, headers = sign_status(sid, "failed", ErrorCode="63014")
        assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
    for i in (row_id, other):
        r = await row(db, i)
        assert (r["status"], r["error_code"]) == ("FAILED", "63014")
    assert await db.fetchval("SELECT opted_out FROM retailers WHERE id = $1", rid)
    [audit] = await opt_out_audit(db)
    assert audit["performed_by"] == "twilio" and "63014" in audit["reason"]
    assert await db.fetchval("SELECT count(*) FROM outbox_messages") == 2  # no resend


# --- reminders count what was sent (issue 9) -----------------------------------------------------


async def reminder_counts(db: asyncpg.Pool) -> list[tuple[int, datetime | None]]:
    rows = await db.fetch(
        "SELECT reminder_count, reminder_sent_at FROM credit_transactions WHERE type = 'DEBIT'"
    )
    return [(r["reminder_count"], r["reminder_sent_at"]) for r in rows]


@pytest.mark.parametrize("fate", ["held", "dropped", "sent", "printed"])
async def test_a_reminder_counts_when_it_is_handed_to_twilio(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route, fate: str
) -> None:
    from db.ledger import record_payment
    from jobs.runner import run_job_now
    from tests.test_jobs import add_debit

    today = clock.now().astimezone(deps.settings.tz).date()
    # Held: outside the window with no template. Otherwise the retailer wrote an hour ago.
    last_inbound = None if fate == "held" else clock.now() - timedelta(hours=1)
    rid = await add_retailer(db, last_inbound_at=last_inbound)
    txn = await add_debit(db, rid, 9_000_00, today - timedelta(days=16))
    assert (await run_job_now(deps, "payment_reminders")).counts["queued"] == 1
    assert await reminder_counts(db) == [(0, None)]  # queued is not sent

    if fate == "dropped":
        async with db.acquire() as conn:
            await record_payment(
                conn, amount=9_000_00, retailer_id=None, transaction_id=txn, reference=None,
                performed_by="test", now=clock.now(), tz=deps.settings.tz,
            )  # fmt: skip
    if fate == "printed":
        deps = with_settings(deps, twilio_account_sid=None, twilio_auth_token=None)
    twilio.mock(return_value=created())
    clock.advance(minutes=5)
    counts = await deliver_due(deps)

    expected = {"held": "held", "dropped": "skipped", "sent": "sent", "printed": "sent"}[fate]
    assert counts[expected] == 1
    sent = fate in ("sent", "printed")
    assert await reminder_counts(db) == [(1, clock.now()) if sent else (0, None)]
    # Once per message: the next day's run does not queue it again for the same point.
    assert (await run_job_now(deps, "payment_reminders")).counts["queued"] == 0


async def test_a_reminder_sent_again_after_a_temporary_failure_counts_once(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,
    client: httpx.AsyncClient,
) -> None:
    from jobs.runner import run_job_now
    from tests.test_jobs import add_debit

    today = clock.now().astimezone(deps.settings.tz).date()
    rid = await add_retailer(db, last_inbound_at=clock.now())
    await add_debit(db, rid, 9_000_00, today - timedelta(days=16))
    await run_job_now(deps, "payment_reminders")
    twilio.mock(side_effect=[created("SM" + "1" * 32), created("SM" + "2" * 32)])
    await deliver_due(deps)
    fields, headers = sign_status("SM" + "1" * 32, "undelivered", ErrorCode="63018")
    assert (await client.post(STATUS_PATH, data=fields, headers=headers)).status_code == 204
    clock.advance(hours=2)
    assert (await deliver_due(deps))["sent"] == 1
    assert [c for c, _ in await reminder_counts(db)] == [1]


# --- the outbox's share of the sender's rate -----------------------------------------------------


def test_outbox_rate_is_a_share_of_the_senders(deps: Deps) -> None:
    from jobs.outbox_sender import claim_limit, shared_send_rate

    assert shared_send_rate(deps).rate == pytest.approx(7.0)  # 70% of 10 per second
    sandbox = with_settings(deps, send_rate_per_second=0.3)
    assert shared_send_rate(sandbox).rate == pytest.approx(0.21)
    assert claim_limit(sandbox, 50) == 12  # what it can send in half a lease (60 s)


# --- the lookup, as Twilio lists messages (issue 16 review) --------------------------------------


def listed_message(
    sid: str,
    body: str,
    created_at: datetime,
    *,
    direction: str = "outbound-api",
    status: str = "queued",
    error_code: int | None = None,
    date_sent: datetime | None = None,
) -> dict[str, Any]:
    return {
        "sid": sid, "to": f"whatsapp:{PHONE}", "from": WHATSAPP_FROM, "body": body,
        "status": status, "direction": direction, "error_code": error_code,
        "error_message": None,
        "date_sent": date_sent.strftime("%a, %d %b %Y %H:%M:%S +0000") if date_sent else None,
        "date_created": created_at.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    }  # fmt: skip


def as_twilio_lists(*messages: dict[str, Any]) -> Any:
    """The Messages list as Twilio answers it: a `DateSent>` filter leaves out what has no
    date_sent yet (a message still in Twilio's queue)."""

    def answer(request: httpx.Request) -> httpx.Response:
        dated = "DateSent>" in request.url.params
        return listing(*(m for m in messages if not dated or m["date_sent"] is not None))

    return answer


async def unconfirmed_row(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route, **queue_args: Any
) -> int:
    """A row whose first attempt got a 500 (Twilio may have it): QUEUED, unconfirmed."""
    rid = await add_retailer(db, last_inbound_at=queue_args.pop("last_inbound_at", clock.now()))
    row_id = await queue(db, clock.now(), retailer_id=rid, **queue_args)
    twilio.mock(side_effect=[httpx.Response(500, json={"code": 20500}), created("SM" + "9" * 32)])
    assert (await deliver_due(deps))["unconfirmed"] == 1
    clock.advance(minutes=1)
    return row_id


async def test_a_message_still_queued_at_twilio_is_found_by_the_lookup(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    """Twilio's queue is long (21611/30001 days): the message our 500 left there has no
    date_sent yet. A DateSent filter hid it and the row was sent a second time."""
    row_id = await unconfirmed_row(deps, db, clock, twilio, body="Credit paused ₹1,250")
    queued = listed_message("SM" + "f" * 32, "Credit paused ₹1,250", clock.now())
    twilio_api["list"].mock(side_effect=as_twilio_lists(queued))

    await deliver_due(deps)

    assert twilio.call_count == 1  # not sent again
    r = await row(db, row_id)
    assert (r["status"], r["twilio_sid"]) == ("ACCEPTED", "SM" + "f" * 32)


async def test_a_chat_reply_is_never_adopted_as_a_templated_send(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    """The attempt went as a template; a TwiML reply ("outbound-reply", a balance answer) holds
    every variable's value: it is not our message, and the row is sent again."""
    deps = with_settings(deps, whatsapp_templates={"credit_paused": "HXp"})
    row_id = await unconfirmed_row(
        deps, db, clock, twilio, last_inbound_at=clock.now() - timedelta(days=2)
    )
    assert "ContentSid" in form(twilio.calls.last.request)
    reply = listed_message(
        "SM" + "r" * 32, "Ramesh, your credit is paused: overdue. Balance ₹0", clock.now(),
        direction="outbound-reply", status="delivered",
    )  # fmt: skip
    twilio_api["list"].mock(return_value=listing(reply))

    await deliver_due(deps)

    assert twilio.call_count == 2 and form(twilio.calls.last.request)["ContentSid"] == "HXp"
    r = await row(db, row_id)
    assert (r["status"], r["twilio_sid"], r["content_sid"]) == ("ACCEPTED", "SM" + "9" * 32, "HXp")


async def test_a_free_form_send_is_matched_by_its_body_alone(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    """The attempt went free-form (inside the window): another message of ours holding every
    variable's value (a template, say) is not it, even with a template configured."""
    deps = with_settings(deps, whatsapp_templates={"credit_paused": "HXp"})
    row_id = await unconfirmed_row(deps, db, clock, twilio, body="Credit paused.")
    assert "Body" in form(twilio.calls.last.request)
    other = listed_message("SM" + "o" * 32, "Dear Ramesh, paused: overdue", clock.now())
    twilio_api["list"].mock(return_value=listing(other))

    await deliver_due(deps)

    assert twilio.call_count == 2
    assert (await row(db, row_id))["twilio_sid"] == "SM" + "9" * 32


async def test_an_adopted_templated_send_keeps_its_content_sid(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    deps = with_settings(deps, whatsapp_templates={"credit_paused": "HXp"})
    row_id = await unconfirmed_row(
        deps, db, clock, twilio, last_inbound_at=clock.now() - timedelta(days=2)
    )
    sent = listed_message("SM" + "t" * 32, "Namaste Ramesh, credit paused: overdue", clock.now())
    twilio_api["list"].mock(return_value=listing(sent))

    await deliver_due(deps)

    assert twilio.call_count == 1
    r = await row(db, row_id)
    assert (r["status"], r["twilio_sid"], r["content_sid"]) == ("ACCEPTED", "SM" + "t" * 32, "HXp")


async def test_a_found_message_twilio_failed_for_a_temporary_reason_is_sent_again_later(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    """Twilio lists it failed with 63018 (rate): as for that status callback, the row keeps the
    failure and a new row sends it again after a long wait."""
    row_id = await unconfirmed_row(deps, db, clock, twilio, key="pause:1")
    failed = listed_message(
        "SM" + "f" * 32, "Your credit is paused.", clock.now(), status="failed", error_code=63018
    )
    twilio_api["list"].mock(return_value=listing(failed))

    await deliver_due(deps)

    r = await row(db, row_id)
    assert (r["status"], r["error_code"], r["twilio_sid"]) == ("FAILED", "63018", "SM" + "f" * 32)
    assert "Rate limit exceeded" in r["error_message"]
    again = await db.fetchrow("SELECT * FROM outbox_messages WHERE retry_of = $1", row_id)
    assert (again["status"], again["temporary_failures"]) == ("QUEUED", 1)
    assert again["next_attempt_at"] >= clock.now() + timedelta(hours=1)
    assert twilio.call_count == 1


async def test_a_found_free_form_message_failed_as_outside_the_window_goes_as_the_template(
    deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio_api: respx.MockRouter,
    twilio: respx.Route,
) -> None:
    deps = with_settings(deps, whatsapp_templates={"credit_paused": "HXp"})
    row_id = await unconfirmed_row(
        deps, db, clock, twilio, last_inbound_at=clock.now() - timedelta(hours=23)
    )
    failed = listed_message(
        "SM" + "f" * 32, "Your credit is paused.", clock.now(), status="undelivered",
        error_code=63016,
    )  # fmt: skip
    twilio_api["list"].mock(return_value=listing(failed))

    await deliver_due(deps)
    r = await row(db, row_id)
    assert (r["status"], r["error_code"], r["twilio_sid"]) == ("QUEUED", "63016", None)

    await deliver_due(deps)
    assert form(twilio.calls.last.request)["ContentSid"] == "HXp"
    assert (await row(db, row_id))["status"] == "ACCEPTED"


# --- what the sender says and records (issue 16 review) ------------------------------------------


async def test_a_row_out_of_attempts_says_what_its_attempts_were(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    row_id = await queue(db, clock.now(), retailer_id=rid)
    await db.execute(
        "UPDATE outbox_messages SET attempts = $2, temporary_failures = 5 WHERE id = $1",
        row_id,
        MAX_ATTEMPTS,
    )
    assert (await deliver_due(deps))["failed"] == 1
    r = await row(db, row_id)
    assert (r["status"], r["error_code"]) == ("FAILED", "TOO_MANY_ATTEMPTS")
    assert "5 temporary failures" in r["error_message"]
    assert "interrupted attempts" not in r["error_message"]
    assert twilio.call_count == 0


async def test_claims_are_tried_in_the_order_they_fell_due(
    deps: Deps, db: asyncpg.Pool, clock: FixedClock, twilio: respx.Route
) -> None:
    rid = await add_retailer(db, last_inbound_at=clock.now())
    later = await queue(db, clock.now(), retailer_id=rid, body="queued first, due now")
    earlier = await queue(db, clock.now(), retailer_id=rid, body="queued next, due an hour ago")
    await db.execute(
        "UPDATE outbox_messages SET next_attempt_at = $2 WHERE id = $1",
        earlier,
        clock.now() - timedelta(hours=1),
    )
    twilio.mock(side_effect=[created("SM" + "1" * 32), created("SM" + "2" * 32)])
    await deliver_due(deps)
    assert [form(c.request)["Body"] for c in twilio.calls] == [
        "queued next, due an hour ago", "queued first, due now",
    ]  # fmt: skip
    assert (await row(db, later))["twilio_sid"] == "SM" + "2" * 32


async def test_start_up_line_states_a_low_rate_as_people_read_it(
    deps: Deps, caplog: pytest.LogCaptureFixture
) -> None:
    from jobs.outbox_sender import rate_text

    assert rate_text(7.0) == "7 messages/s"
    assert rate_text(1.5) == "1.5 messages/s"
    assert rate_text(0.21) == "1 message every 4.76 s"
    assert rate_text(0.014) == "1 message every 71.4 s"
    sandbox = with_settings(deps, send_rate_per_second=0.02)
    stop = asyncio.Event()
    stop.set()
    with caplog.at_level(logging.INFO, logger="jobs.outbox_sender"):
        await run_sender(sandbox, stop)
    assert "outbox sender started: Twilio, 1 message every 71.4 s in all" in caplog.text
    assert "0.0 messages/s" not in caplog.text
