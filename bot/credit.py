"""Credit decisions (DESIGN section 3), pure: order verdicts, aging, guardrails and at-risk.

Everything here takes plain values (paise ints, dates) and returns plain values, so it is tested
as tables. The ledger operations in `db/ledger/` load the facts, call these and persist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from bot.money import format_inr


class PaymentMode(StrEnum):
    CREDIT = "CREDIT"
    COD = "COD"


class CreditStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    BLOCKED = "BLOCKED"


# Who acts when no person does (audit entries, pauses); people are named by phone or operator.
SYSTEM = "SYSTEM"
# The most days any day-count setting (allowed days outstanding, payment terms) may hold.
MAX_DAYS = 3650
# Unpaid paise on overdue debits below which credit is not stopped (DESIGN section 3); the
# OVERDUE_TOLERANCE_PAISE setting's default.
DEFAULT_OVERDUE_TOLERANCE = 100_00
# The furthest an override of the overdue rule may reach, in days from today (DESIGN section 10).
MAX_OVERRIDE_DAYS = 30


class RefusalCode(StrEnum):
    """Why an order (or its credit) is refused (DESIGN section 3). The verdict gives the first
    five; placement adds PRODUCT_UNAVAILABLE and the checkout NO_CREDIT_ACCOUNT. Each has a
    template `refusal_<code>` in every language (tested)."""

    INVALID_AMOUNT = "INVALID_AMOUNT"
    CREDIT_PAUSED = "CREDIT_PAUSED"
    CREDIT_BLOCKED = "CREDIT_BLOCKED"
    ORDER_VALUE_EXCEEDED = "ORDER_VALUE_EXCEEDED"
    CREDIT_LIMIT_EXCEEDED = "CREDIT_LIMIT_EXCEEDED"
    OVERDUE_OUTSTANDING = "OVERDUE_OUTSTANDING"
    PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"
    NO_CREDIT_ACCOUNT = "NO_CREDIT_ACCOUNT"

    @property
    def template(self) -> str:
        """The message that explains this refusal to a retailer."""
        return f"refusal_{self.value.lower()}"


@dataclass(frozen=True)
class CreditFacts:
    """What a verdict needs about one retailer's credit, loaded in one query."""

    status: CreditStatus
    credit_limit: int  # paise
    outstanding: int  # paise
    max_order_value: int
    max_outstanding_days: int
    payment_terms_days: int
    overdue_unpaid: int  # unpaid paise on debits open longer than max_outstanding_days
    advance: int = 0  # paise received beyond what was owed; then outstanding is 0
    # The last day of a live override of the overdue rule (None: none, or it has ended).
    override_until: date | None = None
    paused_by: str | None = None  # SYSTEM or a person, when PAUSED or BLOCKED

    @property
    def available(self) -> int:
        """What a credit order may use now: the limit less what is owed, plus any advance."""
        return max(0, self.credit_limit - self.outstanding + self.advance)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    code: RefusalCode | None
    message: str  # one English sentence a retailer understands (API); chat uses templates by code
    available: int  # paise


