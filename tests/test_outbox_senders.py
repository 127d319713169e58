"""Several outbox senders on one queue and one shared rate: each row is posted once, whatever the
rate and however many senders (issue 17, "sends stay single"), and no SID Twilio gives is lost.

These run real senders (`run_sender`) on the real clock against PostgreSQL and Redis; Twilio's
Messages API is a respx fake that keeps what it was sent and lists it back as Twilio does (newest
first; a message still queued has no date_sent, so a `DateSent` filter leaves it out).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import asyncpg
import httpx
import pytest
import respx

import jobs.outbox_sender
from bot.cli.deps import Deps
from bot.clock import SystemClock
from db.outbox_queries import claim_due
from jobs.outbox_sender import claim_limit, deliver_due, run_sender
from jobs.send_rate import SharedSendRate
from tests.conftest import TWILIO_API_URL
from tests.test_outbox_sender import MESSAGES_PATH, add_retailer, form, queue, with_settings


class FakeTwilio:
    """Twilio's Messages API as far as the sender meets it: a POST creates a queued message
    (no date_sent yet) and answers its SID; the list answers To/From's messages newest first."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.posts: Counter[str] = Counter()  # body -> POSTs
        self.post_times: list[float] = []
        self.on_post: Any = None  # called (with the form) before answering, when set

    async def post(self, request: httpx.Request) -> httpx.Response:
        fields = form(request)
        self.posts[fields.get("Body", "")] += 1
        self.post_times.append(time.monotonic())
        if self.on_post is not None:
            await self.on_post(fields)
        message = {
            "sid": f"SM{len(self.messages):032d}",
            "to": fields["To"],
            "from": fields["From"],
            "body": fields.get("Body", ""),
            "status": "queued",
            "direction": "outbound-api",
            "date_created": format_datetime(datetime.now(UTC), usegmt=True),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
        }
        self.messages.append(message)
        return httpx.Response(201, json=message)

    def list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        found = [
            m
            for m in reversed(self.messages)
            if m["to"] == params.get("To")
            and m["from"] == params.get("From")
            # Twilio filters on date_sent: a message still queued has none.
            and ("DateSent>" not in params or m["date_sent"] is not None)
        ]
        return httpx.Response(200, json={"messages": found, "next_page_uri": None})

    @property
    def sids(self) -> set[str]:
        return {m["sid"] for m in self.messages}


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    twilio = FakeTwilio()
    with respx.mock(base_url=TWILIO_API_URL, assert_all_called=False) as mock:
        mock.post(MESSAGES_PATH).mock(side_effect=twilio.post)
        mock.get(MESSAGES_PATH).mock(side_effect=twilio.list)
        yield twilio


def on_the_real_clock(deps: Deps, per_second: float) -> Deps:
    """Senders at `per_second` in all, on the real clock (so leases really run out), with a send
    rate key of their own (other tests' slots do not slow them)."""
    deps = with_settings(
        deps,
        send_rate_per_second=per_second,
        outbox_rate_share=1.0,
        arq_queue_name=f"{deps.settings.arq_queue_name}:{time.monotonic_ns()}",
    )
    return dataclasses.replace(deps, clock=SystemClock())


async def queue_rows(db: asyncpg.Pool, n: int) -> list[int]:
    now = datetime.now(UTC)
    ids = []
    for i in range(n):
        phone = f"+9198300{i:05d}"
        rid = await add_retailer(db, phone, last_inbound_at=now)
        ids.append(await queue(db, now, retailer_id=rid, to_phone=phone, body=f"message {i}"))
    return ids


