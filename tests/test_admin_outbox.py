"""GET /api/v1/admin/outbox: what the sender did with each message, temporary failures counted
(issue 16: "counted and visible"), newest first, paged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from bot.clock import FixedClock
from tests.test_outbox_sender import add_retailer, queue

PATH = "/api/v1/admin/outbox"


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


async def test_the_outbox_needs_the_token(client: httpx.AsyncClient) -> None:
    r = await client.get(PATH)
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"


async def test_rows_newest_first_with_their_failures(
    api: httpx.AsyncClient, db: asyncpg.Pool, clock: FixedClock
) -> None:
    now = clock.now()
    rid = await add_retailer(db, "+919812345678")
    other = await add_retailer(db, "+919812345679")
    deferred = await queue(db, now, retailer_id=rid, key="a", body="paused")
    await db.execute(
        """UPDATE outbox_messages
           SET temporary_failures = 2, error_code = '21611', attempts = 2,
               error_message = 'queue over its limit (temporary failure 2 of 5; sent again later)',
               next_attempt_at = $2
           WHERE id = $1""",
        deferred,
        now + timedelta(hours=3),
    )
    sent = await queue(db, now, retailer_id=other, to_phone="+919812345679", key="b")
    await db.execute(
        """UPDATE outbox_messages SET status = 'DELIVERED', twilio_sid = 'SM1', attempts = 1,
               sent_at = $2, content_sid = 'HXp'
           WHERE id = $1""",
        sent,
        now,
    )

    r = await api.get(PATH)

    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["id"] for m in body["messages"]] == [sent, deferred]
    assert body["nextCursor"] is None
    first, second = body["messages"]
    assert first == {
        "id": sent, "retailerId": other, "to": "+919812345679", "kind": "credit_paused",
        "language": "en", "status": "DELIVERED", "attempts": 1, "temporaryFailures": 0,
        "errorCode": None, "errorMessage": None, "nextAttemptAt": None,
        "createdAt": now.isoformat(), "sentAt": now.isoformat(), "twilioSid": "SM1",
        "contentSid": "HXp", "unconfirmedSince": None, "retryOf": None,
        "body": "Your credit is paused.",
    }  # fmt: skip
    # Operators see the number whole (the logs mask it) and when the next try is due.
    assert second["to"] == "+919812345678"
    assert (second["status"], second["temporaryFailures"], second["errorCode"]) == (
        "QUEUED", 2, "21611",
    )  # fmt: skip
    assert second["nextAttemptAt"] == (now + timedelta(hours=3)).isoformat()
    assert "temporary failure 2 of 5" in second["errorMessage"]


async def test_filters_and_pages(
    api: httpx.AsyncClient, db: asyncpg.Pool, clock: FixedClock
) -> None:
    rid = await add_retailer(db, "+919812345678")
    ids = [await queue(db, clock.now(), retailer_id=rid, key=f"k{i}") for i in range(5)]
    await db.execute("UPDATE outbox_messages SET status = 'FAILED' WHERE id = any($1)", ids[:3])
    await queue(db, clock.now(), retailer_id=None, to_phone="+919900000000", key="admin")

    failed = (await api.get(PATH, params={"status": "failed", "limit": "2"})).json()
    assert [m["id"] for m in failed["messages"]] == [ids[2], ids[1]]
    rest = (await api.get(PATH, params={"status": "FAILED", "cursor": failed["nextCursor"]})).json()
    assert [m["id"] for m in rest["messages"]] == [ids[0]] and rest["nextCursor"] is None

    for ref in (str(rid), "+919812345678"):
        mine = (await api.get(PATH, params={"retailer": ref})).json()
        assert [m["id"] for m in mine["messages"]] == ids[::-1]


@pytest.mark.parametrize(
    "params, status, code",
    [
        ({"status": "LOST"}, 422, "INVALID_FIELD"),
        ({"cursor": "abc"}, 422, "INVALID_CURSOR"),
        ({"cursor": "9" * 40}, 422, "INVALID_CURSOR"),
        ({"limit": "0"}, 422, "INVALID_FIELD"),
        ({"retailer": "+919800000000"}, 404, None),
    ],
)
async def test_bad_queries_are_4xx(
    api: httpx.AsyncClient, db: asyncpg.Pool, params: dict[str, str], status: int, code: str | None
) -> None:
    r = await api.get(PATH, params=params)
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code
