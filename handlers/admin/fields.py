"""Reading an admin request: body fields, query and path parameters, the retailer it names.

Each reader answers a clear 4xx naming the field (`Unprocessable` 422, `NotFound` 404) and never
lets a hostile value through to `int()` or a query: amounts go through `parse_rupees`, whole
numbers and ids are bounded ASCII digits, text is bounded by `bot.limits`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from bot.cli.deps import Deps
from bot.clock import as_of_problem, business_date
from bot.limits import max_length
from bot.money import InvalidAmount, parse_rupees
from bot.text import is_digits
from db import ledger
from db.errors import NotFound, Unprocessable, retailer_not_found
from db.pool import Conn
from handlers.errors import read_json

MAX_LIST = 500


async def read_optional_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or `{}` for an empty body."""
    if not (await request.body()).strip():
        return {}
    return await read_json(request)


def amount(body: dict[str, Any], field: str, *, allow_zero: bool = False) -> int:
    """A required amount in rupees, as paise."""
    if field not in body:
        raise Unprocessable("INVALID_AMOUNT", f"{field} is required")
    try:
        return parse_rupees(body[field], allow_zero=allow_zero)
    except InvalidAmount as exc:
        raise Unprocessable("INVALID_AMOUNT", f"{field}: {exc}") from None


def optional_amount(body: dict[str, Any], field: str, *, allow_zero: bool = False) -> int | None:
    """An amount in rupees as paise, or None when the field is absent or null."""
    if body.get(field) is None:
        return None
    return amount(body, field, allow_zero=allow_zero)


def whole_number(body: dict[str, Any], field: str) -> int | None:
    """A whole number from 0 to 2**63 - 1 (a JSON integer or a string of digits), or None."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unprocessable("INVALID_FIELD", f"{field} must be a whole number")
    # Bounded before int(): int(Decimal("1E+500000")) would hold the process for seconds.
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() < 19
        and value == value.to_integral_value()
    ):
        value = int(value)
    if isinstance(value, str) and is_digits(value.strip()) and len(value.strip()) <= 19:
        value = int(value.strip())
    if not isinstance(value, int) or not 0 <= value < 2**63:
        raise Unprocessable("INVALID_FIELD", f"{field} must be a whole number")
    return value


def optional_text(body: dict[str, Any], field: str) -> str | None:
    """Trimmed text no longer than the field's limit, or None when absent or blank."""
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Unprocessable("INVALID_FIELD", f"{field} must be a string")
    limit = max_length(field)
    if len(value) > limit:
        raise Unprocessable("INVALID_FIELD", f"{field} is longer than {limit} characters")
    return value.strip()


def flag(body: dict[str, Any], field: str) -> bool:
    """An optional JSON boolean (absent or null: false); anything else is refused, so a string
    "false" never reads as true."""
    value = body.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Unprocessable("INVALID_FIELD", f"{field} must be true or false")
    return value


def optional_day(body: dict[str, Any], field: str) -> date | None:
    """An optional date written YYYY-MM-DD, or None when absent or null."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 10:
        raise Unprocessable("INVALID_FIELD", f"{field} must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Unprocessable("INVALID_FIELD", f"{field} must be a date YYYY-MM-DD") from None


def text(body: dict[str, Any], field: str) -> str:
    """Required trimmed text no longer than the field's limit."""
    value = optional_text(body, field)
    if value is None:
        raise Unprocessable("INVALID_FIELD", f"{field} is required")
    return value


async def retailer(conn: Conn, ref: object, field: str = "retailer") -> int:
    """The id of the retailer `ref` names (an id or a phone number), read on the caller's
    connection; NotFound when there is none."""
    if ref is None or isinstance(ref, bool) or not isinstance(ref, str | int):
        raise Unprocessable("INVALID_FIELD", f"{field} must be a retailer id or phone number")
    rid = await ledger.resolve_retailer(conn, str(ref))
    if rid is None:
        raise retailer_not_found(ref)
    return rid


def path_id(request: Request, name: str) -> int:
    """A numeric id from the path; NotFound (not 422) for anything else, as for a missing one."""
    raw: str = request.path_params[name]
    if not is_digits(raw) or len(raw) > 18:
        raise NotFound("NOT_FOUND", f"no {name} {raw}")
    return int(raw)


def limit(request: Request, default: int = 100) -> int:
    """The `limit` query parameter: 1 to MAX_LIST."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not is_digits(raw) or len(raw) > 6 or not 1 <= int(raw) <= MAX_LIST:
        raise Unprocessable("INVALID_FIELD", f"limit must be a whole number from 1 to {MAX_LIST}")
    return int(raw)


def today(deps: Deps) -> date:
    """The business day now."""
    return business_date(deps.clock.now(), deps.settings.tz)


def as_of(body: dict[str, Any], deps: Deps, *, today_only: bool = False) -> date:
    """The `asOf` day of a run (default today), inside the window `as_of_problem` allows."""
    value = body.get("asOf")
    now = today(deps)
    if value is None:
        return now
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise Unprocessable("INVALID_FIELD", "asOf must be a date YYYY-MM-DD") from None
    problem = as_of_problem(day, now, today_only=today_only)
    if problem:
        raise Unprocessable("INVALID_FIELD", f"asOf: {problem}")
    return day
