"""Property test: random sequences of orders, payments (some kept as advance), adjustments,
failures, pauses, overrides and blocks keep the ledger exact. After every step: outstanding = sum
of open unpaid parts = sum of the aging buckets (SQL and pure agree), debits less credits =
outstanding less advance, nothing negative, every ledger row and change has its audit entry, and
no account is left SYSTEM-paused by a payment or credit that paid its overdue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.clock import business_date
from bot.credit import Direction, PaymentMode, UnpaidDebit, age_debits
from bot.orders import OrderLine
from db import ledger
from db.credit_queries import get_risk_dashboard
from db.errors import AppError
from db.fragments import overdue_unpaid
from tests.ledger_support import NOW, TOL, TZ, check_invariants, days, make_product, make_retailer

RETAILERS = 2
START = NOW - days(150)

amounts = st.integers(min_value=1, max_value=30_000_00)
# Payments and credits smaller than orders, so most of them fit what is owed.
small = st.one_of(st.integers(min_value=1, max_value=100_00), st.integers(1, 8_000_00))
who = st.integers(min_value=0, max_value=RETAILERS - 1)
operations = st.one_of(
    st.tuples(st.just("order"), who, amounts, st.sampled_from(["CREDIT", "CREDIT", "COD"])),
    st.tuples(st.just("pay"), who, small, st.booleans()),
    # issue 12: a payment kept as advance when above what is owed
    st.tuples(st.just("pay_advance"), who, small),
    st.tuples(st.just("pay_named"), st.integers(0, 20), small),
    st.tuples(
        st.just("adjust"),
        who,
        small,
        st.sampled_from(["DEBIT", "CREDIT"]),
        st.sampled_from(["return", "dispute", "discount", "correction"]),
    ),
    st.tuples(st.just("fail"), st.integers(0, 20)),
    st.tuples(st.just("pause"), who),
    st.tuples(st.just("unpause"), who),
    # issue 11: an override of the overdue rule, a block and its lifting
    st.tuples(st.just("override"), who, st.integers(0, 30)),
    st.tuples(st.just("block"), who),
    st.tuples(st.just("unblock"), who),
    st.tuples(st.just("evaluate")),
    st.tuples(st.just("wait"), st.integers(1, 40)),
)


async def _counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM audit_log) AS audit,
                  (SELECT count(*) FROM credit_transactions) AS txns,
                  (SELECT coalesce(sum(outstanding), 0) FROM credit_accounts) AS outstanding"""
    )
    return row["audit"], row["txns"], row["outstanding"]


async def _step(conn: asyncpg.Connection, op: tuple[Any, ...], rids: list[int], pid: int,
                now: datetime) -> None:  # fmt: skip
    kind = op[0]
    if kind == "order":
        _, i, amount, mode = op
        await ledger.place_order(
            conn, retailer_id=rids[i], lines=[OrderLine(pid, amount)], mode=PaymentMode(mode),
            now=now, tz=TZ, tolerance=TOL, performed_by="prop",
        )  # fmt: skip
    elif kind == "pay":
        _, i, amount, with_ref = op
        await ledger.record_payment(
            conn, retailer_id=rids[i], amount=amount, performed_by="prop", now=now, tz=TZ,
            reference=f"R{amount % 7}" if with_ref else None,
        )  # fmt: skip
    elif kind == "pay_advance":
        _, i, amount = op
        await ledger.record_payment(
            conn, retailer_id=rids[i], amount=amount, performed_by="prop", now=now, tz=TZ,
            as_advance=True, tolerance=TOL,
        )  # fmt: skip
    elif kind == "override":
        _, i, ahead = op
        await ledger.unpause_credit(
            conn, rids[i], performed_by="prop", now=now, tz=TZ, tolerance=TOL,
            override_until=business_date(now, TZ) + timedelta(days=ahead),
        )  # fmt: skip
    elif kind == "block":
        await ledger.block_credit(
            conn, rids[op[1]], reason="prop", performed_by="prop", now=now, support_phone=None
        )
    elif kind == "unblock":
        await ledger.unblock_credit(
            conn, rids[op[1]], performed_by="prop", now=now, tz=TZ, tolerance=TOL
        )
    elif kind == "pay_named":
        _, n, amount = op
        ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM credit_transactions WHERE direction = 'DEBIT' ORDER BY id"
        )]  # fmt: skip
        if ids:
            await ledger.record_payment(
                conn, transaction_id=ids[n % len(ids)], amount=amount, performed_by="prop",
                now=now, tz=TZ,
            )  # fmt: skip
    elif kind == "adjust":
        _, i, amount, direction, reason = op
        await ledger.adjust(
            conn, rids[i], direction=Direction(direction), amount=amount, reason=reason,
            performed_by="prop", now=now, tz=TZ,
        )  # fmt: skip
    elif kind == "fail":
        orders = [r["id"] for r in await conn.fetch("SELECT id FROM orders ORDER BY id")]
        if orders:
            await ledger.fail_order(
                conn, orders[op[1] % len(orders)], reason="prop", performed_by="prop", now=now,
                tz=TZ,
            )  # fmt: skip
    elif kind == "pause":
        await ledger.pause_credit(conn, rids[op[1]], reason="prop", performed_by="prop", now=now)
    elif kind == "unpause":
        await ledger.unpause_credit(
            conn, rids[op[1]], performed_by="prop", now=now, tz=TZ, tolerance=TOL
        )
    elif kind == "evaluate":
        await ledger.apply_guardrails(conn, today=business_date(now, TZ), now=now, tolerance=TOL)


def kind_of(op: tuple[Any, ...]) -> str:
    return str(op[0])


async def _no_stale_system_pause(conn: asyncpg.Connection, rid: int, today: Any) -> None:
    stale = await conn.fetchval(
        f"""SELECT count(*) FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
            WHERE r.id = $3 AND r.credit_status = 'PAUSED' AND r.paused_by = 'SYSTEM'
              AND {overdue_unpaid("$1")} < $2""",
        today,
        TOL,
        rid,
    )
    assert stale == 0, rid


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=18))
async def test_random_ledger_sequences_keep_totals_exact(
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
            before = await _counts(conn)
            try:
                await _step(conn, op, rids, pid, now)
                event(f"{op[0]} done")
            except AppError as exc:
                # a refusal changes nothing
                event(f"{op[0]} refused {exc.code}")
                assert await _counts(conn) == before
            after = await _counts(conn)
            # every new ledger row came with at least one new audit entry
            assert after[0] - before[0] >= (1 if after[1] > before[1] else 0)
            if after[2] != before[2]:
                assert after[0] > before[0], f"{op} changed the outstanding without an audit entry"

            today = business_date(now, TZ)
            await check_invariants(conn, today)
            # A credit that pays the overdue lifts a SYSTEM pause at once (issue 11), so no
            # SYSTEM-paused account is left with nothing stopping it after a payment or credit.
            if kind_of(op) in ("pay", "pay_advance", "adjust"):
                await _no_stale_system_pause(conn, rids[op[1]], today)
            rows = await conn.fetch(
                """SELECT retailer_id, due_date, amount - cleared_amount AS unpaid
                   FROM credit_transactions
                   WHERE status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT'"""
            )
            pure = age_debits((UnpaidDebit(**dict(r)) for r in rows), today)
            sql = (await get_risk_dashboard(conn, today)).buckets
            assert sql == pure
            assert sum(b.amount for b in pure.values()) == after[2]
