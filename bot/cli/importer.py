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
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from bot.credit import MAX_DAYS
from bot.money import InvalidAmount, parse_rupees
from bot.phone import InvalidPhone, normalize_phone
from bot.text import has_nul, is_digits, norm_key
from db.errors import AppError
from db.onboarding import (
    DEFAULT_MAX_ORDER_VALUE,
    NewProduct,
    NewRetailer,
    check_product,
    check_retailer,
    create_product,
    create_retailer,
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
    # (line, key) of every line whose key could be read, good or not: a key already in the
    # database is one more problem of its line.
    keys: list[tuple[int, str]] = field(default_factory=list)


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


def _rupees(
    row: dict[str, str], name: str, problems: list[str], *, allow_zero: bool = False
) -> int | None:
    try:
        return parse_rupees(row.get(name, ""), allow_zero=allow_zero)
    except InvalidAmount as exc:
        problems.append(f"{name}: {exc}")
        return None


def _whole(row: dict[str, str], name: str, problems: list[str]) -> int | None:
    value = row.get(name, "")
    if not value:
        return None
    if not is_digits(value) or len(value) > 4:
        problems.append(f"{name}: {value!r} is not a whole number of days")
        return None
    return int(value)


# A field that could not be read is checked no further: it stands in with a value that passes
# every check, so its one problem is reported once and never as a second, made-up one.
_PASSING: dict[str, int] = {
    "credit_limit": 0,
    "max_order_value": DEFAULT_MAX_ORDER_VALUE,
    "max_outstanding_days": MAX_DAYS,
    "payment_terms_days": 1,
    "price": 1,
}


def _retailer(
    row: dict[str, str], admin_numbers: Collection[str]
) -> tuple[NewRetailer, list[str], str]:
    problems: list[str] = []
    limit = _rupees(row, "credit_limit", problems, allow_zero=True)
    optional: dict[str, Any] = {}
    if row.get("max_order_value"):
        value = _rupees(row, "max_order_value", problems)
        optional["max_order_value"] = _PASSING["max_order_value"] if value is None else value
    for name in ("max_outstanding_days", "payment_terms_days"):
        days = _whole(row, name, problems)
        if days is not None or row.get(name):
            optional[name] = _PASSING[name] if days is None else days
    checked, errors = check_retailer(
        NewRetailer(
            phone=row["phone"],
            name=row["name"],
            shop_name=row.get("shop_name", ""),
            language=row.get("language") or "en",
            credit_limit=_PASSING["credit_limit"] if limit is None else limit,
            **optional,
        ),
        admin_numbers=admin_numbers,
    )
    try:
        key: str = normalize_phone(row["phone"])
    except InvalidPhone:
        key = ""
    return checked, [e.message for e in errors] + problems, key


def _product(row: dict[str, str]) -> tuple[NewProduct, list[str], str]:
    problems: list[str] = []
    price = _rupees(row, "price", problems)
    checked, errors = check_product(
        NewProduct(
            sku=row["sku"],
            name=row["name"],
            category=row["category"],
            price=_PASSING["price"] if price is None else price,
            unit=row.get("unit") or "pc",
        )
    )
    return checked, [e.message for e in errors] + problems, checked.sku


def _parse(
    text: str,
    required: set[str],
    build: Callable[[dict[str, str]], tuple[T, list[str], str]],
) -> Parsed[T]:
    """Every problem of every line: a line is written only when it has none. `build` gives the
    item, its problems and its key (what must be unique: a phone, a SKU; empty when unreadable),
    compared as `norm_key` spells it."""
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
            item, problems, k = build(row)
            if k:
                parsed.keys.append((line, k))
                first = seen.setdefault(norm_key(k), line)
                if first != line:
                    problems.append(f"{k} repeats line {first}")
            if problems:
                parsed.errors.extend(RowError(line, p) for p in problems)
            else:
                parsed.rows.append((line, item))
    except _RowProblem as exc:
        parsed.errors.append(RowError(1, str(exc).removeprefix("line 1: ")))
    except csv.Error as exc:
        parsed.errors.append(RowError(0, f"not a readable CSV file: {exc}"))
    return parsed


def parse_retailers(text: str, *, admin_numbers: Collection[str] = ()) -> Parsed[NewRetailer]:
    """Validate every row of a retailers CSV; phones come out in E.164. A phone among
    `admin_numbers` (the configured ADMIN_NUMBERS) is a line error."""
    return _parse(text, RETAILER_COLUMNS, lambda row: _retailer(row, admin_numbers))


def parse_products(text: str) -> Parsed[NewProduct]:
    """Validate every row of a products CSV."""
    return _parse(text, PRODUCT_COLUMNS, _product)


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
    taken_sql: str,
    taken_error: Callable[[str, str], str],
    write: Callable[[T], Awaitable[object]],
) -> ImportResult:
    """Report the parse errors and every line whose key is already in the database (`taken_sql`
    selects `(key, the database's spelling)` among `$1`; `taken_error` words it), or write all."""
    errors = list(parsed.errors)
    if parsed.keys:
        taken = dict((r[0], r[1]) for r in await conn.fetch(taken_sql, [k for _, k in parsed.keys]))
        errors += [
            RowError(line, taken_error(k, taken[k])) for line, k in parsed.keys if k in taken
        ]
    if errors:
        # Stable: a line's problems stay in the order found.
        return ImportResult(kind, 0, tuple(sorted(errors, key=lambda e: e.line)))
    failed = await _write_all(conn, parsed.rows, write)
    if failed:
        return ImportResult(kind, 0, (failed,))
    return ImportResult(kind, len(parsed.rows), ())


async def import_csv(
    conn: Conn, kind: str, text: str, *, now: datetime, admin_numbers: Collection[str] = ()
) -> ImportResult:
    """Validate the whole file, then write it in one transaction, or nothing when any row is bad
    (including a phone or SKU that is already in the database, in any case or spacing, and a
    phone among `admin_numbers`: pass the configured ADMIN_NUMBERS)."""
    if kind == "retailers":
        return await _import(
            conn,
            kind,
            parse_retailers(text, admin_numbers=admin_numbers),
            taken_sql="""SELECT phone, phone FROM retailers WHERE phone = any($1::text[])""",
            taken_error=lambda phone, _: f"phone {phone} is already registered",
            write=lambda r: create_retailer(
                conn, r, performed_by=PERFORMED_BY, now=now, admin_numbers=admin_numbers
            ),
        )
    if kind == "products":
        return await _import(
            conn,
            kind,
            parse_products(text),
            taken_sql="""SELECT x.sku, p.sku FROM unnest($1::text[]) AS x (sku)
                         JOIN products p ON norm_key(p.sku) = norm_key(x.sku)""",
            taken_error=lambda sku, existing: (
                f"SKU {sku} already exists" + ("" if existing == sku else f" (as {existing})")
            ),
            write=lambda p: create_product(conn, p, now=now),
        )
    raise ValueError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
