"""What a retailer types and reads at checkout (issue 13), as tables: quantities that cannot be
right, units against the pack, cart edits and clearing said honestly, `resume` and a `haan` to the
follow-up, `insights off`. Pure: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.checkout import (
    CancelPendingOrder,
    Conversation,
    ExpirePendingOrder,
    OpenPendingOrder,
    OrderLine,
    PendingOrder,
    PlaceOrder,
    Product,
    SetInsightsOff,
    Stage,
    UpdatePendingOrder,
)
from bot.checkout.units import PackQuestion, pack_question, quantity_unit
from bot.credit import CreditStatus, PaymentMode
from bot.messages import Reply
from tests.test_checkout import (
    ATTA,
    CATALOGUE,
    CONFIRM_COD,
    CONFIRM_CREDIT,
    EXPIRED,
    IN_CART,
    LIVE,
    MENU,
    NOW,
    PAYMENT,
    PRODUCTS,
    QUANTITY,
    RENDERER,
    SALT,
    credit,
    facts,
    kinds,
    names,
    number_of,
    run,
)

# --- quantities that cannot be right ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kind, en, hi",
    [
        ("atta -2", "negative", "can't be below zero", "शून्य से कम"),
        ("atta x -2", "negative", "can't be below zero", "शून्य से कम"),
        ("atta minus 2", "negative", "can't be below zero", "शून्य से कम"),
        (f"{number_of(ATTA)} x -1", "negative", "can't be below zero", "शून्य से कम"),
        ("atta 0", "zero", "at least 1", "कम से कम 1"),
        ("atta 2.5", "fraction", "whole packs", "पूरे पैकेट"),
        ("aadha atta", "fraction", "whole packs", "पूरे पैकेट"),
        ("atta 5000", "too_many", "at most 999", "ज़्यादा से ज़्यादा 999"),
    ],
)
@pytest.mark.parametrize("state", [MENU, IN_CART], ids=["menu", "cart"])
def test_a_quantity_that_cannot_be_right_is_quoted_and_changes_nothing(
    state: Conversation, text: str, kind: str, en: str, hi: str
) -> None:
    d = run(state, text)
    assert names(d) == ["item_problems"]
    assert d.effects == ()
    assert d.conversation.cart == state.cart and d.conversation.stage == state.stage
    (problem,) = d.replies[0].vars["problems"]
    assert problem["kind"] == kind
    english, hindi = RENDERER.render(d.replies[0]), RENDERER.render(d.replies[0], "hi")
    assert f'"{text}"' in english and f'"{text}"' in hindi  # what was typed, quoted
    assert en in english and "Nothing was changed." in english
    assert hi in hindi and "कुछ नहीं बदला गया।" in hindi


def test_two_x_minus_one_never_lists_products() -> None:
    """ "2 x -1" once offered nine products to pick from."""
    d = run(MENU, "2 x -1")
    assert names(d) == ["item_problems"]
    assert d.replies[0].vars["problems"][0]["kind"] == "negative"
    assert d.conversation.choices == ()


def test_a_bad_line_among_good_ones_adds_the_good_ones_only() -> None:
    d = run(MENU, "maggi 3\natta -2")
    assert names(d) == ["items_added", "item_problems"]
    assert [line.quantity for line in d.conversation.cart] == [3]
    assert "Nothing was changed" not in RENDERER.render(d.replies[1])


@pytest.mark.parametrize(
    "text, kind",
    [("-2", "negative"), ("2.5", "fraction"), ("aadha", "fraction"), ("0", "zero"),
     ("5000", "too_many")],
)  # fmt: skip
def test_how_many_answered_with_a_bad_quantity_asks_again(text: str, kind: str) -> None:
    d = run(QUANTITY, text)
    assert names(d) == ["item_problems"]
    assert d.replies[0].vars["problems"][0]["kind"] == kind
    assert d.conversation.stage == Stage.QUANTITY and d.conversation.asking == ATTA
    assert d.conversation.cart == ()
    assert "Aashirvaad Atta 10kg" in RENDERER.render(d.replies[0])


# --- units against the pack ---------------------------------------------------------------------


def product(name: str, unit: str) -> Product:
    return Product(1, "X", name, "Staples", 100_00, unit)


@pytest.mark.parametrize(
    "name, unit, quantity, typed, question",
    [
        ("Aashirvaad Atta 10kg", "bag", 2, None, None),  # no unit: bags
        ("Aashirvaad Atta 10kg", "bag", 2, "bag", None),  # a counting word: bags
        ("Aashirvaad Atta 10kg", "bag", 2, "pack", None),
        ("Maggi Noodles (12 pack)", "box", 24, "dozen", None),
        ("Aashirvaad Atta 10kg", "bag", 5, "kg", PackQuestion("10 kg", None)),  # half a bag
        ("Aashirvaad Atta 10kg", "bag", 20, "kg", PackQuestion("10 kg", 2)),  # likely 2: ask
        ("Sona Masoori Rice 25kg", "bag", 50, "kg", PackQuestion("25 kg", 2)),
        ("Tata Salt 1kg", "pack", 5, "kg", None),  # 1 kg packs: 5 kg is 5 packs
        ("Toor Dal 1kg", "kg", 5, "kg", None),  # sold by the kilo
        ("Fortune Sunflower Oil 1L", "bottle", 3, "l", None),
        ("Mustard Oil 5 L", "tin", 10, "l", PackQuestion("5 L", 2)),
        ("Taj Mahal Tea 500g", "pack", 2, "kg", PackQuestion("500 g", 4)),
        ("Fortune Sunflower Oil 1L", "bottle", 3, "kg", PackQuestion("1 L", None)),  # kg of oil
        ("Lux Soap (4 pack)", "pack", 2, "kg", PackQuestion("", None)),  # no size to go by
    ],
)
def test_pack_question(
    name: str, unit: str, quantity: int, typed: str | None, question: PackQuestion | None
) -> None:
    assert pack_question(product(name, unit), quantity, typed) == question


@pytest.mark.parametrize(
    "text, unit",
    [("5 kg", "kg"), ("2 bori", "bag"), ("३ किलो", "kg"), ("5", None), ("500 g", None),
     ("5 kg atta", None)],
)  # fmt: skip
def test_quantity_unit(text: str, unit: str | None) -> None:
    assert quantity_unit(text) == unit


def test_a_weight_that_is_not_plainly_packs_is_asked_about_not_guessed() -> None:
    d = run(MENU, "atta 5 kg do")
    assert names(d) == ["ask_pack"]
    assert d.conversation.stage == Stage.QUANTITY and d.conversation.asking == ATTA
    assert d.conversation.cart == ()
    text = RENDERER.render(d.replies[0])
    assert text.startswith('"atta 5 kg do": *Aashirvaad Atta 10kg* comes as a 10 kg bag')
    assert "How many bags?" in text
    assert "10 kg के एक बैग" in RENDERER.render(d.replies[0], "hi")
    # The number that answers it is bags.
    then = run(d.conversation, "1")
    assert then.conversation.cart == (OrderLine(ATTA, 1),)

    d = run(MENU, "atta 20 kg")
    text = RENDERER.render(d.replies[0])
    assert "20 kg is 2 bags: reply *2* for that" in text
    # "how many?" answered with a weight is asked about again; with kilos of salt it is packs.
    assert names(run(QUANTITY, "20 kg")) == ["ask_pack"]
    salt = run(replace(QUANTITY, asking=SALT), "5 kilo")
    assert salt.conversation.cart == (OrderLine(SALT, 5),)
    assert names(run(MENU, "namak 5 kg")) == ["items_added"]


def test_a_weight_among_several_lines_is_a_problem_named_with_its_line() -> None:
    d = run(MENU, "maggi 2\natta 20 kg")
    assert names(d) == ["items_added", "item_problems"]
    (problem,) = d.replies[1].vars["problems"]
    assert problem["kind"] == "pack" and problem["example"] == "atta 2"
    assert '"atta 20 kg": Aashirvaad Atta 10kg comes as a 10 kg bag, so 20 kg is 2 of them' in (
        RENDERER.render(d.replies[1])
    )


# --- honest words at the cart -------------------------------------------------------------------


def test_remove_a_line_the_cart_does_not_have_says_how_many_it_has() -> None:
    seven = replace(IN_CART, cart=tuple(OrderLine(pid, 1) for pid in CATALOGUE[:7]))
    d = run(seven, "remove 9")
    assert names(d) == ["item_problems"] and d.conversation.cart == seven.cart
    assert "There is no line 9: your cart has 7 lines." in RENDERER.render(d.replies[0])
    assert "लाइन 9 नहीं है: आपके कार्ट में 7 लाइन हैं।" in RENDERER.render(d.replies[0], "hi")
    one = replace(IN_CART, cart=(OrderLine(ATTA, 1),))
    assert "your cart has 1 line." in RENDERER.render(run(one, "remove 2").replies[0])


def test_a_one_line_cart_offers_only_what_it_has() -> None:
    d = run(replace(IN_CART, cart=(OrderLine(ATTA, 2),)), "cart")
    text = RENDERER.render(d.replies[0])
    assert "*remove 1* to take it out" in text and "remove 2" not in text
    assert "remove 2" not in RENDERER.render(d.replies[0], "hi")
    # Two lines: the example is the last line.
    assert "*remove 2* to take out line 2" in RENDERER.render(run(IN_CART, "cart").replies[0])


@pytest.mark.parametrize(
    "state, text, pending, effects, words",
    [
        # An order that expired meanwhile: recorded as expired, nothing said of a delivery.
        (replace(PAYMENT), "clear", EXPIRED, [ExpirePendingOrder], "Your cart is cleared."),
        (replace(PAYMENT), "cancel", EXPIRED, [ExpirePendingOrder], "Your cart is cleared."),
        (IN_CART, "clear", None, [], "Your cart is cleared."),
        (replace(PAYMENT), "clear", LIVE, [CancelPendingOrder],
         "Your cart is cleared and the order you were placing is cancelled"),
        (replace(PAYMENT), "cancel", LIVE, [CancelPendingOrder],
         "Your order is cancelled before it was placed: nothing will be delivered."),
    ],
)  # fmt: skip
def test_clear_and_cancel_say_what_happened(
    state: Conversation, text: str, pending: PendingOrder | None, effects: list[type], words: str
) -> None:
    d = run(state, text, facts(pending=pending))
    assert names(d) == ["checkout_cancelled"]
    assert [type(e) for e in d.effects] == effects
    rendered = RENDERER.render(d.replies[0])
    assert words in rendered
    if pending is not LIVE:
        assert "delivered" not in rendered
        assert "भेजा जाएगा" not in RENDERER.render(d.replies[0], "hi")


def test_pick_starts_the_list_on_its_own_line() -> None:
    d = run(MENU, "dal 3")
    assert names(d) == ["pick_product"]
    for lang in ("en", "hi"):
        first, second = RENDERER.render(d.replies[0], lang).splitlines()[:2]
        assert first.endswith("3)") and second[0].isdigit(), (first, second)


def test_hindi_menu_says_one_item_in_the_singular() -> None:
    d = run(replace(MENU, cart=(OrderLine(ATTA, 1),)), "menu")
    hindi = RENDERER.render(d.replies[0], "hi")
    assert "1 सामान है:" in hindi and "1 सामान हैं" not in hindi
    d = run(IN_CART, "menu")
    assert "2 सामान हैं:" in RENDERER.render(d.replies[0], "hi")


# --- resume, and a yes to the follow-up ---------------------------------------------------------

FOLLOWED_UP = replace(LIVE, followed_up_at=NOW - timedelta(minutes=30))


def after_follow_up(**changes: object) -> object:
    """Facts of a checkout whose follow-up came after the retailer's last message."""
    f = facts(pending=FOLLOWED_UP, **changes)  # type: ignore[arg-type]
    return replace(f, retailer=replace(f.retailer, last_message_at=NOW - timedelta(hours=3)))


