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


@pytest.fixture
def twilio() -> Iterator[respx.Route]:
    with respx.mock(base_url=TWILIO_API_URL, assert_all_called=False) as mock:
        yield mock.post(MESSAGES_PATH)


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
    from bot.sending import OutboxStatus
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
