"""The admin HTTP API (DESIGN section 6): credit operations, onboarding, audit, jobs.

Every route needs `Authorization: Bearer <ADMIN_API_TOKEN>`; with no token configured every route
answers 503. Handlers are thin: parse, resolve the retailer, call one ledger function, answer.
Amounts come in as rupees (JSON numbers or strings, at most 2 decimals) and go out as exact rupee
strings. Ledger refusals become JSON errors with their status (404, 409, 422).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.cli.deps import Deps
from bot.clock import as_of_problem, business_date
from bot.credit import Direction, PaymentMode, Verdict, validate_order_placement
from bot.insights import insights_vars
from bot.messages import LANGUAGES, MessageKind, Reply
from bot.money import InvalidAmount, parse_rupees, rupees_json
from bot.phone import InvalidPhone, mask_phone, normalize_phone
from bot.text import is_digits
from db import credit_queries as q
from db import ledger
from db.audit import AuditEntry, get_audit
from db.errors import NotFound, Unauthorized, Unavailable, Unprocessable
from db.idempotency import get_answer, request_hash, save_answer
from db.onboarding import NewProduct, NewRetailer, create_product, create_retailer
from db.outbox import enqueue
from handlers.errors import read_json
from jobs.runner import AsOfRefused, run_job_as_person

log = logging.getLogger(__name__)

PREFIX = "/api/v1/admin"
PERFORMED_BY = "api"
MAX_KEY_LENGTH = 200
MAX_LIST = 500

Handler = Callable[[Request], Awaitable[Response]]


# --- request plumbing -----------------------------------------------------------------------


def _check_token(request: Request, deps: Deps) -> None:
    expected = deps.settings.admin_api_token
    if not expected:
        raise Unavailable(
            "ADMIN_API_DISABLED", "the admin API is closed: ADMIN_API_TOKEN is not configured"
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise Unauthorized("UNAUTHORIZED", "a valid admin bearer token is required")


def admin(handler: Callable[[Request, Deps], Awaitable[Response]]) -> Handler:
    """Check the bearer token first, then run the handler."""

    async def endpoint(request: Request) -> Response:
        deps: Deps = request.state.deps
        _check_token(request, deps)
        return await handler(request, deps)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _read_optional_json(request: Request) -> dict[str, Any]:
    if not (await request.body()).strip():
        return {}
    return await read_json(request)


def _amount(body: dict[str, Any], field: str, *, allow_zero: bool = False) -> int:
    if field not in body:
        raise Unprocessable("INVALID_AMOUNT", f"{field} is required")
    try:
        return parse_rupees(body[field], allow_zero=allow_zero)
    except InvalidAmount as exc:
        raise Unprocessable("INVALID_AMOUNT", f"{field}: {exc}") from None


def _optional_amount(body: dict[str, Any], field: str, *, allow_zero: bool = False) -> int | None:
    if body.get(field) is None:
        return None
    return _amount(body, field, allow_zero=allow_zero)


def _int(body: dict[str, Any], field: str) -> int | None:
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


def _text(
    body: dict[str, Any], field: str, *, required: bool = True, max_len: int = 500
) -> str | None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Unprocessable("INVALID_FIELD", f"{field} is required")
        return None
    if not isinstance(value, str):
        raise Unprocessable("INVALID_FIELD", f"{field} must be a string")
    if len(value) > max_len:
        raise Unprocessable("INVALID_FIELD", f"{field} is longer than {max_len} characters")
    return value.strip()


async def _retailer(deps: Deps, ref: str | int | None, field: str = "retailer") -> int:
    if ref is None or isinstance(ref, bool) or not isinstance(ref, str | int):
        raise Unprocessable("INVALID_FIELD", f"{field} must be a retailer id or phone number")
    async with deps.pool.acquire() as conn:
        rid = await ledger.resolve_retailer(conn, str(ref))
    if rid is None:
        raise NotFound("RETAILER_NOT_FOUND", f"no retailer {ref}")
    return rid


def _path_int(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if not is_digits(raw) or len(raw) > 18:
        raise NotFound("NOT_FOUND", f"no {name} {raw}")
    return int(raw)


def _as_of(body: dict[str, Any], deps: Deps, *, today_only: bool = False) -> date:
    value = body.get("asOf")
    today = business_date(deps.clock.now(), deps.settings.tz)
    if value is None:
        return today
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise Unprocessable("INVALID_FIELD", "asOf must be a date YYYY-MM-DD") from None
    problem = as_of_problem(day, today, today_only=today_only)
    if problem:
        raise Unprocessable("INVALID_FIELD", f"asOf: {problem}")
    return day


def _today(deps: Deps) -> date:
    return business_date(deps.clock.now(), deps.settings.tz)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _limit(request: Request, default: int = 100) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not is_digits(raw) or len(raw) > 6 or not 1 <= int(raw) <= MAX_LIST:
        raise Unprocessable("INVALID_FIELD", f"limit must be a whole number from 1 to {MAX_LIST}")
    return int(raw)


# --- JSON shapes ----------------------------------------------------------------------------


def verdict_json(v: Verdict) -> dict[str, Any]:
    return {
        "allowed": v.allowed,
        "code": v.code,
        "message": v.message,
        "availableCredit": rupees_json(v.available),
    }


def _audit_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "retailerId": e.retailer_id,
        "action": e.action,
        "reference": e.reference,
        "oldValue": e.old_value,
        "newValue": e.new_value,
        "performedBy": e.performed_by,
        "reason": e.reason,
        "createdAt": _ts(e.created_at),
    }


def _order_json(o: q.OrderView) -> dict[str, Any]:
    return {
        "id": o.order_id,
        "total": rupees_json(o.total),
        "paymentMode": o.payment_mode,
        "status": o.status,
        "dueDate": _day(o.due_date),
        "createdAt": _ts(o.created_at),
        "failedAt": _ts(o.failed_at),
        "failureReason": o.failure_reason,
    }


def _allocations_json(allocations: tuple[ledger.Allocation, ...]) -> list[dict[str, Any]]:
    return [
        {"transactionId": a.transaction_id, "amount": rupees_json(a.amount)} for a in allocations
    ]


def _status_json(change: ledger.StatusChange) -> dict[str, Any]:
    return {
        "retailerId": change.retailer_id,
        "creditStatus": change.status.value,
        "previousStatus": change.previous_status.value,
        "reason": change.reason,
        "performedBy": change.performed_by,
        "auditId": change.audit_id,
        "changedAt": _ts(change.changed_at),
    }


# --- credit views ---------------------------------------------------------------------------


@admin
async def risk_dashboard(request: Request, deps: Deps) -> Response:
    async with deps.pool.acquire() as conn:
        d = await q.get_risk_dashboard(conn, _today(deps))
    return JSONResponse(
        {
            "asOf": d.as_of.isoformat(),
            "buckets": {
                b.value: {"amount": rupees_json(t.amount), "retailers": t.retailers}
                for b, t in d.buckets.items()
            },
            "totalOutstanding": rupees_json(d.total_outstanding),
            "totalLimit": rupees_json(d.total_limit),
            "available": rupees_json(d.available),
            "utilisation": d.utilisation,
            "statusCounts": {s.value: n for s, n in d.status_counts.items()},
            "retailers": d.retailers,
        }
    )


@admin
async def at_risk(request: Request, deps: Deps) -> Response:
    limit = _limit(request)
    async with deps.pool.acquire() as conn:
        result = await q.get_at_risk(
            conn, _today(deps), tolerance=deps.settings.overdue_tolerance_paise, limit=limit
        )
    return JSONResponse(
        {
            "total": result.total,
            "retailers": [
                {
                    "retailerId": r.retailer_id,
                    "phone": r.phone,
                    "name": r.name,
                    "shopName": r.shop_name,
                    "creditLimit": rupees_json(r.credit_limit),
                    "outstanding": rupees_json(r.outstanding),
                    "utilisation": r.utilisation,
                    "overdueAmount": rupees_json(r.overdue_amount),
                    "maxDaysPastDue": r.max_days_past_due,
                    "maxReminders": r.max_reminders,
                    "reasons": [reason.value for reason in r.reasons],
                }
                for r in result.retailers
            ],
        }
    )


@admin
async def profile(request: Request, deps: Deps) -> Response:
    rid = await _retailer(deps, request.path_params["retailer"])
    async with deps.pool.acquire() as conn:
        p = await q.get_credit_profile(conn, rid, _today(deps))
    if p is None:
        raise NotFound("RETAILER_NOT_FOUND", f"no retailer {rid}")
    return JSONResponse(
        {
            "retailerId": p.retailer_id,
            "phone": p.phone,
            "name": p.name,
            "shopName": p.shop_name,
            "language": p.language,
            "optedOut": p.opted_out,
            "creditStatus": p.status.value,
            "statusReason": p.status_reason,
            "pausedBy": p.paused_by,
            "pausedAt": _ts(p.paused_at),
            "creditLimit": rupees_json(p.credit_limit),
            "outstanding": rupees_json(p.outstanding),
            "available": rupees_json(p.available),
            "utilisation": p.utilisation,
            "maxOrderValue": rupees_json(p.max_order_value),
            "maxOutstandingDays": p.max_outstanding_days,
            "paymentTermsDays": p.payment_terms_days,
            "overdueAmount": rupees_json(p.overdue_amount),
            "overdueBeyondLimit": rupees_json(p.beyond_limit_amount),
            "openDebitCount": p.open_debit_count,
            "openDebits": [
                {
                    "transactionId": d.transaction_id,
                    "orderId": d.order_id,
                    "type": d.type,
                    "amount": rupees_json(d.amount),
                    "outstanding": rupees_json(d.outstanding),
                    "date": d.txn_date.isoformat(),
                    "dueDate": d.due_date.isoformat(),
                    "daysOverdue": d.days_overdue,
                    "reminderCount": d.reminder_count,
                    "reminderSentAt": _ts(d.reminder_sent_at),
                }
                for d in p.open_debits
            ],
            "recentPayments": [
                {
                    "transactionId": pay.transaction_id,
                    "amount": rupees_json(pay.amount),
                    "reference": pay.reference,
                    "performedBy": pay.performed_by,
                    "createdAt": _ts(pay.created_at),
                }
                for pay in p.recent_payments
            ],
            "recentOrders": [_order_json(o) for o in p.recent_orders],
            "reminders": {
                "sentOnOpenDebits": p.reminders_sent,
                "lastSentAt": _ts(p.last_reminder_at),
                "recent": [
                    {"outboxId": r.outbox_id, "status": r.status, "createdAt": _ts(r.created_at)}
                    for r in p.recent_reminders
                ],
            },
            "recentAudit": [_audit_json(e) for e in p.recent_audit],
        }
    )


# --- credit operations ----------------------------------------------------------------------


@admin
async def pause(request: Request, deps: Deps) -> Response:
    body = await read_json(request)
    reason = _text(body, "reason")
    assert reason is not None
    rid = await _retailer(deps, request.path_params["retailer"])
    async with deps.pool.acquire() as conn:
        change = await ledger.pause_credit(
            conn, rid, reason=reason, performed_by=PERFORMED_BY, now=deps.clock.now()
        )
    return JSONResponse(_status_json(change))


@admin
async def unpause(request: Request, deps: Deps) -> Response:
    body = await _read_optional_json(request)
    reason = _text(body, "reason", required=False)
    rid = await _retailer(deps, request.path_params["retailer"])
    async with deps.pool.acquire() as conn:
        change = await ledger.unpause_credit(
            conn, rid, reason=reason, performed_by=PERFORMED_BY, now=deps.clock.now()
        )
    return JSONResponse(_status_json(change))


class _Replay(Exception):
    """Another request with the same Idempotency-Key committed first."""


@admin
async def record_payment(request: Request, deps: Deps) -> Response:
    """Record a payment; the same `Idempotency-Key` replays the first successful answer."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key.strip()) <= MAX_KEY_LENGTH:
        raise Unprocessable("INVALID_FIELD", "Idempotency-Key must be 1 to 200 characters")
    body = await read_json(request)
    amount = _amount(body, "amountPaid")
    reference = _text(body, "reference", required=False, max_len=100)
    txn_id = body.get("transactionId")
    retailer_ref = body.get("retailerId")
    if txn_id is None and retailer_ref is None:
        raise Unprocessable("INVALID_FIELD", "retailerId or transactionId is required")
    transaction_id: int | None = None
    if txn_id is not None:
        transaction_id = _int(body, "transactionId")
    rid = await _retailer(deps, retailer_ref, "retailerId") if retailer_ref is not None else None
    # The request as understood, so "100", 100 and "100.00", or a retailer's id and phone,
    # are the same request for the Idempotency-Key.
    digest = request_hash(
        {"amount": amount, "reference": reference, "transaction": transaction_id, "retailer": rid}
    )
    scope = "payment_record"
    if key is not None:
        key = key.strip()
        async with deps.pool.acquire() as conn:
            stored = await get_answer(conn, scope, key)
        if stored is not None:
            return _replay(stored.request_hash, digest, stored.status_code, stored.response)
    now = deps.clock.now()
    try:
        async with deps.pool.acquire() as conn, conn.transaction():
            result = await ledger.record_payment(
                conn,
                amount=amount,
                retailer_id=rid,
                transaction_id=transaction_id,
                reference=reference,
                performed_by=PERFORMED_BY,
                now=now,
                tz=deps.settings.tz,
            )
            answer = {
                "paymentId": result.payment_id,
                "retailerId": result.retailer_id,
                "amountPaid": rupees_json(result.amount),
                "reference": result.reference,
                "allocations": _allocations_json(result.allocations),
                "outstandingBefore": rupees_json(result.outstanding_before),
                "outstanding": rupees_json(result.outstanding_after),
            }
            if key is not None and not await save_answer(
                conn, scope, key, request_hash=digest, status_code=201, response=answer, now=now
            ):
                raise _Replay
    except _Replay:
        async with deps.pool.acquire() as conn:
            stored = await get_answer(conn, scope, key or "")
        assert stored is not None
        return _replay(stored.request_hash, digest, stored.status_code, stored.response)
    return JSONResponse(answer, status_code=201)