@pytest.mark.parametrize("text", ["haan", "resume", "continue", "jari rakho", "जारी रखें"])
def test_haan_to_the_follow_up_resumes_and_places_nothing(text: str) -> None:
    """The follow-up says "Reply *resume* (or *haan*) to carry on": at CONFIRM that is the
    confirm question again at today's prices, never the order placed unseen."""
    d = run(CONFIRM_CREDIT, text, after_follow_up())
    assert names(d) == ["confirm_order"]
    assert not any(isinstance(e, PlaceOrder) for e in d.effects)
    assert kinds(d) == ["UpdatePendingOrder"]
    assert d.conversation.stage == Stage.CONFIRM and d.conversation.mode == PaymentMode.CREDIT
    # And the next "haan" places it.
    f = after_follow_up()
    f = replace(f, retailer=replace(f.retailer, last_message_at=NOW))  # that "haan" was read
    again = run(d.conversation, "haan", f)  # type: ignore[arg-type]
    assert kinds(again) == ["PlaceOrder"]


def test_resume_checks_prices_and_credit_again() -> None:
    cheaper = {**PRODUCTS, ATTA: replace(PRODUCTS[ATTA], price=400_00)}
    f = after_follow_up()
    f = replace(f, products=cheaper)  # type: ignore[type-var]
    d = run(CONFIRM_CREDIT, "resume", f)  # type: ignore[arg-type]
    (update,) = d.effects
    assert isinstance(update, UpdatePendingOrder) and update.total == 2 * 400_00 + 10 * 28_00
    assert d.replies[0].vars["total"] == update.total
    # Credit paused since: said, and back to the payment choice.
    paused = after_follow_up(credit_facts=credit(CreditStatus.PAUSED))
    d = run(CONFIRM_CREDIT, "resume", paused)  # type: ignore[arg-type]
    assert names(d) == ["refusal_credit_paused"] and d.conversation.stage == Stage.PAYMENT


