"""Quiet hours (issue 13, item 6): "when may this go" as a table, which kinds wait, and the worker
across the night with an injected clock: a manual `run payment_reminders` at 00:00 IST queues the
reminder, and the sender sends it at 08:00, not before."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import respx

from bot.cli.deps import Deps
from bot.clock import FixedClock
from bot.messages import URGENT, MessageKind
from bot.quiet_hours import QuietHours, may_send_at, parse_quiet_hours, release_at
from bot.settings import SettingsError, load_settings
from db.outbox_queries import list_outbox
from jobs.outbox_sender import deliver_due
from jobs.runner import run_job_as_person
from tests.test_jobs import add_debit, add_retailer
from tests.test_outbox_sender import created, queue, row, twilio, twilio_api  # noqa: F401

IST = ZoneInfo("Asia/Kolkata")
NIGHT = QuietHours(time(21), time(8))  # the default, crossing midnight
NOON = QuietHours(time(13), time(15))  # one that does not


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of March 2026 given on an Indian clock, as the UTC the code works in."""
    return datetime(2026, 3, day, hour, minute, tzinfo=IST).astimezone(UTC)


@pytest.mark.parametrize(
    "text, window",
    [
        ("21:00-08:00", NIGHT),
        (" 9:30 - 7:05 ", QuietHours(time(9, 30), time(7, 5))),
        ("13:00-15:00", NOON),
        ("off", None),
        ("", None),
        ("None", None),
    ],
)
def test_parse(text: str, window: QuietHours | None) -> None:
    assert parse_quiet_hours(text) == window