def _replay(stored_hash: str, digest: str, status: int, response: Any) -> Response:
    if stored_hash != digest:
        raise Unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different request",
        )
    return JSONResponse(response, status_code=status, headers={"Idempotent-Replayed": "true"})


@admin
async def adjustment(request: Request, deps: Deps) -> Response:
    body = await read_json(request)
    raw_direction = body.get("direction")
    if raw_direction not in (Direction.DEBIT.value, Direction.CREDIT.value):
        raise Unprocessable("INVALID_FIELD", "direction must be DEBIT or CREDIT")
    amount = _amount(body, "amount")
    reason = _text(body, "reason")
    assert reason is not None
    notes = _text(body, "notes", required=False)
    rid = await _retailer(deps, request.path_params["retailer"])
    async with deps.pool.acquire() as conn:
        result = await ledger.adjust(
            conn,
            rid,
            direction=Direction(raw_direction),
            amount=amount,
            reason=reason,
            notes=notes,
            performed_by=PERFORMED_BY,
            now=deps.clock.now(),
            tz=deps.settings.tz,
        )
    return JSONResponse(
        {
            "transactionId": result.transaction_id,
            "retailerId": result.retailer_id,
            "direction": result.direction.value,
            "amount": rupees_json(result.amount),
            "reason": result.reason,
            "allocations": _allocations_json(result.allocations),
            "outstandingBefore": rupees_json(result.outstanding_before),
            "outstanding": rupees_json(result.outstanding_after),
        },
        status_code=201,
    )