@pytest.mark.parametrize(
    "state, templates, stage",
    [
        (CONFIRM_COD, ["confirm_order"], Stage.CONFIRM),
        (PAYMENT, ["payment_options"], Stage.PAYMENT),
        (replace(IN_CART, pending_id=7), ["cart"], Stage.CART),
    ],
)
def test_resume_picks_up_at_the_stage_it_stopped(
    state: Conversation, templates: list[str], stage: Stage
) -> None:
    d = run(state, "resume", after_follow_up())  # type: ignore[arg-type]
    assert names(d) == templates and d.conversation.stage == stage


def test_resume_after_expiry_says_so_and_keeps_the_cart() -> None:
    d = run(CONFIRM_COD, "resume", facts(pending=EXPIRED))
    assert names(d) == ["pending_expired"]
    assert d.conversation.cart == CONFIRM_COD.cart and d.effects == (ExpirePendingOrder(7),)
    assert names(run(MENU, "resume")) == ["cart_empty"]


def test_haan_after_another_message_is_the_stage_s_own_yes() -> None:
    """A follow-up the retailer wrote after is not what a "haan" answers: at CONFIRM it places
    the order, as the confirm question they last read says."""
    f = facts(pending=FOLLOWED_UP)
    f = replace(f, retailer=replace(f.retailer, last_message_at=NOW - timedelta(minutes=5)))
    assert kinds(run(CONFIRM_COD, "haan", f)) == ["PlaceOrder"]
    # No follow-up at all: the same.
    assert kinds(run(CONFIRM_COD, "haan", facts(pending=LIVE))) == ["PlaceOrder"]