def validate_order_placement(
    facts: CreditFacts, amount: int, mode: PaymentMode, *, tolerance: int
) -> Verdict:
    """May this retailer place an order of `amount` paise paid by `mode`? Refusals say why.

    Checks run in DESIGN's order: amount, then (CREDIT only) status, order value, limit, overdue.
    Overdue below `tolerance` paise does not stop credit.
    """
    available = facts.available

    def refuse(code: RefusalCode, message: str) -> Verdict:
        return Verdict(allowed=False, code=code, message=message, available=available)

    if amount <= 0:
        return refuse(
            RefusalCode.INVALID_AMOUNT,
            "The order amount must be a positive amount with at most 2 decimals.",
        )
    if mode == PaymentMode.COD:
        return Verdict(
            allowed=True, code=None, message="Cash on delivery is available.", available=available
        )
    if facts.status == CreditStatus.PAUSED:
        if facts.paused_by == SYSTEM and overdue_blocks_credit(facts.overdue_unpaid, tolerance):
            return refuse(
                RefusalCode.CREDIT_PAUSED,
                f"Credit is paused on your account until the {format_inr(facts.overdue_unpaid)} "
                f"unpaid for more than {facts.max_outstanding_days} days is paid; you can "
                "still order with cash on delivery.",
            )
        return refuse(
            RefusalCode.CREDIT_PAUSED,
            "Credit is paused on your account; you can still order with cash on delivery.",
        )
    if facts.status == CreditStatus.BLOCKED:
        # A person's decision: paying does not lift it, so the sentence never says so.
        return refuse(
            RefusalCode.CREDIT_BLOCKED,
            "Credit is blocked on your account; you can still order with cash on delivery.",
        )
    if amount > facts.max_order_value:
        return refuse(
            RefusalCode.ORDER_VALUE_EXCEEDED,
            f"This order of {format_inr(amount)} is above your largest credit order of "
            f"{format_inr(facts.max_order_value)}.",
        )
    # An advance pays for the order first (the ledger applies it as the debit is written).
    if facts.outstanding + max(0, amount - facts.advance) > facts.credit_limit:
        return refuse(
            RefusalCode.CREDIT_LIMIT_EXCEEDED,
            f"This order of {format_inr(amount)} is more than your available credit of "
            f"{format_inr(available)}.",
        )
    if overdue_stops_credit(facts, tolerance):
        return refuse(
            RefusalCode.OVERDUE_OUTSTANDING,
            f"{format_inr(facts.overdue_unpaid)} has been unpaid for more than "
            f"{facts.max_outstanding_days} days; please pay it to order on credit again.",
        )
    return Verdict(
        allowed=True,
        code=None,
        message=f"Credit is available: {format_inr(available)}.",
        available=available,
    )


# --- overdue and aging ---------------------------------------------------------------------


def overdue_blocks_credit(overdue_unpaid: int, tolerance: int) -> bool:
    """Unpaid paise on too-old debits stop credit unless below the tolerance."""
    return overdue_unpaid > 0 and overdue_unpaid >= tolerance


def overdue_stops_credit(facts: CreditFacts, tolerance: int) -> bool:
    """The overdue rule stops this retailer's credit now: debits unpaid too long (at or above the
    tolerance) and no live override."""
    return facts.override_until is None and overdue_blocks_credit(facts.overdue_unpaid, tolerance)


def override_live(until: date | None, today: date) -> bool:
    """An override of the overdue rule holds through its last day, inclusive."""
    return until is not None and today <= until


def override_problem(until: date, today: date) -> str | None:
    """Why `until` cannot end an override set today, or None: not in the past, and at most
    MAX_OVERRIDE_DAYS ahead."""
    if until < today:
        return f"overrideUntil {until.isoformat()} is in the past"
    latest = today + timedelta(days=MAX_OVERRIDE_DAYS)
    if until > latest:
        return f"overrideUntil may be at most {MAX_OVERRIDE_DAYS} days ahead ({latest.isoformat()})"
    return None


class Standing(StrEnum):
    """Where a retailer's credit stands, as they are told it (greeting, balance, refusals).
    Each case says one true thing: only OPEN shows an amount available."""

    OPEN = "OPEN"  # credit can be used (an override may be holding the overdue rule off)
    ON_HOLD = "ON_HOLD"  # active, but debits unpaid too long stop it until they are paid
    PAUSED_OVERDUE = "PAUSED_OVERDUE"  # paused by SYSTEM for the overdue rule: paying resumes it
    PAUSED = "PAUSED"  # paused by a person: only they lift it
    BLOCKED = "BLOCKED"  # stopped by a person: call the distributor