@admin
async def guardrails(request: Request, deps: Deps) -> Response:
    body = await read_json(request)
    credit_limit = _optional_amount(body, "creditLimit", allow_zero=True)
    max_order_value = _optional_amount(body, "maxOrderValue")
    max_days = _int(body, "maxOutstandingDays")
    terms = _int(body, "paymentTermsDays")
    rid = await _retailer(deps, request.path_params["retailer"])
    async with deps.pool.acquire() as conn:
        g = await ledger.set_guardrails(
            conn,
            rid,
            credit_limit=credit_limit,
            max_order_value=max_order_value,
            max_outstanding_days=max_days,
            payment_terms_days=terms,
            performed_by=PERFORMED_BY,
            now=deps.clock.now(),
        )
    return JSONResponse(
        {
            "retailerId": g.retailer_id,
            "creditLimit": rupees_json(g.credit_limit),
            "maxOrderValue": rupees_json(g.max_order_value),
            "maxOutstandingDays": g.max_outstanding_days,
            "paymentTermsDays": g.payment_terms_days,
        }
    )


@admin
async def validate_order(request: Request, deps: Deps) -> Response:
    body = await read_json(request)
    amount = _amount(body, "orderAmount")
    mode = body.get("paymentMode")
    if mode not in (PaymentMode.CREDIT.value, PaymentMode.COD.value):
        raise Unprocessable("INVALID_PAYMENT_MODE", "paymentMode must be CREDIT or COD")
    rid = await _retailer(deps, body.get("retailerId"), "retailerId")
    async with deps.pool.acquire() as conn:
        facts = await ledger.get_credit_facts(conn, rid, _today(deps))
    if facts is None:
        raise NotFound("RETAILER_NOT_FOUND", f"no credit account for retailer {rid}")
    verdict = validate_order_placement(
        facts, amount, PaymentMode(mode), tolerance=deps.settings.overdue_tolerance_paise
    )
    return JSONResponse(verdict_json(verdict))


