"""Each migration applies to a database that already holds data from the versions before it.

Migrations go forward only (README, "Rolling a release back"), so each must work on a live
database, not only on an empty one. One database is stepped through the versions: at each, rows
are written into every table that exists then (a retailer, its credit account, products, an order
with its items, ledger rows, a payment, outbox rows, conversations, operators, ...), then the
next migration is applied (`migrate(target=...)`), and every row written so far must still be
there, by its primary key.

Rows are built from the catalogue of the version they are written in: a NOT NULL column without a
default gets a value of its type, unique per row; a foreign key points at the row of the same
batch in the table it references. `SAMPLES` gives the values the table's CHECK constraints need
(statuses, E.164 phones, amounts that add up) and makes the rows realistic. A table the samples
cannot fill fails the test, naming it: a new migration's tables get a line there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from bot.cli.embedded import database_url_for
from db.migrate import load_migrations, migrate
from db.pool import Conn, connect

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 20)

# Tables the migrations fill themselves and keep one row in.
SINGLETONS = frozenset({"schema_migrations", "catalogue_version"})

Value = Any | Callable[[int], Any]

# table -> column -> value (or a function of the batch number); a column the table does not have
# at a version is left out at that version.
SAMPLES: dict[str, dict[str, Value]] = {
    "retailers": {
        "phone": lambda b: f"+9198{b:08d}",
        "name": lambda b: f"Ramesh {b}",
        "shop_name": lambda b: f"Ramesh General Store {b}",
        "language": lambda b: ("en", "hi")[b % 2],
        "vpa": lambda b: f"ramesh{b}@okaxis",
    },
    "credit_accounts": {"credit_limit": 100_000_00, "outstanding": 450_00},
    "product_categories": {"name": lambda b: f"Staples {b}"},
    "products": {
        "sku": lambda b: f"ATTA-{b}",
        "name": lambda b: f"Aashirvaad Atta 10kg ({b})",
        "category": lambda b: f"Staples {b}",
        "price": 450_00,
        "unit": "bag",
    },
    "pending_orders": {
        "cart": [{"sku": "ATTA", "quantity": 1}],
        "total": 450_00,
        "payment_mode": "CREDIT",
        "status": "COMPLETED",
        "expires_at": NOW + timedelta(hours=24),
    },
    "orders": {
        "total": 450_00,
        "payment_mode": "CREDIT",
        "status": "PLACED",
        "due_date": TODAY + timedelta(days=15),
    },
    "order_items": {"unit_price": 450_00, "quantity": 1, "line_total": 450_00},
    "return_items": {"unit_price": 450_00, "quantity": 1, "line_total": 450_00},
    "order_events": {"action": "dispatch", "from_status": "PLACED", "to_status": "DISPATCHED"},
    "credit_transactions": {
        "type": "DEBIT",
        "direction": "DEBIT",
        "amount": 450_00,
        "status": "OPEN",
        "due_date": TODAY + timedelta(days=15),
        "related_transaction_id": None,
        "txn_date": TODAY,
    },
    "conversations": {"phone": lambda b: f"+9198{b:08d}", "stage": "MENU"},
    "inbound_messages": {
        "message_sid": lambda b: f"SM{b:032x}",
        "phone": lambda b: f"+9198{b:08d}",
        "body": "hi",
        "payload": {"Body": "hi"},
    },
    "outbox_messages": {
        "to_phone": lambda b: f"+9198{b:08d}",
        "kind": "payment_reminder",
        "template": "payment_reminder",
        "body": "Namaste, ₹450 is due on 5 Dec.",
        "status": "QUEUED",
        "twilio_sid": None,
        "retry_of": None,
    },
    "early_status_callbacks": {
        "message_sid": lambda b: f"SM{b + 1000:032x}",
        "status": "DELIVERED",
    },
    "audit_log": {"action": "PAUSED", "performed_by": "api", "new_value": {"status": "PAUSED"}},
    "retailer_insights": {"as_of": TODAY, "data": {"top": []}},
    "job_runs": {"job": "payment_reminders", "as_of": TODAY, "counts": {"queued": 1}},
    "operators": {
        "name": lambda b: f"Asha {b}",
        "name_key": lambda b: f"asha {b}",
        "role": "manager",
        "phone": lambda b: f"+9197{b:08d}",
    },
    "operator_tokens": {"token_hash": lambda b: b.to_bytes(32, "big")},
    "operator_sessions": {
        "session_hash": lambda b: b.to_bytes(32, "big"),
        "expires_at": NOW + timedelta(hours=8),
    },
    "payment_links": {"provider": "razorpay", "amount": 450_00, "status": "CREATING"},
    "gateway_events": {"provider": "razorpay", "outcome": "recorded", "payload": {}},
    "bank_imports": {"layout": "generic", "imported_by": "api"},
    "received_payments": {
        "source": "bank",
        "amount": 450_00,
        "status": "RECORDED",
        "matched_by": "utr",
        "recorded_amount": 450_00,
        "reference": lambda b: f"UTR{b:012d}",
        "payment_transaction_id": None,  # (the batch's ledger row is a debit)
        "duplicate_of": None,
    },
    "gateway_refunds": {"amount": 100_00, "status": "processed"},
    "idempotency_keys": {"status_code": 200, "response": {"ok": True}},
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    has_default: bool


async def tables(conn: Conn) -> dict[str, list[Column]]:
    rows = await conn.fetch(
        """SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                  a.attnotnull AS not_null,
                  (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY c.relname, a.attnum"""
    )
    out: dict[str, list[Column]] = {}
    for r in rows:
        out.setdefault(r["table"], []).append(
            Column(r["name"], r["type"], r["not_null"], r["has_default"])
        )
    return out


async def foreign_keys(conn: Conn) -> dict[str, dict[str, tuple[str, str]]]:
    """table -> column -> (referenced table, referenced column), single-column keys."""
    rows = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS table, a.attname AS column,
                  c.confrelid::regclass::text AS ref_table, ra.attname AS ref_column
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
           WHERE c.contype = 'f' AND cardinality(c.conkey) = 1"""
    )
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["table"], {})[r["column"]] = (r["ref_table"], r["ref_column"])
    return out