def credit_standing(facts: CreditFacts, tolerance: int) -> Standing:
    """The one reading of status, pauser and the overdue rule that every message uses."""
    if facts.status == CreditStatus.BLOCKED:
        return Standing.BLOCKED
    if facts.status == CreditStatus.PAUSED:
        return Standing.PAUSED_OVERDUE if facts.paused_by == SYSTEM else Standing.PAUSED
    if overdue_stops_credit(facts, tolerance):
        return Standing.ON_HOLD
    return Standing.OPEN


def is_beyond_max_days(debit_date: date, today: date, max_outstanding_days: int) -> bool:
    """A debit has stayed unpaid for more than `max_outstanding_days` counted from its date.

    With 30 days, a debit of day 0 is still fine on day 30 and stops credit on day 31.
    """
    return (today - debit_date).days > max_outstanding_days


def days_past_due(due_date: date, today: date) -> int:
    """0 until the due date has passed; 1 the day after it."""
    return max(0, (today - due_date).days)


class Bucket(StrEnum):
    CURRENT = "current"
    D1_30 = "1_30"
    D31_60 = "31_60"
    D61_90 = "61_90"
    D90_PLUS = "90_plus"


BUCKETS: tuple[Bucket, ...] = tuple(Bucket)


def aging_bucket(due_date: date, today: date) -> Bucket:
    """The aging bucket of an open debit's unpaid part by its days past due."""
    days = days_past_due(due_date, today)
    if days == 0:
        return Bucket.CURRENT
    if days <= 30:
        return Bucket.D1_30
    if days <= 60:
        return Bucket.D31_60
    if days <= 90:
        return Bucket.D61_90
    return Bucket.D90_PLUS


@dataclass(frozen=True)
class UnpaidDebit:
    """An open debit's unpaid part as aging sees it."""

    retailer_id: int
    due_date: date
    unpaid: int


@dataclass(frozen=True)
class BucketTotal:
    amount: int
    retailers: int


def age_debits(debits: Iterable[UnpaidDebit], today: date) -> dict[Bucket, BucketTotal]:
    """Sum unpaid parts per bucket, with how many retailers have something in each.

    The amounts always add up to the total unpaid, to the paisa.
    """
    amounts = dict.fromkeys(BUCKETS, 0)
    retailers: dict[Bucket, set[int]] = {b: set() for b in BUCKETS}
    for d in debits:
        if d.unpaid <= 0:
            continue
        b = aging_bucket(d.due_date, today)
        amounts[b] += d.unpaid
        retailers[b].add(d.retailer_id)
    return {b: BucketTotal(amounts[b], len(retailers[b])) for b in BUCKETS}


def utilisation_percent(outstanding: int, credit_limit: int) -> float:
    """Outstanding as a percentage of the limit, 1 decimal; 100 when owing on a zero limit."""
    if credit_limit <= 0:
        return 100.0 if outstanding > 0 else 0.0
    return round(outstanding * 100 / credit_limit, 1)


# --- guardrails -----------------------------------------------------------------------------


class GuardrailAction(StrEnum):
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    NONE = "NONE"


def guardrail_action(
    status: CreditStatus,
    paused_by: str | None,
    overdue_unpaid: int,
    tolerance: int,
    *,
    override_live: bool = False,
) -> GuardrailAction:
    """What the daily evaluation (and a credit to the account) does to one account.

    An ACTIVE account overdue beyond its days (above the tolerance) is paused by SYSTEM, unless an
    operator's override holds the rule off; an account the SYSTEM paused is resumed once that
    overdue is cleared. An admin's pause and a block are never set or lifted by the system.
    """
    blocks = not override_live and overdue_blocks_credit(overdue_unpaid, tolerance)
    if status == CreditStatus.ACTIVE and blocks:
        return GuardrailAction.PAUSE
    if status == CreditStatus.PAUSED and paused_by == SYSTEM and not blocks:
        return GuardrailAction.RESUME
    return GuardrailAction.NONE