@admin
async def evaluate(request: Request, deps: Deps) -> Response:
    """Evaluate and apply the guardrails now (optionally as of a day); says what it did."""
    body = await _read_optional_json(request)
    day = _as_of(body, deps, today_only=True)
    async with deps.pool.acquire() as conn:
        run = await ledger.apply_guardrails(
            conn,
            today=day,
            now=deps.clock.now(),
            tolerance=deps.settings.overdue_tolerance_paise,
        )
    return JSONResponse(
        {
            "asOf": day.isoformat(),
            "checked": run.checked,
            "paused": [{"retailerId": rid, "reason": reason} for rid, reason in run.paused],
            "resumed": [{"retailerId": rid} for rid in run.resumed],
        }
    )


# --- orders ---------------------------------------------------------------------------------


@admin
async def failed_orders(request: Request, deps: Deps) -> Response:
    rid = await _retailer(deps, request.path_params["retailer"])
    async with deps.pool.acquire() as conn:
        orders = await q.get_failed_orders(conn, rid, limit=_limit(request))
    return JSONResponse({"retailerId": rid, "orders": [_order_json(o) for o in orders]})


@admin
async def fail_order(request: Request, deps: Deps) -> Response:
    body = await read_json(request)
    reason = _text(body, "reason")
    assert reason is not None
    order_id = _path_int(request, "order")
    async with deps.pool.acquire() as conn:
        failed = await ledger.fail_order(
            conn,
            order_id,
            reason=reason,
            performed_by=PERFORMED_BY,
            now=deps.clock.now(),
            tz=deps.settings.tz,
        )
    return JSONResponse(
        {
            "orderId": failed.order_id,
            "retailerId": failed.retailer_id,
            "status": "FAILED",
            "reason": failed.reason,
            "failedAt": _ts(failed.failed_at),
            "total": rupees_json(failed.total),
            "reversedAmount": rupees_json(failed.reversed_amount),
            "reversalTransactionId": failed.reversal_id,
        }
    )


