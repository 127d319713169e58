"""The admin command parser, as a table: text -> typed command or a usage error."""

from __future__ import annotations

from datetime import date

import pytest

from bot.admin_commands import (
    PROBLEMS,
    USAGE,
    Adjust,
    AtRisk,
    Days,
    Fail,
    Help,
    Limit,
    MaxOrder,
    Paid,
    Parsed,
    Pause,
    Profile,
    Risk,
    Run,
    Unknown,
    Unpause,
    Usage,
    parse_command,
)
from bot.credit import Direction

JOBS = ("payment_reminders", "auto_pause", "evaluate_guardrails")
PHONE = "+919812345678"


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("help", Help()),
        ("  HELP ", Help()),
        ("/help", Help()),
        ("", Help()),
        ("risk", Risk()),
        ("atrisk", AtRisk()),
        ("at-risk", AtRisk()),
        ("profile 42", Profile("42")),
        ("profile +919812345678", Profile(PHONE)),
        ("Profile 98123-45678", Profile(PHONE)),
        ("profile whatsapp:+919812345678", Profile(PHONE)),
        ("profile 09812345678", Profile(PHONE)),
        # A phone typed in groups is one argument.
        ("paid 98123 45678 1000", Paid(PHONE, 1000_00)),
        ("pause +91 98123 45678 late payments", Pause(PHONE, "late payments")),
        ("profile +91 98123 45678", Profile(PHONE)),
        ("paid +919812345678 100", Paid(PHONE, 100_00)),
        ("profile 98123", Profile("98123")),
        ("paid 98123 4567 UPI", Paid("98123", 4567_00, "UPI")),
        ("pause 42 cheque bounced twice", Pause("42", "cheque bounced twice")),
        ("pause +919812345678 overdue", Pause(PHONE, "overdue")),
        ("unpause 42", Unpause("42")),
        ("unpause 42 paid in cash", Unpause("42", "paid in cash")),
        ("paid 42 5000", Paid("42", 5000_00)),
        ("paid 42 1,250.50 UTR123", Paid("42", 1250_50, "UTR123")),
        ("paid 42 ₹500 cash at shop", Paid("42", 500_00, "cash at shop")),
        ("adjust 42 +300 correction", Adjust("42", Direction.DEBIT, 300_00, "correction")),
        ("adjust 42 -120.5 return 2 bags torn",
         Adjust("42", Direction.CREDIT, 120_50, "return", "2 bags torn")),
        ("adjust 42 -50 Discount", Adjust("42", Direction.CREDIT, 50_00, "discount")),
        ("limit 42 100000", Limit("42", 100000_00)),
        ("limit 42 0", Limit("42", 0)),
        ("maxorder 42 25000", MaxOrder("42", 25000_00)),
        ("max-order 42 25000", MaxOrder("42", 25000_00)),
        ("days 42 45", Days("42", 45)),
        ("fail 1042 truck broke down", Fail(1042, "truck broke down")),
        ("fail #1042 returned unopened", Fail(1042, "returned unopened")),
        ("run auto_pause", Run("auto_pause")),
        ("run payment-reminders 2026-01-20", Run("payment_reminders", date(2026, 1, 20))),
        # Unknown words are not commands.
        ("hello", Unknown("hello")),
        ("1", Unknown("1")),
        # Wrong or missing arguments: the command's usage, with what was wrong.
        ("risk now", Usage("risk", "extra")),
        ("profile", Usage("profile", "missing")),
        ("profile 42 43", Usage("profile", "extra")),
        ("profile ramesh", Usage("profile", "retailer")),
        ("profile 0", Usage("profile", "retailer")),
        ("profile +91123", Usage("profile", "retailer")),
        ("profile +91 98123", Usage("profile", "retailer")),
        ("profile 98123 45678 9", Usage("profile", "extra")),
        ("pause 42", Usage("pause", "missing")),
        ("pause x overdue", Usage("pause", "retailer")),
        ("unpause", Usage("unpause", "missing")),
        ("paid 42", Usage("paid", "missing")),
        ("paid 42 -500", Usage("paid", "amount")),
        ("paid 42 0", Usage("paid", "amount")),
        ("paid 42 12.345", Usage("paid", "amount")),
        ("paid 42 five", Usage("paid", "amount")),
        ("paid 42 NaN", Usage("paid", "amount")),
        ("adjust 42 300 correction", Usage("adjust", "signed_amount")),
        ("adjust 42 + correction", Usage("adjust", "signed_amount")),
        ("adjust 42 +0 correction", Usage("adjust", "amount")),
        ("adjust 42 +300 gift", Usage("adjust", "adjust_reason")),
        ("adjust 42 +300", Usage("adjust", "missing")),
        ("limit 42 -1", Usage("limit", "limit_amount")),
        ("limit 42", Usage("limit", "missing")),
        ("limit 42 5000 extra", Usage("limit", "extra")),
        ("maxorder 42 0", Usage("maxorder", "amount")),
        ("days 42 0", Usage("days", "days")),
        ("days 42 4000", Usage("days", "days")),
        ("days 42 1.5", Usage("days", "days")),
        ("fail 1042", Usage("fail", "missing")),
        ("fail abc broken", Usage("fail", "order")),
        ("run", Usage("run", "missing")),
        ("run nap", Usage("run", "job")),
        ("run auto_pause 20-01-2026", Usage("run", "date")),
        ("run auto_pause 20260120", Usage("run", "date")),
        ("run auto_pause 2026-02-30", Usage("run", "date")),
        ("run auto_pause 2026-01-20 x", Usage("run", "extra")),
    ],
)  # fmt: skip
def test_parse(text: str, parsed: Parsed) -> None:
    assert parse_command(text, JOBS) == parsed


def test_every_usage_problem_is_known() -> None:
    for command in USAGE:
        assert Usage(command, "missing").usage.startswith(command)
    assert len(set(PROBLEMS)) == len(PROBLEMS)
