"""Table tests of the pure credit decisions: verdicts, aging, guardrails, at-risk."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

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
    UnpaidDebit,
    age_debits,
    aging_bucket,
    days_past_due,
    guardrail_action,
    is_beyond_max_days,
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
