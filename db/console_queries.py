"""Reads the admin console needs beyond the credit views: retailer search, the orders board, a
retailer's messages, job runs.

Lists are keyset-paged (`after` / `before` an id, never OFFSET), so page 500 costs what page 1
does. The retailer search reads the trigram index over name, shop and phone and walks
`retailers_name_id_idx` in name order (migration 0013; figures in docs/console.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from bot.credit import CreditStatus
from bot.text import is_digits
from db.pool import Conn

PAGE_SIZE = 50
MAX_QUERY = 100

# --- retailers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetailerRow:
    id: int
    name: str
    shop_name: str
    phone: str
    status: CreditStatus
    credit_limit: int
    outstanding: int

    @property
    def available(self) -> int:
        return max(0, self.credit_limit - self.outstanding)


@dataclass(frozen=True)
class RetailerPage:
    rows: tuple[RetailerRow, ...]
    next_after: int | None  # the id to continue after, None on the last page


_PHONEISH = re.compile(r"^[+\d][\d\s\-]*$")


def search_pattern(query: str) -> tuple[str, int | None]:
    """The ILIKE pattern a typed query becomes, and the retailer id it may also be.

    A number typed with spaces or dashes ("98123 45678") is searched as its digits, as phones are
    stored; `%`, `_` and `\\` are matched literally.
    """
    text = " ".join(query.split())[:MAX_QUERY]
    maybe_id = int(text) if is_digits(text) and len(text) <= 9 else None
    if _PHONEISH.match(text):
        text = re.sub(r"[\s\-]", "", text)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%", maybe_id


_SEARCH_TEXT = "(r.name || ' ' || r.shop_name || ' ' || r.phone)"


def search_statement(
    query: str = "",
    *,
    status: CreditStatus | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[str, list[Any]]:
    """The statement `search_retailers` sends, and its arguments (`limit + 1` rows, to know
    whether there is a next page). Built per filter rather than with `$n IS NULL OR ...`, so each
    shape gets a plan that uses its index."""
    where: list[str] = []
    args: list[Any] = []
    if query.strip():
        pattern, maybe_id = search_pattern(query)
        args.append(pattern)
        match = f"{_SEARCH_TEXT} ILIKE ${len(args)}"
        if maybe_id is not None:
            args.append(maybe_id)
            match = f"({match} OR r.id = ${len(args)})"
        where.append(match)
    if status is not None:
        args.append(status.value)
        where.append(f"r.credit_status = ${len(args)}")
    if after is not None:
        args.append(after)
        n = len(args)
        where.append(f"(r.name, r.id) > (SELECT name, id FROM retailers WHERE id = ${n})")
    args.append(limit + 1)
    sql = f"""
        SELECT r.id, r.name, r.shop_name, r.phone, r.credit_status, ca.credit_limit,
               ca.outstanding
        FROM retailers r JOIN credit_accounts ca ON ca.retailer_id = r.id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY r.name, r.id
        LIMIT ${len(args)}
    """
    return sql, args


async def search_retailers(
    conn: Conn,
    query: str = "",
    *,
    status: CreditStatus | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> RetailerPage:
    """Retailers whose name, shop or number contains `query` (any case), or whose id it is, in
    name order; `after` is the last id of the previous page."""
    sql, args = search_statement(query, status=status, after=after, limit=limit)
    rows = await conn.fetch(sql, *args)
    page = [_retailer_row(r) for r in rows[:limit]]
    return RetailerPage(tuple(page), page[-1].id if len(rows) > limit else None)


def _retailer_row(r: asyncpg.Record) -> RetailerRow:
    return RetailerRow(
        id=r["id"],
        name=r["name"],
        shop_name=r["shop_name"],
        phone=r["phone"],
        status=CreditStatus(r["credit_status"]),
        credit_limit=r["credit_limit"],
        outstanding=r["outstanding"],
    )


# --- orders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardOrder:
    id: int
    retailer_id: int
    retailer_name: str
    shop_name: str
    total: int
    payment_mode: str
    status: str
    due_date: date | None
    created_at: datetime
    items: int


@dataclass(frozen=True)
class OrdersPage:
    rows: tuple[BoardOrder, ...]
    next_before: int | None


async def get_orders_board(
    conn: Conn,
    *,
    status: str | None = None,
    retailer_id: int | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> OrdersPage:
    """Orders, newest first, optionally of one status or one retailer; `before` (the last id
    of the previous page) pages on. The walk (created_at, id) is the order desk's indexes'."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("o.status", status), ("o.retailer_id", retailer_id)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if before is not None:
        args.append(before)
        n = len(args)
        where.append(f"(o.created_at, o.id) < (SELECT created_at, id FROM orders WHERE id = ${n})")
    args.append(limit + 1)
    rows = await conn.fetch(
        f"""SELECT o.id, o.retailer_id, r.name AS retailer_name, r.shop_name, o.total,
                   o.payment_mode, o.status, o.due_date, o.created_at,
                   (SELECT count(*) FROM order_items i WHERE i.order_id = o.id) AS items
            FROM orders o JOIN retailers r ON r.id = o.retailer_id
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY o.created_at DESC, o.id DESC LIMIT ${len(args)}""",
        *args,
    )
    page = [BoardOrder(**dict(r)) for r in rows[:limit]]
    return OrdersPage(tuple(page), page[-1].id if len(rows) > limit else None)


async def count_orders(conn: Conn, statuses: tuple[str, ...]) -> dict[str, int]:
    """How many orders are in each of `statuses` (meant for the open ones, which are few)."""
    rows = await conn.fetch(
        """SELECT s AS status, (SELECT count(*) FROM orders WHERE status = s) AS n
           FROM unnest($1::text[]) s""",
        list(statuses),
    )
    return {r["status"]: r["n"] for r in rows}


# --- messages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageRow:
    id: int
    kind: str
    status: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    error_code: str | None


async def get_retailer_messages(conn: Conn, retailer_id: int, limit: int = 20) -> list[MessageRow]:
    """The messages the business sent a retailer (the outbox), newest first, with their delivery
    status."""
    rows = await conn.fetch(
        """SELECT id, kind, status, left(body, 200) AS body, created_at, sent_at, error_code
           FROM outbox_messages WHERE retailer_id = $1
           ORDER BY created_at DESC, id DESC LIMIT $2""",
        retailer_id,
        limit,
    )
    return [MessageRow(**dict(r)) for r in rows]


# --- job runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRunRow:
    id: int
    job: str
    scheduled_for: datetime
    as_of: date
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    error: str | None
    attempts: int


_JOB_COLUMNS = "id, job, scheduled_for, as_of, started_at, finished_at, counts, error, attempts"


async def get_last_job_runs(conn: Conn) -> dict[str, JobRunRow]:
    """The latest run of each job that has run."""
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (job) {_JOB_COLUMNS} FROM job_runs ORDER BY job, started_at DESC, id DESC"
    )
    return {r["job"]: JobRunRow(**dict(r)) for r in rows}


async def get_job_runs(conn: Conn, limit: int = 50) -> list[JobRunRow]:
    rows = await conn.fetch(
        f"SELECT {_JOB_COLUMNS} FROM job_runs ORDER BY started_at DESC, id DESC LIMIT $1", limit
    )
    return [JobRunRow(**dict(r)) for r in rows]
