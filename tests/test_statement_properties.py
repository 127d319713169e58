"""Property test: for random ledgers (orders, payments, adjustments, dispatch, delivery,
cancels, failures, returns), every retailer's statement closes at the account's outstanding less
its advance (docs/decisions.md, "Advances"), its running balance adds up row by row, and a statement from any
day opens where the full one stood the evening before."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.clock import business_date
from bot.credit import Direction, PaymentMode
from bot.orders import OrderAction, OrderLine
from db import ledger
from db.errors import AppError
from db.statements import get_statement
from tests.ledger_support import NOW, TOL, TZ, check_invariants, days, make_product, make_retailer

RETAILERS = 2
START = NOW - days(60)

amounts = st.integers(min_value=1, max_value=20_000_00)
small = st.one_of(st.integers(min_value=1, max_value=100_00), st.integers(1, 8_000_00))
who = st.integers(min_value=0, max_value=RETAILERS - 1)
which = st.integers(0, 20)
operations = st.one_of(
    st.tuples(st.just("order"), who, amounts, st.sampled_from(["CREDIT", "CREDIT", "COD"])),
    st.tuples(st.just("pay"), who, small),
    st.tuples(st.just("adjust"), who, small, st.sampled_from(["DEBIT", "CREDIT"])),
    st.tuples(st.just("move"), which, st.sampled_from(list(OrderAction)[:4])),
    st.tuples(st.just("return"), which, small),
    st.tuples(st.just("wait"), st.integers(1, 20)),
)


async def _order_id(conn: asyncpg.Connection, n: int) -> int | None:
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM orders ORDER BY id")]
    return ids[n % len(ids)] if ids else None


async def _step(
    conn: asyncpg.Connection, op: tuple[Any, ...], rids: list[int], pid: int, now: datetime
) -> None:
    kind = op[0]
    if kind == "order":
        _, i, amount, mode = op
        await ledger.place_order(
            conn, retailer_id=rids[i], lines=[OrderLine(pid, amount)], mode=PaymentMode(mode),
            now=now, tz=TZ, tolerance=TOL, performed_by="prop",
        )  # fmt: skip
    elif kind == "pay":
        await ledger.record_payment(
            conn, retailer_id=rids[op[1]], amount=op[2], performed_by="prop", now=now, tz=TZ
        )
    elif kind == "adjust":
        await ledger.adjust(
            conn, rids[op[1]], direction=Direction(op[3]), amount=op[2], reason="correction",
            performed_by="prop", now=now, tz=TZ,
        )  # fmt: skip
    elif kind == "move":
        oid = await _order_id(conn, op[1])
        if oid is not None:
            await ledger.move_order(
                conn, oid, op[2], reason="prop", performed_by="prop", now=now, tz=TZ
            )
    elif kind == "return":
        oid = await _order_id(conn, op[1])
        if oid is not None:
            await ledger.return_goods(
                conn, oid, amount=op[2], reason="prop", performed_by="prop", now=now, tz=TZ
            )


async def _check_statements(conn: asyncpg.Connection, rids: list[int], now: datetime) -> None:
    today = business_date(now, TZ)
    for rid in rids:
        s = await get_statement(conn, rid, from_date=None, to_date=today)
        assert s.closing_balance == s.outstanding - s.advance, (rid, s)
        balance = s.opening_balance
        for e in s.entries:
            balance += e.debit - e.credit
            assert e.balance == balance
        # A statement from any day opens where the full one stood before that day.
        for cut in {e.day for e in s.entries}:
            part = await get_statement(conn, rid, from_date=cut, to_date=today)
            before = [e for e in s.entries if e.day < cut]
            assert part.opening_balance == (before[-1].balance if before else 0)
            assert part.closing_balance == s.closing_balance


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=16))
async def test_statement_closes_at_outstanding_less_advance(
    db: asyncpg.Pool, table_names: list[str], ops: list[tuple[Any, ...]]
) -> None:
    await db.execute(f"TRUNCATE {', '.join(table_names)} RESTART IDENTITY CASCADE")
    async with db.acquire() as conn:
        rids = [
            await make_retailer(conn, f"+91980000000{i}", limit=60_000_00, now=START)
            for i in range(RETAILERS)
        ]
        pid = await make_product(conn, now=START)
        now = START
        for op in ops:
            if op[0] == "wait":
                now += days(op[1])
                continue
            try:
                await _step(conn, op, rids, pid, now)
                event(f"{op[0]} done")
            except AppError as exc:
                event(f"{op[0]} refused {exc.code}")
            now += timedelta(minutes=1)
            await check_invariants(conn, business_date(now, TZ))
            await _check_statements(conn, rids, now)