# --- insights -------------------------------------------------------------------------------


async def _insights(deps: Deps, ref: str) -> tuple[int, str, str, dict[str, Any]]:
    from db.sweeps import get_insights

    rid = await _retailer(deps, ref)
    async with deps.pool.acquire() as conn:
        data = await get_insights(conn, rid)
        row = await conn.fetchrow("SELECT name, language FROM retailers WHERE id = $1", rid)
    if data is None or row is None:
        raise NotFound("NO_INSIGHTS", "no insights yet for this retailer")
    return rid, row["name"], row["language"], dict(data)


@admin
async def insights(request: Request, deps: Deps) -> Response:
    rid, _, _, data = await _insights(deps, request.path_params["retailer"])
    return JSONResponse({"retailerId": rid, "insights": data})


@admin
async def insights_message(request: Request, deps: Deps) -> Response:
    rid, name, language, data = await _insights(deps, request.path_params["retailer"])
    lang = request.query_params.get("lang", language)
    if lang not in LANGUAGES:
        raise Unprocessable("INVALID_FIELD", f"lang must be one of {', '.join(LANGUAGES)}")
    text = deps.renderer.render(Reply("insights", insights_vars(name, data)), lang)
    return JSONResponse({"retailerId": rid, "language": lang, "message": text})


