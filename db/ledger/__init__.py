"""Ledger operations: transaction scripts over the credit tables (DESIGN section 3).

Each operation takes `conn` first, the target retailer id, amounts in paise, `performed_by` and
`now`; it runs inside the caller's transaction (`conn.transaction()` nests as a savepoint;
`place_order` adds none, see there), writes its audit entry in that same transaction and keeps
`credit_accounts.outstanding` equal to the sum of open debits' unpaid parts. Every operation
locks the retailer's `credit_accounts` row first, so operations on one retailer run one at a
time and always take their locks in the same order.

Refusals the caller must show are raised as `db.errors.AppError` subclasses (NotFound 404,
Conflict 409, Unprocessable 422) carrying a code and a sentence; order placement returns its refusal as a
Verdict instead, because the checkout offers COD when credit is refused.

The modules, each importing only those above it:
- `accounts`: the lock, the verdict's facts, the contact, the outstanding and advance,
  transaction rows
- `status`: pause and unpause (with an override), block and unblock, a SYSTEM pause lifted
  once its overdue is paid, and the tail every status change shares
- `clearing`: the money primitives `apply_credit` and `apply_debit` (advances), payments and
  adjustments
- `placing`: placing an order (the checkout's credit decision) and reading it back
- `lifecycle`: an order's lifecycle (dispatch, deliver, cancel, fail) and returns
- `guardrails`: an account's settings, and applying the overdue rule to every account
The SQL they share with the readers (open debit, overdue unpaid, the outstanding update) is in
`db.fragments`. Import the names from here: `from db import ledger` or `from db.ledger import X`.
"""

from db.ledger.accounts import (
    CREDIT_FACTS_COLUMNS,
    Contact,
    credit_facts_from_row,
    get_credit_facts,
    lock_account,
    resolve_retailer,
)
from db.ledger.clearing import (
    AdjustmentResult,
    Allocation,
    Credited,
    PaymentResult,
    adjust,
    apply_credit,
    apply_debit,
    record_payment,
)
from db.ledger.guardrails import GuardrailRun, Guardrails, apply_guardrails, set_guardrails
from db.ledger.lifecycle import (
    FailedOrder,
    OrderMoved,
    ReturnResult,
    fail_order,
    move_order,
    return_goods,
)
from db.ledger.placing import PlacedOrder, PlaceOrderResult, place_order
from db.ledger.status import (
    StatusChange,
    block_credit,
    pause_credit,
    resume_if_cleared,
    unblock_credit,
    unpause_credit,
)

__all__ = [
    "CREDIT_FACTS_COLUMNS",
    "AdjustmentResult",
    "Allocation",
    "Contact",
    "Credited",
    "FailedOrder",
    "GuardrailRun",
    "Guardrails",
    "OrderMoved",
    "PaymentResult",
    "PlaceOrderResult",
    "PlacedOrder",
    "ReturnResult",
    "StatusChange",
    "adjust",
    "apply_credit",
    "apply_debit",
    "apply_guardrails",
    "block_credit",
    "credit_facts_from_row",
    "fail_order",
    "get_credit_facts",
    "lock_account",
    "move_order",
    "pause_credit",
    "place_order",
    "record_payment",
    "resolve_retailer",
    "resume_if_cleared",
    "return_goods",
    "set_guardrails",
    "unblock_credit",
    "unpause_credit",
]
