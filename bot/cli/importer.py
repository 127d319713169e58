"""CSV import of retailers and products (`python -m bot import retailers|products FILE.csv`).

Every row is validated first and every error reported with its line number; only a file with no
errors is written, in one transaction (all or nothing). Amounts are rupees, as in the admin API.

retailers: phone, name, shop_name?, language?, credit_limit, max_order_value?,
           max_outstanding_days?, payment_terms_days?
products:  sku, name, category, price, unit?
(camelCase headers such as `shopName` and `creditLimit` work too.)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from bot.money import InvalidAmount, parse_rupees
from bot.text import has_nul, is_digits
from db.errors import AppError
from db.onboarding import (
    NewProduct,
    NewRetailer,
    create_product,
    create_retailer,
    validate_product,
    validate_retailer,
)
from db.pool import Conn

KINDS = ("retailers", "products")
MAX_ROWS = 100_000
PERFORMED_BY = "import"

RETAILER_COLUMNS = {"phone", "name", "credit_limit"}
PRODUCT_COLUMNS = {"sku", "name", "category", "price"}

T = TypeVar("T")


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Parsed(Generic[T]):
    rows: list[tuple[int, T]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.strip()).lower().replace(" ", "_")


class _RowProblem(ValueError):
    pass


def _rows(text: str, required: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise _RowProblem("line 1: the file is empty") from None
    names = [_snake(h) for h in header]
    missing = sorted(required - set(names))
    if missing:
        raise _RowProblem(f"line 1: missing column(s): {', '.join(missing)}")
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(names):
            yield reader.line_num, {"__error__": f"expected {len(names)} fields, got {len(values)}"}
            continue
        if has_nul(values):
            yield (
                reader.line_num,
                {"__error__": "a field holds a NUL character (is it a text file?)"},
            )
            continue
        yield reader.line_num, {n: v.strip() for n, v in zip(names, values, strict=True)}


def _rupees(row: dict[str, str], name: str, *, allow_zero: bool = False) -> int:
    try:
        return parse_rupees(row.get(name, ""), allow_zero=allow_zero)
    except InvalidAmount as exc:
        raise _RowProblem(f"{name}: {exc}") from None


def _whole(row: dict[str, str], name: str) -> int | None:
    value = row.get(name, "")
    if not value:
        return None
    if not is_digits(value) or len(value) > 4:
        raise _RowProblem(f"{name}: {value!r} is not a whole number of days")
    return int(value)


def _retailer(row: dict[str, str]) -> NewRetailer:
    optional: dict[str, Any] = {}
    if row.get("max_order_value"):
        optional["max_order_value"] = _rupees(row, "max_order_value")
    for name in ("max_outstanding_days", "payment_terms_days"):
        days = _whole(row, name)
        if days is not None:
            optional[name] = days
    return validate_retailer(
        NewRetailer(
            phone=row["phone"],
            name=row["name"],
            shop_name=row.get("shop_name", ""),
            language=row.get("language") or "en",
            credit_limit=_rupees(row, "credit_limit", allow_zero=True),
            **optional,
        )
    )


def _product(row: dict[str, str]) -> NewProduct:
    return validate_product(
        NewProduct(
            sku=row["sku"],
            name=row["name"],
            category=row["category"],
            price=_rupees(row, "price"),
            unit=row.get("unit") or "pc",
        )
    )


def _parse(
    text: str, required: set[str], build: Callable[[dict[str, str]], T], key: Callable[[T], str]
) -> Parsed[T]:
    parsed: Parsed[T] = Parsed()
    seen: dict[str, int] = {}
    try:
        for line, row in _rows(text, required):
            if len(parsed.rows) + len(parsed.errors) >= MAX_ROWS:
                parsed.errors.append(RowError(line, f"more than {MAX_ROWS} rows"))
                break
            if "__error__" in row:
                parsed.errors.append(RowError(line, row["__error__"]))
                continue
            try:
                item = build(row)
            except _RowProblem as exc:
                parsed.errors.append(RowError(line, str(exc)))
                continue
            except AppError as exc:
                parsed.errors.append(RowError(line, exc.message))
                continue
            k = key(item)
            if k in seen:
                parsed.errors.append(RowError(line, f"{k} repeats line {seen[k]}"))
                continue
            seen[k] = line
            parsed.rows.append((line, item))
    except _RowProblem as exc:
        parsed.errors.append(RowError(1, str(exc).removeprefix("line 1: ")))
    except csv.Error as exc:
        parsed.errors.append(RowError(0, f"not a readable CSV file: {exc}"))
    return parsed


def parse_retailers(text: str) -> Parsed[NewRetailer]:
    """Validate every row of a retailers CSV; phones come out in E.164."""
    return _parse(text, RETAILER_COLUMNS, _retailer, lambda r: r.phone)


def parse_products(text: str) -> Parsed[NewProduct]:
    """Validate every row of a products CSV."""
    return _parse(text, PRODUCT_COLUMNS, _product, lambda p: p.sku)


@dataclass(frozen=True)
class ImportResult:
    kind: str
    imported: int
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Abort(Exception):
    def __init__(self, error: RowError) -> None:
        self.error = error


async def _write_all(
    conn: Conn, rows: list[tuple[int, T]], write: Callable[[T], Awaitable[object]]
) -> RowError | None:
    """Write every row in one transaction; on a refusal (a phone or SKU taken meanwhile) keep
    nothing and say which line."""
    try:
        async with conn.transaction():
            for line, item in rows:
                try:
                    await write(item)
                except AppError as exc:
                    raise _Abort(RowError(line, exc.message)) from None
    except _Abort as abort:
        return abort.error
    return None


async def _import(
    conn: Conn,
    kind: str,
    parsed: Parsed[T],
    *,
    key: Callable[[T], str],
    taken_sql: str,
    taken_error: Callable[[str], str],
    write: Callable[[T], Awaitable[object]],
) -> ImportResult:
    """Report the parse errors and every row whose `key` is already in the database
    (`taken_sql` selects those among `$1`; `taken_error` words the error), or write all rows."""
    errors = list(parsed.errors)
    if parsed.rows:
        keys = [key(item) for _, item in parsed.rows]
        taken = {r[0] for r in await conn.fetch(taken_sql, keys)}
        errors += [
            RowError(line, taken_error(key(item)))
            for line, item in parsed.rows
            if key(item) in taken
        ]
    if errors:
        return ImportResult(kind, 0, tuple(sorted(errors, key=lambda e: e.line)))
    failed = await _write_all(conn, parsed.rows, write)
    if failed:
        return ImportResult(kind, 0, (failed,))
    return ImportResult(kind, len(parsed.rows), ())


async def import_csv(conn: Conn, kind: str, text: str, *, now: datetime) -> ImportResult:
    """Validate the whole file, then write it in one transaction, or nothing when any row is bad
    (including a phone or SKU that is already in the database)."""
    if kind == "retailers":
        return await _import(
            conn,
            kind,
            parse_retailers(text),
            key=lambda r: r.phone,
            taken_sql="SELECT phone FROM retailers WHERE phone = any($1::text[])",
            taken_error=lambda phone: f"phone {phone} is already registered",
            write=lambda r: create_retailer(conn, r, performed_by=PERFORMED_BY, now=now),
        )
    if kind == "products":
        return await _import(
            conn,
            kind,
            parse_products(text),
            key=lambda p: p.sku,
            taken_sql="SELECT sku FROM products WHERE sku = any($1::text[])",
            taken_error=lambda sku: f"SKU {sku} already exists",
            write=lambda p: create_product(conn, p, now=now),
        )
    raise ValueError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