# --- onboarding -----------------------------------------------------------------------------


@admin
async def new_retailer(request: Request, deps: Deps) -> Response:
    body = await read_json(request)
    phone = _text(body, "phone", max_len=40)
    name = _text(body, "name", max_len=200)
    language = body.get("language", "en")
    if not isinstance(language, str):
        raise Unprocessable("INVALID_FIELD", "language must be en or hi")
    new = NewRetailer(
        phone=phone or "",
        name=name or "",
        shop_name=_text(body, "shopName", required=False, max_len=200) or "",
        language=language,
        credit_limit=_amount(body, "creditLimit", allow_zero=True),
        **{
            k: v
            for k, v in {
                "max_order_value": _optional_amount(body, "maxOrderValue"),
                "max_outstanding_days": _int(body, "maxOutstandingDays"),
                "payment_terms_days": _int(body, "paymentTermsDays"),
            }.items()
            if v is not None
        },
    )
    async with deps.pool.acquire() as conn:
        rid = await create_retailer(conn, new, performed_by=PERFORMED_BY, now=deps.clock.now())
    log.info("retailer %s created for %s", rid, mask_phone(phone))
    return JSONResponse({"id": rid}, status_code=201)


@admin
async def new_product(request: Request, deps: Deps) -> Response:
    body = await read_json(request)
    new = NewProduct(
        sku=_text(body, "sku", max_len=64) or "",
        name=_text(body, "name", max_len=200) or "",
        category=_text(body, "category", max_len=100) or "",
        price=_amount(body, "price"),
        unit=_text(body, "unit", required=False, max_len=32) or "pc",
    )
    async with deps.pool.acquire() as conn:
        pid = await create_product(conn, new, now=deps.clock.now())
    return JSONResponse({"id": pid}, status_code=201)


# --- audit, jobs, test message --------------------------------------------------------------


@admin
async def audit(request: Request, deps: Deps) -> Response:
    ref = request.query_params.get("retailer")
    rid = await _retailer(deps, ref) if ref else None
    async with deps.pool.acquire() as conn:
        entries = await get_audit(conn, retailer_id=rid, limit=_limit(request))
    return JSONResponse({"entries": [_audit_json(e) for e in entries]})


