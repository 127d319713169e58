"""Honest words (issue 13, item 4): a count agrees with its noun, the next step comes last, and
the follow-up's approved template states the expiry as the free-form message does."""

from __future__ import annotations

import re

import asyncpg
import pytest

from bot.content import content_variables
from bot.credit import Direction
from bot.messages import TEMPLATES_DIR, Renderer, Reply, format_count
from bot.statements import SHOWN_ITEMS, dues_vars
from db.ledger import adjust
from db.statements import get_dues
from tests.ledger_support import NOW, TZ, credit_order, make_product, make_retailer
from tests.test_templates import SAMPLES

RENDERER = Renderer()


@pytest.mark.parametrize(
    "count, noun, plural, expected",
    [
        (0, "retailer", None, "0 retailers"),
        (1, "retailer", None, "1 retailer"),
        (6, "retailer", None, "6 retailers"),
        (1, "day", None, "1 day"),
        (45, "day", None, "45 days"),
        (1, "more item", None, "1 more item"),
        (52, "more item", None, "52 more items"),
        (2, "entry", "entries", "2 entries"),
        (1, "entry", "entries", "1 entry"),
    ],
)
def test_a_count_agrees_with_its_noun(
    count: int, noun: str, plural: str | None, expected: str
) -> None:
    assert format_count(count, noun, plural) == expected


# A count written before an English plural by hand ("{{ retailers }} retailers", "1 days"), or
# the older inline idiom: both go through the `plural` filter.
_BARE_PLURAL = re.compile(
    r"\}\}\s+(?:more\s+)?(?:days|retailers|items|orders|debits|lines|hours|entries|bills)\b"
)
_INLINE = re.compile(r'"s" if ')


@pytest.mark.parametrize("path", sorted((TEMPLATES_DIR / "en").glob("*.txt")), ids=lambda p: p.stem)
def test_no_english_template_writes_a_plural_after_a_count_by_hand(path: object) -> None:
    text = path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert not _BARE_PLURAL.search(text), _BARE_PLURAL.search(text)
    assert not _INLINE.search(text), "use the plural filter: {{ n | plural('day') }}"


@pytest.mark.parametrize(
    "template, variables, bad",
    [
        ("admin_risk", {**SAMPLES["admin_risk"], "retailers": 1}, "1 retailers"),
        ("admin_guardrails", {**SAMPLES["admin_guardrails"], "payment_terms_days": 1}, "1 days"),
    ],
)
def test_one_is_singular(template: str, variables: dict[str, object], bad: str) -> None:
    text = RENDERER.render(Reply(template, variables))
    assert bad not in text and bad[:-1] in text


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_credit_status_ends_with_the_next_step(lang: str) -> None:
    text = RENDERER.render(Reply("credit_status", SAMPLES["credit_status"]), lang)
    last = text.splitlines()[-1]
    assert "*menu*" in last and "*" + ("statement" if lang == "en" else "hisab") + "*" in last
    assert "9,000" not in last  # the next due amount is said before it


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_the_follow_up_ends_with_how_to_resume(lang: str) -> None:
    text = RENDERER.render(
        Reply("pending_order_follow_up", SAMPLES["pending_order_follow_up"]), lang
    )
    assert "*resume*" in text.splitlines()[-1]


@pytest.mark.parametrize(
    "lang, expiry",
    [("en", "28 Nov, 10 am"), ("hi", "28 नवंबर, सुबह 10 बजे")],
)
def test_the_follow_up_template_gives_the_expiry_as_the_message_does(
    lang: str, expiry: str
) -> None:
    variables = SAMPLES["pending_order_follow_up"]
    numbered = content_variables("pending_order_follow_up", variables, lang)
    assert numbered == {"1": "Ramesh", "2": "3", "3": "₹4,520", "4": expiry}
    assert expiry in RENDERER.render(Reply("pending_order_follow_up", variables), lang)


@pytest.mark.parametrize("template", ["order_confirmation", "confirm_order"])
@pytest.mark.parametrize("lang", ["en", "hi"])
def test_payment_is_said_with_one_colon(template: str, lang: str) -> None:
    text = RENDERER.render(Reply(template, SAMPLES[template]), lang)
    line = next(x for x in text.splitlines() if "₹500" in x)
    word = {"en": "credit", "hi": "उधार"}[lang]
    assert not re.search(rf"(Payment: |paid by |भुगतान: )\*?{word}\*?:", line), line


@pytest.mark.parametrize("template", ["order_failed", "order_cancelled"])
def test_hindi_says_one_amount_in_the_singular(template: str) -> None:
    text = RENDERER.render(Reply(template, SAMPLES[template]), "hi")
    assert "घटा दिए गए हैं" not in text and "घटा दी गई है" in text


@pytest.mark.parametrize(
    "lang, reason, words",
    [
        ("en", "correction", "Adjustment of 10 Feb 2026 (correction: weight short on invoice 88)"),
        ("hi", "correction", "समायोजन, 10 फ़रवरी 2026 (सुधार: weight short on invoice 88)"),
        ("en", "return", "(return: weight short"),
        ("hi", "discount", "(छूट: weight short"),
        ("en", None, "Other charge of 10 Feb 2026"),
        ("hi", None, "अन्य रकम, 10 फ़रवरी 2026"),
    ],
)
def test_the_statement_names_an_adjustments_reason(
    lang: str, reason: str | None, words: str
) -> None:
    sample = SAMPLES["statement"]
    items = [sample["items"][0], {**sample["items"][1], "reason": reason}]
    text = RENDERER.render(Reply("statement", {**sample, "items": items}), lang)
    assert words in text
    assert "Charge of" not in text and "शुल्क" not in text


async def test_the_chat_statement_reads_the_adjustments_reason_from_the_ledger(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as conn:
        rid = await make_retailer(conn)
        await credit_order(conn, rid, await make_product(conn), 1_000_00, now=NOW)
        await adjust(
            conn, rid, direction=Direction.DEBIT, amount=50_50, reason="correction",
            notes="rate difference, bill 88", performed_by="+919900000000", now=NOW, tz=TZ,
        )  # fmt: skip
        dues = await get_dues(conn, rid, NOW.date(), shown=SHOWN_ITEMS)
    assert [(i.reason, i.note) for i in dues.items] == [
        (None, None),
        ("correction", "rate difference, bill 88"),
    ]
    text = RENDERER.render(Reply("statement", {
        "name": "Ramesh", "has_credit": True, "today": NOW.date(), **dues_vars(dues, NOW.date()),
    }))  # fmt: skip
    assert "(correction: rate difference, bill 88): *₹50.50*" in text
