"""What a retailer reads about their credit matches its state (issue 11), in both languages.

Each standing (`bot.credit.credit_standing`) is rendered through the checkout as the retailer
meets it, by greeting, `balance` and a checkout that asks for credit, and the business notices
(paused, resumed, blocked) are rendered from the variables the ledger queues. "Available" is
shown only when credit can be used; a pause says what to pay and that paying resumes it; a block
says whom to call and never that paying brings credit back; an override states its last day.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.checkout import (
    Conversation,
    Facts,
    Inbound,
    PendingOrder,
    Placement,
    Product,
    Retailer,
    Stage,
    after_placement,
    step,
)
from bot.credit import CreditFacts, CreditStatus, PaymentMode
from bot.messages import Renderer, Reply
from bot.orders import OrderLine
from bot.statements import DueItem, Dues

RENDERER = Renderer()
NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
SUPPORT = "+919876500000"
UNTIL = date(2026, 1, 20)
ATTA = 1
PRODUCTS = {ATTA: Product(ATTA, "ATTA-10", "Aashirvaad Atta 10kg", "Staples", 450_00, "bag")}
BASE = CreditFacts(
    status=CreditStatus.ACTIVE,
    credit_limit=100_000_00,
    outstanding=40_000_00,
    max_order_value=50_000_00,
    max_outstanding_days=30,
    payment_terms_days=15,
    overdue_unpaid=0,
)
OVERDUE = 12_500_00  # "₹12,500" in both languages


@dataclass(frozen=True)
class Case:
    name: str
    credit: CreditFacts
    # what each message must say (per language), and what it must never say
    says: dict[str, tuple[str, ...]]
    never: dict[str, tuple[str, ...]]


AVAILABLE = {"en": ("Available", "Credit available"), "hi": ("उपलब्ध",)}
# Words that promise credit back for a payment: never to a blocked retailer.
PROMISES = {
    "en": ("credit again", "resumes", "opens again", "keep credit"),
    "hi": ("फिर चालू", "फिर शुरू", "दोबारा"),
}

CASES = [
    Case(
        "open",
        BASE,
        {"en": ("₹60,000",), "hi": ("₹60,000",)},
        {"en": ("on hold", "paused", "blocked"), "hi": ("रुका", "बंद")},
    ),
    Case(
        "open with an advance",
        replace(BASE, outstanding=0, advance=2_000_00),
        {"en": ("₹1,02,000", "dvance", "₹2,000"), "hi": ("₹1,02,000", "अग्रिम", "₹2,000")},
        {"en": ("on hold",), "hi": ("रुका",)},
    ),
    Case(
        "open under an override",
        replace(BASE, overdue_unpaid=OVERDUE, override_until=UNTIL),
        {"en": ("₹60,000", "20 Jan 2026", "₹12,500"), "hi": ("₹60,000", "20 जनवरी 2026")},
        {"en": ("on hold",), "hi": ()},
    ),
    Case(
        "on hold (overdue, not yet paused)",
        replace(BASE, overdue_unpaid=OVERDUE),
        {"en": ("on hold", "₹12,500", "30 days"), "hi": ("रुका", "₹12,500", "30 दिन")},
        {"en": ("₹60,000",), "hi": ("₹60,000",)},
    ),
    Case(
        "paused by the overdue rule",
        replace(BASE, status=CreditStatus.PAUSED, paused_by="SYSTEM", overdue_unpaid=OVERDUE),
        {
            "en": ("paused", "₹12,500", "as soon as the payment is recorded"),
            "hi": ("रुका", "₹12,500", "भुगतान दर्ज होते ही"),
        },
        {"en": ("₹60,000",), "hi": ("₹60,000",)},
    ),
    Case(
        "paused by a person",
        replace(BASE, status=CreditStatus.PAUSED, paused_by="+919900000000"),
        {"en": ("paused", "distributor", SUPPORT), "hi": ("डिस्ट्रीब्यूटर", SUPPORT)},
        {"en": ("₹60,000", "recorded"), "hi": ("₹60,000", "दर्ज होते")},
    ),
    Case(
        "blocked",
        replace(
            BASE, status=CreditStatus.BLOCKED, paused_by="+919900000000", overdue_unpaid=OVERDUE
        ),
        {"en": ("blocked", SUPPORT), "hi": ("बंद", SUPPORT)},
        {"en": ("₹60,000", *PROMISES["en"]), "hi": ("₹60,000", *PROMISES["hi"])},
    ),
]


def _facts(credit: CreditFacts, language: str) -> Facts:
    return Facts(
        retailer=Retailer(1, "Ramesh Kumar", "Ramesh Store", language, False, "+919800000001"),
        credit=credit,
        products=PRODUCTS,
        catalogue=(ATTA,),
        tolerance=100_00,
        tz=UTC,
        support_phone=SUPPORT,
    )


def _said(conv: Conversation, text: str, facts: Facts) -> list[Reply]:
    return list(step(conv, Inbound(text, NOW), facts).replies)


def _render(replies: list[Reply], language: str) -> str:
    return "\n".join(RENDERER.render(r, language) for r in replies)


@pytest.mark.parametrize("lang", ["en", "hi"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_greeting_and_balance_say_what_is_true(case: Case, lang: str) -> None:
    facts = _facts(case.credit, lang)
    greeting = _render(_said(Conversation(), "hi", facts)[:1], lang)
    balance = _render(_said(Conversation(Stage.MENU), "balance", facts), lang)
    for text in (greeting, balance):
        for words in case.says[lang]:
            if words == "dvance" and text is greeting:
                continue
            assert words in text, (case.name, lang, text)
        for words in case.never[lang]:
            assert words not in text, (case.name, lang, words, text)
    usable = case.name.startswith("open")
    assert any(word in balance for word in AVAILABLE[lang]) is usable, balance


# A debit due 24 days ago (NOW is 15 Jan) and one due in 5 days: `balance`, through the checkout,
# must not call the first "next due" (walk of issue 13: "Next due: ₹11,700 on 10 Sep 2026" on
# 30 Nov; main fixed it the same day, this checks it end to end).
LATE = DueItem(1, 2, 21_600_00, 21_600_00, date(2025, 12, 7), date(2025, 12, 22))
SOON = DueItem(2, 1, 18_450_00, 18_450_00, date(2026, 1, 5), date(2026, 1, 20))
PAST_DUE = {
    "en": "Overdue: *₹21,600*, due since 22 Dec 2025",
    "hi": "तारीख निकल चुकी राशि: *₹21,600*, 22 दिसंबर 2025 से बाकी",
}


@pytest.mark.parametrize("lang", ["en", "hi"])
@pytest.mark.parametrize("items", [(LATE, SOON), (LATE,)], ids=["late and coming", "only late"])
def test_balance_never_calls_a_past_date_next_due(lang: str, items: tuple[DueItem, ...]) -> None:
    dues = Dues(items, len(items), sum(i.unpaid for i in items), overdue=LATE.unpaid)
    facts = replace(_facts(BASE, lang), dues=dues)
    text = _render(_said(Conversation(Stage.MENU), "balance", facts), lang)
    assert PAST_DUE[lang] in text, text
    assert "on 22 Dec 2025" not in text and "तारीख 22 दिसंबर 2025" not in text, text
    assert ("statement" if lang == "en" else "hisab") in text


@pytest.mark.parametrize("lang", ["en", "hi"])
@pytest.mark.parametrize("case", CASES[3:], ids=[c.name for c in CASES[3:]])
def test_checkout_refusal_says_why_and_what_next(case: Case, lang: str) -> None:
    facts = _facts(case.credit, lang)
    cart = Conversation(Stage.CART, cart=(OrderLine(ATTA, 2),), numbers=(ATTA,))
    replies = _said(cart, "checkout", facts)
    assert replies[0].template == "payment_options"
    text = _render(replies, lang)
    assert "COD" in text
    for words in case.says[lang]:
        if words in ("30 days", "30 दिन", "on hold", "रुका") and case.name.startswith("on hold"):
            continue  # the overdue refusal words it its own way, checked below
        assert words in text, (case.name, lang, text)
    for words in case.never[lang]:
        assert words not in text, (case.name, lang, words, text)
    if case.name.startswith("on hold"):
        assert "₹12,500" in text


# --- the notices the ledger queues ---------------------------------------------------------------

NOTICES = [
    # (template, variables, must say per language, must never say per language)
    (
        "credit_paused",
        {"name": "Ramesh", "reason": "x", "overdue_unpaid": OVERDUE, "max_outstanding_days": 30},
        {"en": ("₹12,500", "as soon as the payment is recorded"), "hi": ("₹12,500", "दर्ज होते")},
        {"en": ("block",), "hi": ("रोक हटा",)},
    ),
    (
        "credit_paused",
        {
            "name": "Ramesh",
            "reason": "x",
            "overdue_unpaid": OVERDUE,
            "max_outstanding_days": 30,
            "unblocked": True,
        },
        {"en": ("block on your credit is lifted", "₹12,500"), "hi": ("रोक हटा", "₹12,500")},
        {"en": ("active again",), "hi": ("फिर से चालू है",)},
    ),
    (
        "credit_paused",
        {"name": "Ramesh", "reason": "cheque bounced"},
        {"en": ("cheque bounced", "distributor"), "hi": ("cheque bounced", "डिस्ट्रीब्यूटर")},
        {"en": ("recorded",), "hi": ("दर्ज होते",)},
    ),
    (
        "credit_resumed",
        {
            "name": "Ramesh",
            "available": 60_000_00,
            "override_until": None,
            "overdue_unpaid": 0,
            "max_outstanding_days": 0,
            "after_payment": True,
        },
        {"en": ("thank you for your payment", "₹60,000"), "hi": ("धन्यवाद", "₹60,000")},
        {"en": ("until",), "hi": ("तक",)},
    ),
    (
        "credit_resumed",
        {
            "name": "Ramesh",
            "available": 60_000_00,
            "override_until": UNTIL,
            "overdue_unpaid": OVERDUE,
            "max_outstanding_days": 30,
        },
        {"en": ("20 Jan 2026 (inclusive)", "₹12,500"), "hi": ("20 जनवरी 2026", "₹12,500")},
        {"en": (), "hi": ()},
    ),
    (
        "credit_blocked",
        {"name": "Ramesh", "support_phone": SUPPORT},
        {"en": ("blocked", SUPPORT, "cash on delivery"), "hi": ("बंद", SUPPORT, "नकद")},
        {"en": PROMISES["en"], "hi": PROMISES["hi"]},
    ),
    (
        "credit_blocked",
        {"name": "Ramesh", "support_phone": None},
        {"en": ("your distributor",), "hi": ("डिस्ट्रीब्यूटर",)},
        {"en": ("None",), "hi": ("None",)},
    ),
]


@pytest.mark.parametrize("lang", ["en", "hi"])
@pytest.mark.parametrize("template, variables, says, never", NOTICES)
def test_notices_say_what_is_true(
    template: str,
    variables: dict[str, object],
    says: dict[str, tuple[str, ...]],
    never: dict[str, tuple[str, ...]],
    lang: str,
) -> None:
    text = RENDERER.render(Reply(template, variables), lang)
    for words in says[lang]:
        assert words in text, (template, lang, text)
    for words in never[lang]:
        assert words not in text, (template, lang, words, text)


# --- an advance pays a credit order first: the checkout says how much, and what is left due ------


@pytest.mark.parametrize(
    "advance, en, hi",
    [
        (0, "due 30 Jan 2026", "चुकाने की तारीख 30 जनवरी 2026"),
        (500_00, "₹500 from your advance, ₹400 due 30 Jan 2026", "₹500 आपके अग्रिम से, बाकी ₹400"),
        (2_000_00, "all of it from your advance", "पूरा आपके अग्रिम से"),
    ],
)
def test_checkout_says_what_the_advance_pays(advance: int, en: str, hi: str) -> None:
    credit = replace(BASE, outstanding=0 if advance else BASE.outstanding, advance=advance)
    pending = PendingOrder(7, "PENDING", NOW + timedelta(hours=2))
    paying = Conversation(Stage.PAYMENT, cart=(OrderLine(ATTA, 2),), numbers=(ATTA,), pending_id=7)
    for lang, words in (("en", en), ("hi", hi)):
        facts = replace(_facts(credit, lang), pending=pending)
        (confirm,) = _said(paying, "1", facts)
        assert confirm.template == "confirm_order"
        assert words in RENDERER.render(confirm, lang)
        placed = Placement(
            allowed=True, code=None, available=0, order_id=9, total=900_00,
            mode=PaymentMode.CREDIT, due_date=date(2026, 1, 30),
            from_advance=min(advance, 900_00),
        )  # fmt: skip
        done = after_placement(replace(paying, stage=Stage.CONFIRM), placed, facts, NOW)
        text = RENDERER.render(done.replies[0], lang).replace("*", "")
        # the confirmation says the same in the past tense
        said = words.replace("from your", "paid from your").replace("अग्रिम से", "अग्रिम से चुकाया")
        assert said in text