@admin
async def run_job(request: Request, deps: Deps) -> Response:
    name = request.path_params["job"]
    body = await _read_optional_json(request)
    as_of = None
    if body.get("asOf") is not None:
        try:
            as_of = date.fromisoformat(str(body["asOf"]))
        except ValueError:
            raise Unprocessable("INVALID_FIELD", "asOf must be a date YYYY-MM-DD") from None
    try:
        result = await run_job_as_person(deps, name, as_of)
    except AsOfRefused as refused:
        # This API names the body field in a 422, as its other routes do.
        raise Unprocessable("INVALID_FIELD", f"asOf: {refused.problem}") from None
    return JSONResponse(
        {
            "job": result.job,
            "asOf": result.as_of.isoformat(),
            "counts": result.counts,
            "runId": getattr(result, "run_id", None),
        }
    )


@admin
async def whatsapp_send(request: Request, deps: Deps) -> Response:
    """Queue a test message through the outbox (the sender delivers it)."""
    body = await read_json(request)
    to = _text(body, "to", max_len=40)
    message = _text(body, "message", max_len=1500)
    assert to is not None and message is not None
    try:
        phone = normalize_phone(to)
    except InvalidPhone:
        raise Unprocessable("INVALID_FIELD", "to is not a valid phone number") from None
    now = deps.clock.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT id, language FROM retailers WHERE phone = $1", phone)
        outbox_id = await enqueue(
            conn,
            kind=MessageKind.TEST_MESSAGE,
            reply=Reply("test_message", {"message": message}),
            to_phone=phone,
            language=row["language"] if row else "en",
            dedupe_key=f"test_message:{secrets.token_hex(12)}",
            now=now,
            retailer_id=row["id"] if row else None,
            renderer=deps.renderer,
        )
    log.info("test message queued to %s", mask_phone(phone))
    return JSONResponse({"outboxId": outbox_id, "status": "QUEUED"}, status_code=202)


routes: list[BaseRoute] = [
    Route(f"{PREFIX}/credit/risk-dashboard", risk_dashboard, methods=["GET"]),
    Route(f"{PREFIX}/credit/at-risk", at_risk, methods=["GET"]),
    Route(f"{PREFIX}/credit/{{retailer}}", profile, methods=["GET"]),
    Route(f"{PREFIX}/credit/{{retailer}}/pause", pause, methods=["POST"]),
    Route(f"{PREFIX}/credit/{{retailer}}/unpause", unpause, methods=["POST"]),
    Route(f"{PREFIX}/credit/{{retailer}}/adjustment", adjustment, methods=["POST"]),
    Route(f"{PREFIX}/payment/record", record_payment, methods=["POST"]),
    Route(f"{PREFIX}/guardrails/validate-order", validate_order, methods=["POST"]),
    Route(f"{PREFIX}/guardrails/evaluate", evaluate, methods=["POST"]),
    Route(f"{PREFIX}/guardrails/{{retailer}}", guardrails, methods=["PUT"]),
    Route(f"{PREFIX}/orders/failed/{{retailer}}", failed_orders, methods=["GET"]),
    Route(f"{PREFIX}/orders/{{order}}/fail", fail_order, methods=["POST"]),
    Route(f"{PREFIX}/insights/{{retailer}}", insights, methods=["GET"]),
    Route(f"{PREFIX}/insights/{{retailer}}/message", insights_message, methods=["GET"]),
    Route(f"{PREFIX}/retailers", new_retailer, methods=["POST"]),
    Route(f"{PREFIX}/products", new_product, methods=["POST"]),
    Route(f"{PREFIX}/audit", audit, methods=["GET"]),
    Route(f"{PREFIX}/jobs/{{job}}/run", run_job, methods=["POST"]),
    Route(f"{PREFIX}/whatsapp/send", whatsapp_send, methods=["POST"]),
]