@pytest.mark.parametrize("text", ["21-08", "25:00-08:00", "21:00-08:60", "21:00-21:00", "night"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quiet_hours(text)


@pytest.mark.parametrize(
    "now, window, goes",
    [
        # The default window crosses midnight.
        (ist(1, 20, 59), NIGHT, ist(1, 20, 59)),  # before it: now
        (ist(1, 21, 0), NIGHT, ist(2, 8, 0)),  # its start is inside
        (ist(1, 23, 30), NIGHT, ist(2, 8, 0)),  # evening: tomorrow morning
        (ist(2, 0, 0), NIGHT, ist(2, 8, 0)),  # midnight: this morning
        (ist(2, 7, 59), NIGHT, ist(2, 8, 0)),
        (ist(2, 8, 0), NIGHT, ist(2, 8, 0)),  # its end is outside
        (ist(2, 12, 0), NIGHT, ist(2, 12, 0)),
        # A window within one day.
        (ist(2, 12, 59), NOON, ist(2, 12, 59)),
        (ist(2, 14, 0), NOON, ist(2, 15, 0)),
        (ist(2, 15, 0), NOON, ist(2, 15, 0)),
        # None configured.
        (ist(2, 2, 0), None, ist(2, 2, 0)),
    ],
)
def test_may_send_at(now: datetime, window: QuietHours | None, goes: datetime) -> None:
    assert may_send_at(now, window, IST) == goes
    # The same instant given in another zone: the business zone decides, never the host's.
    assert may_send_at(now.astimezone(ZoneInfo("America/New_York")), window, IST) == goes


def test_each_kind_is_decided_and_urgent_ones_never_wait() -> None:
    assert set(URGENT) == set(MessageKind)
    waiting = {k for k in MessageKind if not k.urgent}
    assert {
        MessageKind.PAYMENT_REMINDER,
        MessageKind.PENDING_ORDER_FOLLOW_UP,
        MessageKind.INSIGHTS,
    } <= waiting
    assert MessageKind.TEST_MESSAGE not in waiting and MessageKind.ORDER_FAILED not in waiting
    midnight = ist(2, 0, 0)
    for kind in MessageKind:
        expected = midnight if kind.urgent else ist(2, 8, 0)
        assert release_at(kind, midnight, NIGHT, IST) == expected, kind
    assert release_at("a_kind_from_a_newer_version", midnight, NIGHT, IST) == midnight


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUIET_HOURS", raising=False)
    assert load_settings().quiet == NIGHT
    monkeypatch.setenv("QUIET_HOURS", "off")
    assert load_settings().quiet is None
    monkeypatch.setenv("QUIET_HOURS", "21:00-08:00pm")
    with pytest.raises(SettingsError, match="QUIET_HOURS"):
        load_settings()


# --- the worker across the night -------------------------------------------------------------


@pytest.fixture
def night_deps(deps: Deps) -> Deps:
    """The test deps with the default quiet hours (the test settings switch them off)."""
    return dataclasses.replace(
        deps, settings=deps.settings.model_copy(update={"quiet_hours": "21:00-08:00"})
    )


async def test_manual_reminder_run_at_midnight_queues_and_sends_at_eight(
    night_deps: Deps,
    clock: FixedClock,
    twilio: respx.Route,  # noqa: F811
) -> None:
    deps = night_deps
    rid = await add_retailer(deps.pool)
    await deps.pool.execute(  # written in: the 24-hour window is open at 08:00
        "UPDATE retailers SET last_inbound_at = $2 WHERE id = $1", rid, ist(1, 18)
    )
    await add_debit(deps.pool, rid, 18_500_00, date(2026, 2, 14))  # due 1 March: overdue
    twilio.mock(return_value=created())

    clock.current = ist(2, 0, 0)  # 00:00 IST: an operator runs the reminders by hand
    result = await run_job_as_person(deps, "payment_reminders", None)
    assert result.counts["queued"] == 1
    (queued,) = await list_outbox(deps.pool)
    # The outbox says it waits, and until when.
    assert (queued.status, queued.next_attempt_at, queued.quiet_until) == (
        "QUEUED",
        ist(2, 8, 0),
        ist(2, 8, 0),
    )

    for moment in (ist(2, 0, 0), ist(2, 3, 0), ist(2, 7, 59)):
        clock.current = moment
        assert (await deliver_due(deps))["claimed"] == 0
    assert not twilio.called

    clock.current = ist(2, 8, 0)
    counts = await deliver_due(deps)
    assert counts["sent"] == 1 and twilio.call_count == 1
    sent = await row(deps.pool, queued.id)
    assert (sent["status"], sent["sent_at"]) == ("ACCEPTED", ist(2, 8, 0))


async def test_sender_holds_what_falls_due_at_night_and_never_an_urgent_kind(
    night_deps: Deps,
    db: asyncpg.Pool,
    clock: FixedClock,
    twilio: respx.Route,  # noqa: F811
) -> None:
    """A notice queued without a hold (the ledger's pause notice) or a retry falling due at
    night waits too, uncounted; an order failure goes at once."""
    deps = night_deps
    clock.current = ist(1, 23, 0)
    rid = await add_retailer(db)
    await db.execute("UPDATE retailers SET last_inbound_at = $2 WHERE id = $1", rid, ist(1, 22))
    paused = await queue(db, clock.now(), retailer_id=rid, kind="credit_paused")
    failed = await queue(db, clock.now(), retailer_id=rid, kind="order_failed", body="failed")
    twilio.mock(side_effect=[created("SM" + "1" * 32), created("SM" + "2" * 32)])

    counts = await deliver_due(deps)

    assert counts == {"claimed": 2, "quiet": 1, "sent": 1}
    waiting = await row(db, paused)
    assert (waiting["status"], waiting["attempts"]) == ("QUEUED", 0)
    assert waiting["next_attempt_at"] == waiting["quiet_until"] == ist(2, 8, 0)
    assert (await row(db, failed))["status"] == "ACCEPTED"

    clock.current = ist(2, 8, 0) + timedelta(seconds=1)
    assert (await deliver_due(deps))["sent"] == 1
    assert (await row(db, paused))["status"] == "ACCEPTED"
