"""Nothing important is cut (issue 13, item 3): a reminder for 60 debits was cut after 22 with
"...", losing the total, how to pay and STOP. Every list message, with 1, 5 and 200 entries of the
longest names, in both languages, fits WhatsApp's limit by summing up the rest ("and 38 more
items, ₹12,340"), keeps its total and its next step, and never leans on the renderer's cut."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Any

import pytest

from bot.messages import LISTS, MAX_MESSAGE_CHARS, Renderer, Reply, utf16_len
from bot.payments.pay import PayOptions, pay_vars
from bot.reminders import breakdown
from bot.statements import SHOWN_ITEMS, DueItem, Dues, dues_vars

RENDERER = Renderer()
# A line listing one entry: a product's name, or a reminder's order or adjustment.
ENTRY = re.compile(r"Aashirvaad Shudh|टाटा संपन्न|^• (Order|Adjustment|ऑर्डर|समायोजन)")
# Names as long as the checkout lets through (NAME_CHARS = 40), in both scripts, with emoji.
NAMES = ["Aashirvaad Shudh Chakki Atta 10kg Bag 🌾…", "टाटा संपन्न अरहर दाल अनपॉलिश्ड 1 किलो पै…"]


def name(i: int) -> str:
    return NAMES[i % 2][:40]


def reminder(n: int) -> dict[str, Any]:
    items = [
        {
            "transaction_id": i, "order_id": 100_000 + i if i % 4 else None,
            "reason": None if i % 4 else "correction", "note": None if i % 4 else "x" * 40,
            "unpaid": 12_34_567 + i, "due_date": f"2026-11-{1 + i % 28:02d}",
            "days_overdue": i % 40, "stage": "overdue" if i % 40 else "due_today",
        }
        for i in range(n)
    ]  # fmt: skip
    total = sum(int(i["unpaid"]) for i in items)
    pay = pay_vars(PayOptions(upi_id="sharma.traders@okhdfcbank", payee="Sharma Traders"), total)
    return {
        "name": "Ramesh Kumar Venkataraman Subramaniam",
        "stage": "escalating",
        "items": items,
        "total_due": total,
        "breakdown": breakdown(items),
        "pay": pay,
    }


def cart(n: int) -> dict[str, Any]:
    lines = [
        {"n": i + 1, "name": name(i), "quantity": 999, "unit_price": 9_99_999,
         "line_total": 999 * 9_99_999}
        for i in range(n)
    ]  # fmt: skip
    return {
        "lines": lines,
        "unavailable": [],
        "total": sum(int(line["line_total"]) for line in lines),
        "reordered": False,
        "has_pending": True,
    }


def catalogue_page(n: int) -> dict[str, Any]:
    return {
        "category": "Staples and groceries of every kind",
        "items": [
            {"n": 1000 + i, "name": name(i), "price": 9_99_999, "unit": "bottle"} for i in range(n)
        ],
        "page": 1,
        "pages": 3,
        "has_next": True,
        "example": 1000,
    }


def confirmation(n: int) -> dict[str, Any]:
    items = [{"name": name(i), "quantity": 999, "line_total": 999 * 9_99_999} for i in range(n)]
    return {
        "name": "Ramesh Kumar Venkataraman Subramaniam",
        "order_id": 1_000_042,
        "total": sum(int(i["line_total"]) for i in items),
        "mode": "CREDIT",
        "due_date": "2026-12-15",
        "items": items,
        "available": 12_34_567_00,
    }


def problems(n: int) -> dict[str, Any]:
    return {
        "problems": [
            {"kind": "negative", "ref": f"{name(i)} -2", "name": name(i), "example": "atta 2"}
            for i in range(n)
        ],
        "unchanged": True,
    }


def added(n: int) -> dict[str, Any]:
    return {
        "added": [
            {"name": name(i), "quantity": 999, "line_total": 999 * 9_99_999} for i in range(n)
        ],
        "count": n,
        "total": n * 999 * 9_99_999,
        "browsing": False,
    }


def statement(n: int) -> dict[str, Any]:
    """The chat `statement` as the handler builds it: the first items loaded (every other one an
    adjustment with the longest note an operator may write), the count and total of all."""
    today = date(2026, 2, 20)
    items = tuple(
        DueItem(
            i, 100_000 + i if i % 2 else None, 12_34_567, 12_34_567 - i,
            date(2026, 1, 1) + timedelta(days=i % 28), date(2026, 1, 16) + timedelta(days=i % 60),
            None if i % 2 else "correction", None if i % 2 else "rate difference " * 31,
        )
        for i in range(n)
    )  # fmt: skip
    dues = Dues(items[:SHOWN_ITEMS], n, sum(i.unpaid for i in items), 0)
    pay = pay_vars(PayOptions(upi_id="sharma.traders@okhdfcbank", payee="Sharma Traders"), 1)
    return {
        "name": "Ramesh Kumar Venkataraman Subramaniam",
        "has_credit": True,
        "today": today,
        "advance": 0,
        "pay": pay,
        **dues_vars(dues, today),
    }


# template -> (variables for n entries, what must be in it whatever n: total and next step)
CASES = {
    "payment_reminder": (reminder, {"en": ["Total due:", "upi://pay", "*STOP*"],
                                    "hi": ["कुल बकाया:", "upi://pay", "*STOP*"]}),
    "cart": (cart, {"en": ["*Total:", "*checkout*"], "hi": ["*कुल:", "*checkout*"]}),
    "catalogue_page": (catalogue_page, {"en": ["*menu*", "*cart*"], "hi": ["*menu*", "*cart*"]}),
    "order_confirmation": (confirmation, {"en": ["Total:", "*menu*"], "hi": ["कुल:", "*menu*"]}),
    "item_problems": (problems, {"en": ["Nothing was changed."], "hi": ["कुछ नहीं बदला गया।"]}),
    "items_added": (added, {"en": ["Cart:", "*checkout*"], "hi": ["कार्ट:", "*checkout*"]}),
    "statement": (statement, {"en": ["Total due:", "upi://pay", "*balance*"],
                              "hi": ["कुल बकाया:", "upi://pay", "*balance*"]}),
}  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "hi"])
@pytest.mark.parametrize("n", [1, 5, 200])
@pytest.mark.parametrize("template", sorted(CASES))
def test_long_lists_are_summed_up_never_cut(
    template: str, n: int, lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    make, musts = CASES[template]
    variables = make(n)
    with caplog.at_level(logging.WARNING, logger="bot.messages"):
        text = RENDERER.render(Reply(template, variables), lang)
    assert utf16_len(text) <= MAX_MESSAGE_CHARS
    assert not caplog.records, "the renderer had to cut the text"
    for must in musts[lang]:
        assert must in text, (must, text[-300:])
    assert template in LISTS
    shown = sum(1 for line in text.splitlines() if ENTRY.search(line))
    if n == 1:
        assert shown == 1 and "…" not in text.replace(name(0), "").replace(name(1), "")
    if n == 200:
        assert 0 < shown < 200
        more = f"{200 - shown} more" if lang == "en" else f"और {200 - shown}"
        assert more in text, text[-400:]


def test_the_reminder_lists_a_few_and_points_to_the_statement() -> None:
    text = RENDERER.render(Reply("payment_reminder", reminder(60)))
    assert text.count("\n• ") == 9  # 8 listed, then the rest summed up
    rest = reminder(60)["items"][8:]
    total_rest = sum(int(i["unpaid"]) for i in rest)
    assert f"…and 52 more items, ₹{total_rest // 100:,}".replace(",", "") in text.replace(",", "")
    assert "reply *statement* for the full list" in text
    hindi = RENDERER.render(Reply("payment_reminder", reminder(60)), "hi")
    assert "…और 52 बिल" in hindi and "*statement*" in hindi