def test_a_checkout_in_progress_is_opened_as_before() -> None:
    assert kinds(run(IN_CART, "haan")) == [OpenPendingOrder.__name__]


# --- insights off / on --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, off",
    [("insights off", True), ("insights band karo", True), ("रिपोर्ट बंद", True),
     ("insights on", False), ("insights chalu karo", False)],
)  # fmt: skip
def test_insights_off_and_on(text: str, off: bool) -> None:
    d = run(MENU, text)
    assert names(d) == ["insights_switched"] and d.effects == (SetInsightsOff(off),)
    words = "no more weekly insights" if off else "Weekly insights are on"
    assert words in RENDERER.render(d.replies[0])


# --- a thank-you is not a message the bot "didn't understand" (walk of issue 13) -------------


@pytest.mark.parametrize(
    "text", ["thanks", "Thank you ji", "thnx!", "shukriya", "dhanyavad", "धन्यवाद", "bahut shukriya"]
)
@pytest.mark.parametrize("state", [MENU, IN_CART], ids=["menu", "cart"])
def test_a_thank_you_gets_a_namaste_and_the_next_step_not_sorry(
    state: Conversation, text: str
) -> None:
    d = run(state, text)
    assert names(d) == ["hint"] and d.effects == ()
    assert d.conversation.cart == state.cart and d.conversation.stage == state.stage
    english, hindi = RENDERER.render(d.replies[0]), RENDERER.render(d.replies[0], "hi")
    assert english.startswith("🙏 You're welcome.") and "didn't understand" not in english
    assert hindi.startswith("🙏 आपका स्वागत है।") and "समझ नहीं आया" not in hindi


@pytest.mark.parametrize("text", ["ok", "thanks atta", "you", "very much", "kya haal"])
def test_what_is_no_thank_you_is_not_thanked(text: str) -> None:
    d = run(IN_CART, text)
    assert not any(r.vars.get("thanked") for r in d.replies)


@pytest.mark.parametrize("stage", [Stage.START, Stage.MENU])
@pytest.mark.parametrize("thanked", [False, True])
def test_the_hint_names_help_once(stage: Stage, thanked: bool) -> None:
    """A stage hint with no categories to offer said "Reply *menu* ..., or *help*. *help* shows
    everything." (both languages; seen after `balance` on a blocked account)."""
    hint = Reply(
        "hint",
        {"stage": stage.value, "heard": "", "thanked": thanked, "categories": 0, "asking": "",
         "choices": 0, "cart_count": 0, "credit_allowed": False},
    )  # fmt: skip
    for lang in ("en", "hi"):
        text = RENDERER.render(hint, lang)
        assert text.count("*help*") == 1, (lang, text)
