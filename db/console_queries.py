"""Reads the admin console needs beyond those the admin API has (its lists of retailers,
orders, checkouts and products are the API's own functions): the open orders' counts, a
retailer's messages, job runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from db.pool import Conn

# --- orders --------------------------------------------------------------------------------------


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