async def primary_keys(conn: Conn) -> dict[str, list[str]]:
    rows = await conn.fetch(
        """SELECT i.indrelid::regclass::text AS table, a.attname AS column
           FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)"""
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["table"], []).append(r["column"])
    return out


def of_type(column: Column, batch: int, table: str) -> Any:
    """A value of the column's type, unique per batch and table."""
    t = column.type
    if t.endswith("[]"):
        return []
    if t in ("bigint", "integer", "smallint"):
        return batch + 1
    if t.startswith("numeric"):
        return Decimal(batch + 1)
    if t == "boolean":
        return False
    if t.startswith("timestamp"):
        return NOW + timedelta(minutes=batch)
    if t == "date":
        return TODAY
    if t in ("json", "jsonb"):
        return {}
    if t == "bytea":
        return batch.to_bytes(32, "big")
    if t == "uuid":
        return uuid.uuid4()
    return f"{table}-{column.name}-{batch}"


def order_by_dependencies(
    names: list[str], fks: dict[str, dict[str, tuple[str, str]]]
) -> list[str]:
    done: list[str] = []
    pending = sorted(names)
    while pending:
        ready = [
            t
            for t in pending
            if all(
                ref == t or ref in done or ref not in names for ref, _ in fks.get(t, {}).values()
            )
        ]
        assert ready, f"foreign keys in a cycle among {pending}"
        done.extend(ready)
        pending = [t for t in pending if t not in ready]
    return done


async def write_batch(conn: Conn, batch: int) -> dict[str, list[tuple[Any, ...]]]:
    """One row in every table (but the singletons); their primary keys by table."""
    schema = await tables(conn)
    fks = await foreign_keys(conn)
    pks = await primary_keys(conn)
    names = [t for t in schema if t not in SINGLETONS]
    written: dict[str, dict[str, Any]] = {}  # table -> the row written (with defaults read back)
    keys: dict[str, list[tuple[Any, ...]]] = {}
    for table in order_by_dependencies(names, fks):
        sample = SAMPLES.get(table, {})
        row: dict[str, Any] = {}
        for column in schema[table]:
            refs = fks.get(table, {})
            if column.name in sample:
                value = sample[column.name]
                row[column.name] = value(batch) if callable(value) else value
            elif column.name in refs and refs[column.name][0] != table:
                ref_table, ref_column = refs[column.name]
                if ref_table in written:
                    row[column.name] = written[ref_table][ref_column]
                elif column.not_null:
                    raise AssertionError(f"{table}.{column.name}: no {ref_table} row to point at")
            elif column.not_null and not column.has_default:
                row[column.name] = of_type(column, batch, table)
        columns = list(row)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))}) RETURNING *"
        )
        try:
            record = await conn.fetchrow(sql, *row.values())
        except asyncpg.PostgresError as exc:
            raise AssertionError(
                f"cannot write a sample row into {table} (batch {batch}): {exc}; "
                f"give its columns values in SAMPLES"
            ) from exc
        assert record is not None
        written[table] = dict(record)
        keys[table] = [tuple(record[c] for c in pks[table])]
    return keys


async def missing(conn: Conn, keys: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    pks = await primary_keys(conn)
    gone = []
    for table, rows in keys.items():
        columns = pks[table]
        where = " AND ".join(f"{c} = ${i + 1}" for i, c in enumerate(columns))
        for key in rows:
            if not await conn.fetchval(
                f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {where})", *key
            ):
                gone.append(f"{table} {key}")
    return gone


async def test_each_migration_applies_to_data_of_the_version_before(
    database_server_url: str,
) -> None:
    migrations = load_migrations()
    admin = await asyncpg.connect(database_server_url)
    name = f"kirana_migrate_data_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await connect(database_url_for(database_server_url, name))
        try:
            assert await migrate(conn, target=migrations[0].version) == [migrations[0].name]
            kept: dict[str, list[tuple[Any, ...]]] = {}
            for batch, migration in enumerate(migrations[1:], start=1):
                for table, rows in (await write_batch(conn, batch)).items():
                    kept.setdefault(table, []).extend(rows)
                applied = await migrate(conn, target=migration.version)
                assert applied == [migration.name]
                assert await missing(conn, kept) == [], f"rows lost by {migration.name}"
            # The newest schema takes the samples too (a new table without them fails here).
            last = await write_batch(conn, len(migrations))
            assert set(last) == set(await tables(conn)) - SINGLETONS
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
