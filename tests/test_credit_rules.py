"""Table tests of the pure credit decisions: verdicts, aging, guardrails, at-risk."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from bot.credit import (
    Bucket,
    BucketTotal,
    CreditFacts,
    CreditStatus,
    GuardrailAction,
    PaymentMode,
    RiskFacts,
    RiskReason,
    Standing,
    UnpaidDebit,
    age_debits,
    aging_bucket,
    credit_standing,
    days_past_due,
    guardrail_action,
    is_beyond_max_days,
    override_live,
    override_problem,
    risk_rank_key,
    risk_reasons,
    utilisation_percent,
    validate_order_placement,
)

TOL = 100_00
FACTS = CreditFacts(
    status=CreditStatus.ACTIVE,
    credit_limit=100_000_00,
    outstanding=40_000_00,
    max_order_value=50_000_00,
    max_outstanding_days=30,
    payment_terms_days=15,
    overdue_unpaid=0,
)

A = CreditStatus.ACTIVE
P = CreditStatus.PAUSED
B = CreditStatus.BLOCKED
CR = PaymentMode.CREDIT
COD = PaymentMode.COD


@pytest.mark.parametrize(
    "status, outstanding, overdue, amount, mode, code",
    [
        # amount
        (A, 0, 0, 0, CR, "INVALID_AMOUNT"),
        (A, 0, 0, -1, COD, "INVALID_AMOUNT"),
        # COD: any status, any valid amount, even above limits
        (A, 0, 0, 1, COD, None),
        (P, 99_000_00, 5_000_00, 200_000_00, COD, None),
        (B, 0, 0, 10_00, COD, None),
        # CREDIT status
        (P, 0, 0, 10_00, CR, "CREDIT_PAUSED"),
        (B, 0, 0, 10_00, CR, "CREDIT_BLOCKED"),
        # max order value: equal is fine, one paisa more is not
        (A, 0, 0, 50_000_00, CR, None),
        (A, 0, 0, 50_000_01, CR, "ORDER_VALUE_EXCEEDED"),
        # limit: exactly reaching it is fine
        (A, 60_000_00, 0, 40_000_00, CR, None),
        (A, 60_000_00, 0, 40_000_01, CR, "CREDIT_LIMIT_EXCEEDED"),
        (A, 100_000_00, 0, 1, CR, "CREDIT_LIMIT_EXCEEDED"),
        # overdue beyond the allowed days, with the tolerance
        (A, 0, 99_99, 10_00, CR, None),
        (A, 0, 100_00, 10_00, CR, "OVERDUE_OUTSTANDING"),
        (A, 0, 5_000_00, 10_00, CR, "OVERDUE_OUTSTANDING"),
        # status is checked before value, value before limit, limit before overdue
        (P, 100_000_00, 5_000_00, 60_000_00, CR, "CREDIT_PAUSED"),
        (A, 100_000_00, 5_000_00, 60_000_00, CR, "ORDER_VALUE_EXCEEDED"),
        (A, 100_000_00, 5_000_00, 10_00, CR, "CREDIT_LIMIT_EXCEEDED"),
    ],
)
def test_verdict(
    status: CreditStatus, outstanding: int, overdue: int, amount: int, mode: PaymentMode,
    code: str | None,
) -> None:  # fmt: skip
    facts = replace(FACTS, status=status, outstanding=outstanding, overdue_unpaid=overdue)
    verdict = validate_order_placement(facts, amount, mode, tolerance=TOL)
    assert verdict.code == code
    assert verdict.allowed is (code is None)
    assert verdict.available == max(0, facts.credit_limit - outstanding)
    assert verdict.message and verdict.message.endswith(".")


def test_limit_refusal_says_what_is_available() -> None:
    facts = replace(FACTS, outstanding=95_000_00)
    verdict = validate_order_placement(facts, 10_000_00, CR, tolerance=TOL)
    assert verdict.code == "CREDIT_LIMIT_EXCEEDED"
    assert "₹5,000" in verdict.message
    assert verdict.available == 5_000_00


def test_available_never_negative() -> None:
    facts = replace(FACTS, credit_limit=10_00, outstanding=50_00)
    assert facts.available == 0


TODAY = date(2026, 3, 31)


@pytest.mark.parametrize(
    "due, days, bucket",
    [
        (date(2026, 4, 30), 0, Bucket.CURRENT),
        (date(2026, 3, 31), 0, Bucket.CURRENT),  # due today: not yet past due
        (date(2026, 3, 30), 1, Bucket.D1_30),
        (date(2026, 3, 1), 30, Bucket.D1_30),
        (date(2026, 2, 28), 31, Bucket.D31_60),
        (date(2026, 1, 30), 60, Bucket.D31_60),
        (date(2026, 1, 29), 61, Bucket.D61_90),
        (date(2025, 12, 31), 90, Bucket.D61_90),
        (date(2025, 12, 30), 91, Bucket.D90_PLUS),
        (date(2024, 1, 1), 820, Bucket.D90_PLUS),
    ],
)
def test_aging_bucket(due: date, days: int, bucket: Bucket) -> None:
    assert days_past_due(due, TODAY) == days
    assert aging_bucket(due, TODAY) == bucket


def test_age_debits_sums_to_total_and_counts_retailers() -> None:
    debits = [
        UnpaidDebit(1, date(2026, 4, 10), 1_000_00),
        UnpaidDebit(1, date(2026, 3, 20), 250_50),
        UnpaidDebit(2, date(2026, 3, 25), 99),
        UnpaidDebit(2, date(2025, 11, 1), 7_000_00),
        UnpaidDebit(3, date(2026, 4, 1), 1),
        UnpaidDebit(3, date(2026, 4, 1), 0),  # fully paid parts are ignored
    ]
    aged = age_debits(debits, TODAY)
    assert aged == {
        Bucket.CURRENT: BucketTotal(1_000_01, 2),
        Bucket.D1_30: BucketTotal(250_50 + 99, 2),
        Bucket.D31_60: BucketTotal(0, 0),
        Bucket.D61_90: BucketTotal(0, 0),
        Bucket.D90_PLUS: BucketTotal(7_000_00, 1),
    }
    assert sum(t.amount for t in aged.values()) == sum(d.unpaid for d in debits)


@pytest.mark.parametrize(
    "debit_day, today, beyond",
    [
        # DESIGN: with 30 days a debit of day 0 still allows credit on day 30, stops it on day 31
        (date(2026, 1, 1), date(2026, 1, 31), False),
        (date(2026, 1, 1), date(2026, 2, 1), True),
        (date(2026, 1, 1), date(2026, 1, 1), False),
    ],
)
def test_beyond_max_days(debit_day: date, today: date, beyond: bool) -> None:
    assert is_beyond_max_days(debit_day, today, 30) is beyond


@pytest.mark.parametrize(
    "status, paused_by, overdue, action",
    [
        (A, None, 0, GuardrailAction.NONE),
        (A, None, 99_99, GuardrailAction.NONE),  # below tolerance
        (A, None, 100_00, GuardrailAction.PAUSE),
        (P, "SYSTEM", 100_00, GuardrailAction.NONE),  # already paused
        (P, "SYSTEM", 99_99, GuardrailAction.RESUME),
        (P, "SYSTEM", 0, GuardrailAction.RESUME),
        (P, "+919900000000", 0, GuardrailAction.NONE),  # an admin's pause is never lifted
        (P, "api", 0, GuardrailAction.NONE),
        (B, "+919900000000", 0, GuardrailAction.NONE),
        (B, "SYSTEM", 0, GuardrailAction.NONE),
    ],
)
def test_guardrail_action(
    status: CreditStatus, paused_by: str | None, overdue: int, action: GuardrailAction
) -> None:
    assert guardrail_action(status, paused_by, overdue, TOL) == action


@pytest.mark.parametrize(
    "outstanding, limit, percent",
    [(0, 0, 0.0), (1, 0, 100.0), (0, 100, 0.0), (80, 100, 80.0), (1, 3, 33.3), (150, 100, 150.0)],
)
def test_utilisation(outstanding: int, limit: int, percent: float) -> None:
    assert utilisation_percent(outstanding, limit) == percent


def _risk(**kw: object) -> RiskFacts:
    base = dict(
        retailer_id=1, status=A, credit_limit=100_000_00, outstanding=10_000_00,
        overdue_amount=0, max_days_past_due=0, beyond_limit_unpaid=0, max_reminders=0,
    )  # fmt: skip
    base.update(kw)
    return RiskFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "facts, reasons",
    [
        (_risk(), ()),
        (_risk(overdue_amount=5_00, max_days_past_due=3), (RiskReason.OVERDUE,)),
        (
            _risk(overdue_amount=5_000_00, beyond_limit_unpaid=5_000_00),
            (RiskReason.OVERDUE_BEYOND_LIMIT,),
        ),
        # a few rupees beyond the limit is only "overdue", as the verdict tolerates it
        (_risk(overdue_amount=50_00, beyond_limit_unpaid=50_00), (RiskReason.OVERDUE,)),
        (_risk(outstanding=80_000_00), (RiskReason.HIGH_UTILISATION,)),
        (_risk(outstanding=79_999_99), ()),
        (_risk(max_reminders=2), (RiskReason.REPEATED_REMINDERS,)),
        (_risk(max_reminders=1), ()),
        (
            _risk(outstanding=90_000_00, overdue_amount=1_00, max_reminders=3),
            (RiskReason.OVERDUE, RiskReason.HIGH_UTILISATION, RiskReason.REPEATED_REMINDERS),
        ),
        # paused or blocked retailers are handled already, not "at risk"
        (_risk(status=P, outstanding=90_000_00), ()),
        (_risk(status=B, overdue_amount=1_00), ()),
    ],
)
def test_risk_reasons(facts: RiskFacts, reasons: tuple[RiskReason, ...]) -> None:
    assert risk_reasons(facts, TOL) == reasons


def test_risk_ranking_puts_about_to_be_paused_first_then_days_past_due() -> None:
    about = _risk(
        retailer_id=1, overdue_amount=200_00, max_days_past_due=17, beyond_limit_unpaid=200_00
    )
    late = _risk(retailer_id=2, overdue_amount=100_00, max_days_past_due=25)
    full = _risk(retailer_id=3, outstanding=95_000_00)
    ranked = sorted([full, late, about], key=lambda f: risk_rank_key(f, risk_reasons(f, TOL)))
    assert [f.retailer_id for f in ranked] == [1, 2, 3]


# --- issue 11: block, override, the standing; issue 12: advances -------------------------------

DAY = date(2026, 1, 15)
UNTIL = date(2026, 1, 20)
SYS = "SYSTEM"
ADMIN = "+919900000000"


@pytest.mark.parametrize(
    "status, paused_by, outstanding, advance, overdue, override, amount, mode, code",
    [
        # a block refuses credit whatever else holds, and never asks for a payment
        (B, ADMIN, 0, 0, 0, None, 10_00, CR, "CREDIT_BLOCKED"),
        (B, ADMIN, 0, 0, 5_000_00, None, 10_00, CR, "CREDIT_BLOCKED"),
        (B, ADMIN, 0, 5_000_00, 0, None, 10_00, CR, "CREDIT_BLOCKED"),
        (B, ADMIN, 0, 0, 5_000_00, UNTIL, 10_00, CR, "CREDIT_BLOCKED"),
        (B, ADMIN, 99_000_00, 0, 5_000_00, None, 200_000_00, COD, None),  # COD still works
        # paused: by SYSTEM or by a person, refused alike (the messages differ)
        (P, SYS, 0, 0, 5_000_00, None, 10_00, CR, "CREDIT_PAUSED"),
        (P, ADMIN, 0, 0, 0, None, 10_00, CR, "CREDIT_PAUSED"),
        # an override holds the overdue rule off, nothing else
        (A, None, 0, 0, 5_000_00, UNTIL, 10_00, CR, None),
        (A, None, 99_000_00, 0, 5_000_00, UNTIL, 2_000_00, CR, "CREDIT_LIMIT_EXCEEDED"),
        (A, None, 0, 0, 5_000_00, UNTIL, 50_000_01, CR, "ORDER_VALUE_EXCEEDED"),
        (A, None, 0, 0, 5_000_00, None, 10_00, CR, "OVERDUE_OUTSTANDING"),
        # an advance pays first: the limit is counted on what it does not pay
        (A, None, 0, 10_000_00, 0, None, 50_000_00, CR, None),
        (A, None, 0, 1_00, 0, None, 100_000_00, CR, "ORDER_VALUE_EXCEEDED"),
    ],
)
def test_verdict_with_block_override_and_advance(
    status: CreditStatus, paused_by: str | None, outstanding: int, advance: int, overdue: int,
    override: date | None, amount: int, mode: PaymentMode, code: str | None,
) -> None:  # fmt: skip
    facts = replace(
        FACTS, status=status, paused_by=paused_by, outstanding=outstanding, advance=advance,
        overdue_unpaid=overdue, override_until=override,
    )  # fmt: skip
    verdict = validate_order_placement(facts, amount, mode, tolerance=TOL)
    assert verdict.code == code
    assert verdict.available == max(0, facts.credit_limit - outstanding + advance)
    if code == "CREDIT_BLOCKED":
        assert "pay" not in verdict.message.lower()


def test_limit_with_an_advance_is_the_limit_plus_the_advance() -> None:
    facts = replace(FACTS, credit_limit=10_000_00, outstanding=0, advance=2_000_00)
    assert facts.available == 12_000_00
    ok = validate_order_placement(facts, 12_000_00, CR, tolerance=TOL)
    over = validate_order_placement(facts, 12_000_01, CR, tolerance=TOL)
    assert ok.allowed and over.code == "CREDIT_LIMIT_EXCEEDED" and "₹12,000" in over.message


def test_system_pause_refusal_says_what_paying_does() -> None:
    facts = replace(FACTS, status=P, paused_by=SYS, overdue_unpaid=2_500_00)
    message = validate_order_placement(facts, 10_00, CR, tolerance=TOL).message
    assert "₹2,500" in message and "until" in message
    person = replace(facts, paused_by=ADMIN)
    assert "₹2,500" not in validate_order_placement(person, 10_00, CR, tolerance=TOL).message


@pytest.mark.parametrize(
    "status, paused_by, overdue, override, standing",
    [
        (A, None, 0, None, Standing.OPEN),
        (A, None, 99_99, None, Standing.OPEN),  # below the tolerance
        (A, None, 100_00, None, Standing.ON_HOLD),
        (A, None, 100_00, UNTIL, Standing.OPEN),  # held off by the override
        (P, SYS, 100_00, None, Standing.PAUSED_OVERDUE),
        (P, SYS, 0, None, Standing.PAUSED_OVERDUE),  # until the next check lifts it
        (P, ADMIN, 100_00, None, Standing.PAUSED),
        (P, ADMIN, 0, None, Standing.PAUSED),
        (B, ADMIN, 0, None, Standing.BLOCKED),
        (B, ADMIN, 100_00, UNTIL, Standing.BLOCKED),
    ],
)
def test_credit_standing(
    status: CreditStatus, paused_by: str | None, overdue: int, override: date | None,
    standing: Standing,
) -> None:  # fmt: skip
    facts = replace(
        FACTS, status=status, paused_by=paused_by, overdue_unpaid=overdue, override_until=override
    )
    assert credit_standing(facts, TOL) == standing


@pytest.mark.parametrize(
    "until, live, problem",
    [
        (DAY - timedelta(days=1), False, "in the past"),
        (DAY, True, None),  # through today, inclusive
        (DAY + timedelta(days=30), True, None),
        (DAY + timedelta(days=31), True, "at most 30 days ahead (2026-02-14)"),
    ],
)
def test_override_window(until: date, live: bool, problem: str | None) -> None:
    found = override_problem(until, DAY)
    assert (found is None) if problem is None else (found is not None and problem in found)
    assert override_live(until, DAY) is live
    assert override_live(None, DAY) is False


@pytest.mark.parametrize(
    "status, paused_by, overdue, override, action",
    [
        (A, None, 100_00, True, GuardrailAction.NONE),  # the override holds the pause off
        (A, None, 100_00, False, GuardrailAction.PAUSE),  # ... until it ends
        (B, ADMIN, 100_00, False, GuardrailAction.NONE),  # the system never sets a block
        (B, ADMIN, 0, False, GuardrailAction.NONE),  # ... nor lifts one
    ],
)
def test_guardrail_action_with_override_and_block(
    status: CreditStatus, paused_by: str | None, overdue: int, override: bool,
    action: GuardrailAction,
) -> None:  # fmt: skip
    assert guardrail_action(status, paused_by, overdue, TOL, override_live=override) == action


def test_override_turns_about_to_pause_into_overdue() -> None:
    facts = _risk(overdue_amount=5_000_00, beyond_limit_unpaid=5_000_00, override_until=UNTIL)
    assert risk_reasons(facts, TOL) == (RiskReason.OVERDUE,)