def auto_pause_reason(overdue_unpaid: int, max_outstanding_days: int) -> str:
    """The recorded reason of a SYSTEM pause."""
    return f"{format_inr(overdue_unpaid)} unpaid for more than {max_outstanding_days} days"


# --- at-risk --------------------------------------------------------------------------------

HIGH_UTILISATION_PERCENT = 80
REPEATED_REMINDERS = 2


class RiskReason(StrEnum):
    OVERDUE_BEYOND_LIMIT = "OVERDUE_BEYOND_LIMIT"  # would be paused by the next evaluation
    OVERDUE = "OVERDUE"  # past the due date, not yet beyond the allowed days
    HIGH_UTILISATION = "HIGH_UTILISATION"
    REPEATED_REMINDERS = "REPEATED_REMINDERS"


@dataclass(frozen=True)
class RiskFacts:
    retailer_id: int
    status: CreditStatus
    credit_limit: int
    outstanding: int
    overdue_amount: int  # unpaid paise past due
    max_days_past_due: int
    beyond_limit_unpaid: int  # unpaid paise on debits older than max_outstanding_days
    max_reminders: int  # highest reminder count among open debits
    override_until: date | None = None  # a live override: the next evaluation will not pause


def risk_reasons(facts: RiskFacts, tolerance: int) -> tuple[RiskReason, ...]:
    """Why an ACTIVE retailer is at risk (empty when not, or when already paused or blocked)."""
    if facts.status != CreditStatus.ACTIVE or facts.outstanding <= 0:
        return ()
    reasons: list[RiskReason] = []
    if facts.override_until is None and overdue_blocks_credit(facts.beyond_limit_unpaid, tolerance):
        reasons.append(RiskReason.OVERDUE_BEYOND_LIMIT)
    elif facts.overdue_amount > 0:
        reasons.append(RiskReason.OVERDUE)
    if facts.outstanding * 100 >= facts.credit_limit * HIGH_UTILISATION_PERCENT:
        # exact: 79.99999% is not 80%
        reasons.append(RiskReason.HIGH_UTILISATION)
    if facts.max_reminders >= REPEATED_REMINDERS:
        reasons.append(RiskReason.REPEATED_REMINDERS)
    return tuple(reasons)


def utilisation_permille(outstanding: int, credit_limit: int) -> int:
    """Outstanding per thousand of the limit, floored (exact, for ranking); owing on no limit
    ranks above everything."""
    if credit_limit <= 0:
        return 2**62 if outstanding > 0 else 0
    return outstanding * 1000 // credit_limit


def risk_rank_key(facts: RiskFacts, reasons: tuple[RiskReason, ...]) -> tuple[int, int, int, int]:
    """Sort key, most at risk first: about to be paused, then days past due, overdue amount,
    utilisation (the at-risk query orders by the same key, then by retailer id)."""
    return (
        0 if RiskReason.OVERDUE_BEYOND_LIMIT in reasons else 1,
        -facts.max_days_past_due,
        -facts.overdue_amount,
        -utilisation_permille(facts.outstanding, facts.credit_limit),
    )


# --- adjustments ----------------------------------------------------------------------------


class Direction(StrEnum):
    DEBIT = "DEBIT"  # adds to what is owed
    CREDIT = "CREDIT"  # takes off what is owed


ADJUSTMENT_REASONS = ("return", "dispute", "discount", "correction")


def terms_problem(max_outstanding_days: int, payment_terms_days: int) -> str | None:
    """Why these days cannot go together, or None. A debit counts against credit once unpaid for
    more than max_outstanding_days; with longer payment terms it would stop a retailer's credit
    before it is even due."""
    if payment_terms_days > max_outstanding_days:
        return (
            f"paymentTermsDays ({payment_terms_days}) must not be more than maxOutstandingDays "
            f"({max_outstanding_days}): credit would stop before debits are due"
        )
    return None