async def run_senders(deps: Deps, n: int, *, rows: int, within: float, **kwargs: Any) -> None:
    """`n` senders until no row waits or is being sent; fails after `within` seconds."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_sender(deps, stop, poll_seconds=0.05, **kwargs))
             for _ in range(n)]  # fmt: skip
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            left = await deps.pool.fetchval(
                "SELECT count(*) FROM outbox_messages WHERE status IN ('QUEUED', 'SENDING')"
            )
            if left == 0:
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert left == 0, f"{left} of {rows} rows still waiting after {within} s"


async def assert_each_row_sent_once(db: asyncpg.Pool, fake: FakeTwilio, rows: int) -> None:
    assert sorted(fake.posts.values()) == [1] * rows  # one POST per row body, no second
    recorded = await db.fetch("SELECT status, twilio_sid FROM outbox_messages ORDER BY id")
    assert {r["status"] for r in recorded} == {"ACCEPTED"}
    assert {r["twilio_sid"] for r in recorded} == fake.sids  # no SID Twilio gave is lost


@pytest.mark.slow  # 50 s of real waiting on the shared rate; .ci/run runs it
async def test_three_senders_at_one_message_a_second_send_fifty_rows_once_each(
    deps: Deps, db: asyncpg.Pool, fake: FakeTwilio
) -> None:
    deps = on_the_real_clock(deps, per_second=1.0)
    await queue_rows(db, 50)

    await run_senders(deps, 3, rows=50, within=100)

    await assert_each_row_sent_once(db, fake, 50)
    # The rate holds across the three: 50 sends take at least 49 intervals of 1 s (less a
    # margin for when each sender wakes; a lower bound, never flaky).
    assert fake.post_times[-1] - fake.post_times[0] >= 49 * 0.9


@pytest.mark.parametrize("senders", [2, 3])
async def test_a_low_rate_and_a_short_lease_never_send_a_row_twice(
    deps: Deps,
    db: asyncpg.Pool,
    fake: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
    senders: int,
) -> None:
    """The reviewer's case (2 workers, 1 message every 50 s, a 2-minute lease), time scaled
    down: a lease shorter than two send intervals. Before the fix each sender claimed a row
    whatever the other held of the rate, the row outwaited its lease in the rate's queue,
    another sender took it, looked it up (not posted yet: nothing) and sent it too."""
    monkeypatch.setattr(jobs.outbox_sender, "LEASE", timedelta(seconds=0.8))
    deps = on_the_real_clock(deps, per_second=2.0)
    await queue_rows(db, 12)

    await run_senders(deps, senders, rows=12, within=60)

    await assert_each_row_sent_once(db, fake, 12)


def test_claim_limit_leaves_what_other_senders_hold(deps: Deps) -> None:
    one = with_settings(deps, send_rate_per_second=1.0, outbox_rate_share=1.0)
    assert claim_limit(one, 50) == 50  # 60 s of slots in half a lease; no more than asked
    assert claim_limit(one, 100) == 60
    # Other senders hold 45 s of slots: 15 left before half a lease is out.
    assert claim_limit(one, 100, backlog=45.0) == 15
    assert claim_limit(one, 100, backlog=60.0) == 0
    # At a rate below one per half lease, one row, only when a slot is free in time.
    slow = with_settings(deps, send_rate_per_second=0.02, outbox_rate_share=1.0)
    assert claim_limit(slow, 50) == 1
    assert claim_limit(slow, 50, backlog=50.0) == 1
    assert claim_limit(slow, 50, backlog=61.0) == 0


async def test_a_second_sender_claims_nothing_while_the_rate_is_taken(
    deps: Deps, db: asyncpg.Pool, fake: FakeTwilio
) -> None:
    """At 1 message every 100 s, the first sender's slot leaves no room for a second within
    half a lease: the second sender claims nothing (before the fix it claimed a row and waited
    for a slot past its lease)."""
    deps = on_the_real_clock(deps, per_second=0.01)
    await queue_rows(db, 3)
    first = await deliver_due(deps)
    assert (first["claimed"], first["sent"]) == (1, 1)
    second = await deliver_due(deps)
    assert second["claimed"] == 0
    assert await db.fetchval("SELECT count(*) FROM outbox_messages WHERE status = 'QUEUED'") == 2


async def test_a_row_whose_claim_passed_while_it_waited_is_not_posted(
    deps: Deps, db: asyncpg.Pool, fake: FakeTwilio
) -> None:
    """Its lease ran out while it waited for its slot and another sender took it: it is not
    posted (the other sender's lookup and send are the only ones)."""
    deps = on_the_real_clock(deps, per_second=5.0)
    [row_id] = await queue_rows(db, 1)

    async def taken_by_another_sender() -> None:
        now = datetime.now(UTC)
        async with deps.pool.acquire() as conn:
            await conn.execute(
                "UPDATE outbox_messages SET status = 'QUEUED', next_attempt_at = $1", now
            )
            assert await claim_due(conn, now=now, lease_until=now + timedelta(minutes=2), limit=1)

    class TakenWhileWaiting(SharedSendRate):
        async def reserve_within(self, count: int, horizon: float) -> Any:
            await taken_by_another_sender()
            return await super().reserve_within(count, horizon)

        async def wait(self) -> None:  # what the sender called before the fix
            await taken_by_another_sender()
            await super().wait()

    rate = TakenWhileWaiting(deps.redis, f"test:rate:{row_id}:{time.monotonic_ns()}", 5.0)
    counts = await deliver_due(deps, rate=rate)

    assert counts.get("lost") == 1 and not fake.posts
    r = await db.fetchrow("SELECT status, attempts, twilio_sid FROM outbox_messages")
    assert (r["status"], r["attempts"], r["twilio_sid"]) == ("SENDING", 2, None)


@pytest.mark.parametrize("meanwhile", ["requeued", "reclaimed", "sent by the other"])
async def test_a_sid_twilio_gives_after_the_claim_was_lost_is_recorded(
    deps: Deps, db: asyncpg.Pool, fake: FakeTwilio, meanwhile: str
) -> None:
    """The lease ran out while Twilio was answering (a slow answer): the SID is still recorded,
    on the row when it has none yet, else on a copy that says so."""
    deps = on_the_real_clock(deps, per_second=50.0)
    [row_id] = await queue_rows(db, 1)

    async def lose_the_claim(fields: dict[str, str]) -> None:
        now = datetime.now(UTC)
        async with deps.pool.acquire() as conn:
            await conn.execute(
                "UPDATE outbox_messages SET status = 'QUEUED', next_attempt_at = $1", now
            )
            if meanwhile != "requeued":
                assert await claim_due(
                    conn, now=now, lease_until=now + timedelta(minutes=2), limit=1
                )
            if meanwhile == "sent by the other":
                await conn.execute(
                    """UPDATE outbox_messages SET status = 'ACCEPTED', twilio_sid = 'SMother'"""
                )

    fake.on_post = lose_the_claim
    counts = await deliver_due(deps)

    assert counts == {"claimed": 1, "lost": 1}
    [ours] = fake.sids
    rows = await db.fetch("SELECT * FROM outbox_messages ORDER BY id")
    if meanwhile == "sent by the other":
        original, copy = rows
        assert (original["status"], original["twilio_sid"]) == ("ACCEPTED", "SMother")
        assert (copy["status"], copy["twilio_sid"], copy["retry_of"]) == (
            "ACCEPTED", ours, row_id,
        )  # fmt: skip
        assert copy["error_code"] == "DUPLICATE" and f"#{row_id}" in copy["error_message"]
        assert copy["body"] == original["body"]
    else:
        [r] = rows
        assert (r["status"], r["twilio_sid"], r["unconfirmed_since"]) == ("ACCEPTED", ours, None)


async def test_a_row_waiting_for_its_slot_goes_back_when_the_sender_stops(
    deps: Deps, db: asyncpg.Pool, fake: FakeTwilio
) -> None:
    """A worker shutting down does not sit out a slot up to half a lease away: the row goes
    back to the queue at once, not counted as an attempt, and nothing is posted."""
    deps = on_the_real_clock(deps, per_second=1.0)
    await queue_rows(db, 1)
    rate = jobs.outbox_sender.shared_send_rate(deps)
    await rate.reserve_within(20, horizon=60.0)  # other senders hold the next 20 s
    stop = asyncio.Event()
    round_ = asyncio.create_task(deliver_due(deps, rate=rate, stop=stop))
    while await db.fetchval("SELECT status FROM outbox_messages") != "SENDING":
        await asyncio.sleep(0.02)
    stop.set()
    counts = await asyncio.wait_for(round_, 5)
    assert (counts["claimed"], counts["given_back"]) == (1, 1) and not fake.posts
    r = await db.fetchrow("SELECT status, attempts FROM outbox_messages")
    assert (r["status"], r["attempts"]) == ("QUEUED", 0)
