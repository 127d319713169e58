"""`balance` with how to pay, as a table: the link made for the amount owed, else the UPI line,
and a link asked of the worker (an effect) when a gateway has none for that amount yet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.checkout import Inbound, RequestPaymentLink, needs_payment
from bot.messages import Renderer
from bot.payments.pay import PayOptions
from tests.test_checkout import MENU, credit, facts, run

UPI = PayOptions(upi_id="sharma@okhdfcbank", payee="Sharma Traders", note="Ramesh 9800000001")
LINK = "https://rzp.io/i/abc"


@pytest.mark.parametrize(
    ("options", "owed", "shows", "asks"),
    [
        (None, 1_250_000, None, False),
        (UPI, 1_250_000, "💳 Pay ₹12,500 by UPI: upi://pay?pa=sharma@okhdfcbank", False),
        (replace(UPI, gateway=True), 1_250_000, "by UPI", True),
        (PayOptions(gateway=True), 1_250_000, None, True),
        (PayOptions(gateway=True, link_url=LINK, link_amount=1_250_000), 1_250_000,
         f"💳 Pay ₹12,500 online: {LINK}", False),
        (PayOptions(gateway=True, link_url=LINK, link_amount=900_000), 1_250_000, None, True),
        (replace(UPI, gateway=True), 0, None, False),
    ],
)  # fmt: skip
def test_balance_says_how_to_pay(
    options: PayOptions | None, owed: int, shows: str | None, asks: bool
) -> None:
    f = replace(facts(credit_facts=credit(outstanding=owed)), payment=options)
    decision = run(MENU, "balance", f)
    [reply] = decision.replies
    text = Renderer().render(reply, "en")
    if shows is None:
        assert "💳 Pay" not in text
    else:
        assert shows in text
    assert (RequestPaymentLink(owed) in decision.effects) is asks


def test_hindi_balance_says_how_to_pay() -> None:
    f = replace(facts(credit_facts=credit(outstanding=1_250_000), language="hi"), payment=UPI)
    [reply] = run(MENU, "balance", f).replies
    assert "💳 ₹12,500 UPI से चुकाएँ: upi://pay?" in Renderer().render(reply, "hi")


@pytest.mark.parametrize(
    ("text", "wanted"), [("balance", True), ("credit", True), ("menu", False), ("2 x 5", False)]
)
def test_payment_facts_are_loaded_only_for_the_messages_that_show_them(
    text: str, wanted: bool
) -> None:
    inbound = Inbound(text=text, received_at=datetime(2026, 1, 15, tzinfo=UTC))
    assert needs_payment(inbound) is wanted
