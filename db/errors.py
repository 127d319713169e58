"""The one error family of the service: a refusal with a code, a sentence and its HTTP status.

The ledger raises these, the handlers raise these, and one exception handler in
`handlers.errors` renders every one as `{"error": {"code", "message", ...extra}}` with its
status. Admin chat commands turn the same errors into a one-line reply. Like httpx's documented
tree, the class says what happened; the `code` says exactly which refusal it was:

    AppError                      (400 unless a subclass says otherwise)
    ├── BadRequest                400  the request cannot be read (not JSON, not a form)
    ├── Unauthorized              401  no valid credentials
    ├── Forbidden                 403  a bad signature, or a role that may not do this
    ├── NotFound                  404  no such retailer, order, transaction, job
    │   └── RetailerNotFound           no retailer answers to this id or phone number
    ├── Conflict                  409  the state forbids it (already paused, duplicate reference)
    ├── PayloadTooLarge           413  the body is over MAX_BODY_BYTES
    ├── Unprocessable             422  a field is wrong (amount, date, reason)
    └── Unavailable               503  a part is switched off (no admin token configured)

`extra` carries machine-readable details (`amountOwed`, `paymentId`); amounts in it are paise,
and the HTTP edge turns keys starting with `amount` into rupee strings.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A refusal with a code, a sentence for the person, and the HTTP status it maps to."""

    status = 400

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class BadRequest(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class PayloadTooLarge(AppError):
    status = 413


class Unprocessable(AppError):
    status = 422


class Unavailable(AppError):
    status = 503


class RetailerNotFound(NotFound):
    """No retailer answers to `ref` (an id or a phone number, as the person wrote it)."""

    def __init__(self, ref: int | str) -> None:
        super().__init__("RETAILER_NOT_FOUND", f"no retailer {ref}")
        self.ref = str(ref)


def retailer_not_found(retailer_id: int | str) -> NotFound:
    return RetailerNotFound(retailer_id)
