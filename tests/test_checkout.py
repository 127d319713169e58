"""The checkout state machine as tables: every stage, every command, refusals and odd input.

Pure: no database, no event loop. Each row is (state, what the retailer types, the facts) ->
(templates replied, next stage, effects).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.checkout import (
    MAX_CART_LINES,
    STAGES,
    CancelPendingOrder,
    CompletePendingOrder,
    Conversation,
    Decision,
    ExpirePendingOrder,
    Facts,
    History,
    Inbound,
    OpenPendingOrder,
    OrderLine,
    PastOrder,
    PendingOrder,
    Placement,
    PlaceOrder,
    PricedLine,
    Product,
    Retailer,
    SetLanguage,
    SetOptOut,
    Stage,
    UpdatePendingOrder,
    after_placement,
    needs_history,
    step,
)
from bot.credit import CreditFacts, CreditStatus, PaymentMode
from bot.messages import Renderer
from bot.money import format_inr
from db.seed import PRODUCTS as SEED_PRODUCTS

NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
PRODUCTS = {
    i: Product(i, sku, name, category, price, unit)
    for i, (sku, name, category, price, unit) in enumerate(SEED_PRODUCTS, start=1)
}
CATALOGUE = tuple(p.id for p in sorted(PRODUCTS.values(), key=lambda p: (p.category, p.name, p.id)))
BY_SKU = {p.sku: p.id for p in PRODUCTS.values()}
ATTA, SALT, HARPIC = BY_SKU["ATTA-10"], BY_SKU["SALT-1"], BY_SKU["CLEAN-HAR-1"]
TOOR, MOONG = BY_SKU["DAL-TUR-1"], BY_SKU["DAL-MOONG-1"]


def number_of(pid: int) -> int:
    return CATALOGUE.index(pid) + 1


def credit(
    status: CreditStatus = CreditStatus.ACTIVE,
    *,
    limit: int = 100_000_00,
    outstanding: int = 0,
    max_order: int = 50_000_00,
    overdue: int = 0,
) -> CreditFacts:
    return CreditFacts(status, limit, outstanding, max_order, 30, 15, overdue)


def facts(
    *,
    credit_facts: CreditFacts | None = None,
    no_account: bool = False,
    pending: PendingOrder | None = None,
    history: History | None = None,
    inactive: frozenset[int] = frozenset(),
    language: str = "en",
) -> Facts:
    products = {pid: replace(p, active=pid not in inactive) for pid, p in PRODUCTS.items()}
    return Facts(
        retailer=Retailer(
            1, "Ramesh Kumar", "Ramesh General Store", language, False, "+919800000001"
        ),
        credit=None if no_account else (credit_facts or credit()),
        products=products,
        catalogue=tuple(pid for pid in CATALOGUE if pid not in inactive),
        pending=pending,
        history=history,
        tolerance=100_00,
        tz=UTC,
    )


LIVE = PendingOrder(7, "PENDING", NOW + timedelta(hours=20))
EXPIRED = PendingOrder(7, "PENDING", NOW - timedelta(minutes=1))
CANCELLED = PendingOrder(7, "CANCELLED", NOW + timedelta(hours=20))

CART = (OrderLine(ATTA, 2), OrderLine(SALT, 10))  # ₹900 + ₹280 = ₹1,180
# The cart as added: atta when it cost ₹10 less than today; salt at today's price.
CART_SEEN_CHEAPER = (
    OrderLine(ATTA, 2, PRODUCTS[ATTA].price - 10_00),
    OrderLine(SALT, 10, PRODUCTS[SALT].price),
)
CART_SEEN_SAME = (
    OrderLine(ATTA, 2, PRODUCTS[ATTA].price),
    OrderLine(SALT, 10, PRODUCTS[SALT].price),
)
# The pending order as the retailer last saw it: atta at ₹10 less than today's price.
SEEN_CHEAPER = replace(
    LIVE,
    lines=(
        PricedLine(ATTA, "ATTA-10", "Atta", PRODUCTS[ATTA].price - 10_00, 2,
                   (PRODUCTS[ATTA].price - 10_00) * 2),
        PricedLine(SALT, "SALT-1", "Salt", PRODUCTS[SALT].price, 10, PRODUCTS[SALT].price * 10),
    ),
)  # fmt: skip
SEEN_SAME = replace(
    SEEN_CHEAPER,
    lines=(replace(SEEN_CHEAPER.lines[0], unit_price=PRODUCTS[ATTA].price), SEEN_CHEAPER.lines[1]),
)
START = Conversation()
MENU = Conversation(Stage.MENU, numbers=CATALOGUE)
BROWSING = replace(MENU, stage=Stage.BROWSING, category=0, page=0)
QUANTITY = replace(MENU, stage=Stage.QUANTITY, asking=ATTA)
PICK = replace(MENU, stage=Stage.PICK, choices=(TOOR, MOONG))
PICK_3 = replace(PICK, choice_quantity=3)
IN_CART = replace(MENU, stage=Stage.CART, cart=CART)
PAYMENT = replace(IN_CART, stage=Stage.PAYMENT, pending_id=7)
CONFIRM_CREDIT = replace(PAYMENT, stage=Stage.CONFIRM, mode=PaymentMode.CREDIT)
CONFIRM_COD = replace(PAYMENT, stage=Stage.CONFIRM, mode=PaymentMode.COD)

HISTORY = History(
    last_order=(OrderLine(ATTA, 3), OrderLine(HARPIC, 1)),
    recent=(PastOrder(41, date(2026, 1, 10), 135000, "CREDIT", "PLACED"),),
)
INSIGHT = {
    "asOf": "2026-01-15",
    "windowDays": 90,
    "orders": 4,
    "spend": 500000,
    "averageOrder": 125000,
    "lastOrderOn": "2026-01-10",
    "daysSinceLastOrder": 5,
    "typicalGapDays": 7,
    "dueToReorder": False,
    "topItems": [{"name": "Aashirvaad Atta 10kg", "quantity": 12}],
    "creditSharePercent": 80,
}

RENDERER = Renderer()


def run(conv: Conversation, text: str, f: Facts | None = None, **inbound: Any) -> Decision:
    decision = step(conv, Inbound(text=text, received_at=NOW, **inbound), f or facts())
    # Every reply must render in the language chosen, within WhatsApp's limit.
    for reply in decision.replies:
        assert len(RENDERER.render(reply, decision.language)) <= 1600
    return decision


def names(d: Decision) -> list[str]:
    return [r.template for r in d.replies]


def kinds(d: Decision) -> list[str]:
    return [type(e).__name__ for e in d.effects]


ROWS: list[tuple[str, Conversation, str, Facts | None, list[str], Stage, list[str]]] = [
    # id, state, text, facts, templates, next stage, effects
    ("start hi", START, "hi", None, ["greeting", "menu"], Stage.MENU, []),
    ("start namaste", START, "Namaste", None, ["greeting", "menu"], Stage.MENU, []),
    ("start empty", START, "", None, ["greeting", "menu"], Stage.MENU, []),
    ("start photo", START, "", None, ["greeting", "media_hint"], Stage.MENU, []),
    ("start chatter", START, "kya haal hai", None, ["greeting", "menu"], Stage.MENU, []),
    ("start item", START, "2 x 5", None, ["greeting", "items_added"], Stage.CART, []),
    ("start balance", START, "balance", None, ["greeting", "credit_status"], Stage.MENU, []),
    ("start category", START, "1", None, ["greeting", "catalogue_page"], Stage.BROWSING, []),
    ("menu category", MENU, "1", None, ["catalogue_page"], Stage.BROWSING, []),
    ("menu category hindi digit", MENU, "२", None, ["catalogue_page"], Stage.BROWSING, []),
    ("menu no such category", MENU, "99", None, ["hint"], Stage.MENU, []),
    ("menu category 0", MENU, "0", None, ["hint"], Stage.MENU, []),
    ("menu next", MENU, "next", None, ["hint"], Stage.MENU, []),
    ("menu yes", MENU, "ok", None, ["hint"], Stage.MENU, []),
    ("menu item pair", MENU, "2 5", None, ["items_added"], Stage.CART, []),
    ("browse next", BROWSING, "next", None, ["catalogue_page"], Stage.BROWSING, []),
    ("browse more", BROWSING, "aage", None, ["catalogue_page"], Stage.BROWSING, []),
    ("browse back at first", BROWSING, "back", None, ["menu"], Stage.MENU, []),
    ("browse number", BROWSING, "3", None, ["ask_quantity"], Stage.QUANTITY, []),
    ("browse add", BROWSING, "3 x 2", None, ["items_added"], Stage.BROWSING, []),
    ("browse unknown number", BROWSING, "999", None, ["item_problems"], Stage.BROWSING, []),
    ("quantity", QUANTITY, "4", None, ["items_added"], Stage.CART, []),
    ("quantity zero", QUANTITY, "0", None, ["item_problems"], Stage.QUANTITY, []),
    ("quantity 10^9", QUANTITY, "1000000000", None, ["item_problems"], Stage.QUANTITY, []),
    ("quantity no", QUANTITY, "nahi", None, ["hint"], Stage.BROWSING, []),
    ("quantity words", QUANTITY, "kal dena", None, ["hint"], Stage.QUANTITY, []),
    ("pick then ask", PICK, "2", None, ["ask_quantity"], Stage.QUANTITY, []),
    ("pick with quantity", PICK_3, "1", None, ["items_added"], Stage.CART, []),
    ("pick out of range", PICK, "9", None, ["hint"], Stage.PICK, []),
    ("pick no", PICK, "no", None, ["menu"], Stage.MENU, []),
    ("cart checkout", IN_CART, "checkout", None, ["payment_options"], Stage.PAYMENT,
     ["OpenPendingOrder"]),
    ("cart haan", IN_CART, "haan", None, ["payment_options"], Stage.PAYMENT, ["OpenPendingOrder"]),
    ("cart done", IN_CART, "bas", None, ["payment_options"], Stage.PAYMENT, ["OpenPendingOrder"]),
    ("cart remove", IN_CART, "remove 1", None, ["item_removed", "cart"], Stage.CART, []),
    ("cart remove hindi", IN_CART, "2 hatao", None, ["item_removed", "cart"], Stage.CART, []),
    ("cart change", IN_CART, "change 1 5", None, ["quantity_changed", "cart"], Stage.CART, []),
    ("cart change to 0", IN_CART, "change 2 0", None, ["item_removed", "cart"], Stage.CART, []),
    ("cart change too many", IN_CART, "change 1 5000", None, ["item_problems"], Stage.CART, []),
    # The brief of issue 13: say how many lines there are, not "didn't understand".
    ("cart remove no such line", IN_CART, "remove 9", None, ["item_problems"], Stage.CART, []),
    ("cart view", IN_CART, "cart", None, ["cart"], Stage.CART, []),
    ("cart number asks", IN_CART, "4", None, ["ask_quantity"], Stage.QUANTITY, []),
    ("cart add merges", IN_CART, f"{number_of(ATTA)} x 1", None, ["items_added"], Stage.CART, []),
    ("checkout empty", MENU, "checkout", None, ["cart_empty"], Stage.CART, []),
    ("checkout live pending reused", replace(IN_CART, pending_id=7), "checkout",
     facts(pending=LIVE), ["payment_options"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("checkout expired pending replaced", replace(IN_CART, pending_id=7), "checkout",
     facts(pending=EXPIRED), ["payment_options"], Stage.PAYMENT,
     ["ExpirePendingOrder", "OpenPendingOrder"]),
    ("checkout paused", IN_CART, "checkout", facts(credit_facts=credit(CreditStatus.PAUSED)),
     ["payment_options", "refusal_credit_paused"], Stage.PAYMENT, ["OpenPendingOrder"]),
    # A price changed since the line was added (the "Added" reply showed the old one): said at
    # checkout, before the payment choice (walk of issue 12); unchanged, nothing is said.
    ("checkout price changed since added", replace(IN_CART, cart=CART_SEEN_CHEAPER), "checkout",
     None, ["cart_prices_changed", "payment_options"], Stage.PAYMENT, ["OpenPendingOrder"]),
    ("checkout prices as added", replace(IN_CART, cart=CART_SEEN_SAME), "checkout", None,
     ["payment_options"], Stage.PAYMENT, ["OpenPendingOrder"]),
    ("checkout inactive dropped", IN_CART, "checkout", facts(inactive=frozenset({SALT})),
     ["refusal_product_unavailable", "payment_options"], Stage.PAYMENT, ["OpenPendingOrder"]),
    ("checkout all inactive", IN_CART, "checkout", facts(inactive=frozenset({SALT, ATTA})),
     ["refusal_product_unavailable", "cart_empty"], Stage.CART, []),
    ("pay 1 credit", PAYMENT, "1", facts(pending=LIVE), ["confirm_order"], Stage.CONFIRM,
     ["UpdatePendingOrder"]),
    ("pay credit word", PAYMENT, "credit", facts(pending=LIVE), ["confirm_order"],
     Stage.CONFIRM, ["UpdatePendingOrder"]),
    ("pay udhaar", PAYMENT, "udhaar", facts(pending=LIVE), ["confirm_order"], Stage.CONFIRM,
     ["UpdatePendingOrder"]),
    ("pay 2 cod", PAYMENT, "2", facts(pending=LIVE), ["confirm_order"], Stage.CONFIRM,
     ["UpdatePendingOrder"]),
    ("pay cod", PAYMENT, "COD", facts(pending=LIVE), ["confirm_order"], Stage.CONFIRM,
     ["UpdatePendingOrder"]),
    ("pay cash", PAYMENT, "cash", facts(pending=LIVE), ["confirm_order"], Stage.CONFIRM,
     ["UpdatePendingOrder"]),
    ("pay credit paused", PAYMENT, "1",
     facts(pending=LIVE, credit_facts=credit(CreditStatus.PAUSED)),
     ["refusal_credit_paused"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("pay credit blocked", PAYMENT, "credit",
     facts(pending=LIVE, credit_facts=credit(CreditStatus.BLOCKED)),
     ["refusal_credit_blocked"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("pay credit over limit", PAYMENT, "1",
     facts(pending=LIVE, credit_facts=credit(limit=100_000_00, outstanding=99_500_00)),
     ["refusal_credit_limit_exceeded"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("pay credit above max order", PAYMENT, "1",
     facts(pending=LIVE, credit_facts=credit(max_order=1_000_00)),
     ["refusal_order_value_exceeded"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("pay credit overdue", PAYMENT, "1",
     facts(pending=LIVE, credit_facts=credit(outstanding=5_000_00, overdue=5_000_00)),
     ["refusal_overdue_outstanding"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("pay credit overdue below tolerance", PAYMENT, "1",
     facts(pending=LIVE, credit_facts=credit(outstanding=99_00, overdue=99_00)),
     ["confirm_order"], Stage.CONFIRM, ["UpdatePendingOrder"]),
    ("pay credit no account", PAYMENT, "1", facts(pending=LIVE, no_account=True),
     ["refusal_no_credit_account"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("pay cod when paused", PAYMENT, "2",
     facts(pending=LIVE, credit_facts=credit(CreditStatus.PAUSED)),
     ["confirm_order"], Stage.CONFIRM, ["UpdatePendingOrder"]),
    ("pay no", PAYMENT, "nahi", facts(pending=LIVE), ["cart"], Stage.CART, []),
    ("pay haan", PAYMENT, "haan", facts(pending=LIVE), ["choose_payment"], Stage.PAYMENT, []),
    ("pay other number", PAYMENT, "3", facts(pending=LIVE), ["choose_payment"], Stage.PAYMENT,
     []),
    ("pay expired", PAYMENT, "1", facts(pending=EXPIRED), ["pending_expired"], Stage.CART,
     ["ExpirePendingOrder"]),
    ("pay cancelled elsewhere", PAYMENT, "2", facts(pending=CANCELLED), ["pending_expired"],
     Stage.CART, []),
    ("confirm credit", CONFIRM_CREDIT, "confirm", facts(pending=LIVE), [], Stage.CONFIRM,
     ["PlaceOrder"]),
    ("confirm haan", CONFIRM_CREDIT, "haan", facts(pending=LIVE), [], Stage.CONFIRM,
     ["PlaceOrder"]),
    ("confirm ok", CONFIRM_COD, "OK", facts(pending=LIVE), [], Stage.CONFIRM, ["PlaceOrder"]),
    ("confirm thumbs up", CONFIRM_COD, "👍", facts(pending=LIVE), [], Stage.CONFIRM,
     ["PlaceOrder"]),
    ("confirm yes devanagari", CONFIRM_COD, "हाँ", facts(pending=LIVE), [], Stage.CONFIRM,
     ["PlaceOrder"]),
    ("confirm cod while paused", CONFIRM_COD, "confirm",
     facts(pending=LIVE, credit_facts=credit(CreditStatus.PAUSED)), [], Stage.CONFIRM,
     ["PlaceOrder"]),
    ("confirm credit paused meanwhile", CONFIRM_CREDIT, "confirm",
     facts(pending=LIVE, credit_facts=credit(CreditStatus.PAUSED)),
     ["refusal_credit_paused"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("confirm expired", CONFIRM_CREDIT, "confirm", facts(pending=EXPIRED), ["pending_expired"],
     Stage.CART, ["ExpirePendingOrder"]),
    ("confirm cancelled", CONFIRM_COD, "confirm", facts(pending=CANCELLED), ["pending_expired"],
     Stage.CART, []),
    ("confirm product retired", CONFIRM_COD, "confirm",
     facts(pending=LIVE, inactive=frozenset({SALT})),
     ["refusal_product_unavailable", "payment_options"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("confirm all retired", CONFIRM_COD, "confirm",
     facts(pending=LIVE, inactive=frozenset({SALT, ATTA})),
     ["refusal_product_unavailable", "cart_empty"], Stage.CART, ["CancelPendingOrder"]),
    ("confirm no", CONFIRM_CREDIT, "nahi", facts(pending=LIVE), ["payment_options"],
     Stage.PAYMENT, []),
    ("confirm switch to cod", CONFIRM_CREDIT, "cod", facts(pending=LIVE), ["confirm_order"],
     Stage.CONFIRM, ["UpdatePendingOrder"]),
    ("confirm number", CONFIRM_CREDIT, "1", facts(pending=LIVE), ["hint"], Stage.CONFIRM, []),
    ("confirm when nothing pending", MENU, "confirm", None, ["hint"], Stage.MENU, []),
    ("confirm again after the order", replace(MENU, placed_order=1042), "confirm", None,
     ["already_placed"], Stage.MENU, []),
    ("haan after the order", replace(MENU, placed_order=1042), "haan", None,
     ["already_placed"], Stage.MENU, []),
    ("confirm with a new cart after an order", replace(IN_CART, placed_order=1042), "confirm",
     None, ["payment_options"], Stage.PAYMENT, ["OpenPendingOrder"]),
    # prices changed since the retailer saw the total: told before paying, chosen again
    ("price changed before the choice", PAYMENT, "1", facts(pending=SEEN_CHEAPER),
     ["prices_changed", "payment_options"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("price changed before confirm", CONFIRM_CREDIT, "confirm", facts(pending=SEEN_CHEAPER),
     ["prices_changed", "payment_options"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("price changed before cod confirm", CONFIRM_COD, "haan", facts(pending=SEEN_CHEAPER),
     ["prices_changed", "payment_options"], Stage.PAYMENT, ["UpdatePendingOrder"]),
    ("prices as seen: choice goes on", PAYMENT, "2", facts(pending=SEEN_SAME),
     ["confirm_order"], Stage.CONFIRM, ["UpdatePendingOrder"]),
    ("prices as seen: confirm places", CONFIRM_COD, "confirm", facts(pending=SEEN_SAME), [],
     Stage.CONFIRM, ["PlaceOrder"]),
    # "khata" is the statement, except at the payment choice where it means on credit
    ("khata at payment", PAYMENT, "khata", facts(pending=LIVE), ["confirm_order"],
     Stage.CONFIRM, ["UpdatePendingOrder"]),
    ("khata at confirm switches to credit", CONFIRM_COD, "खाता", facts(pending=LIVE),
     ["confirm_order"], Stage.CONFIRM, ["UpdatePendingOrder"]),
    ("khata in the menu", MENU, "khata", None, ["statement"], Stage.MENU, []),
    ("hisab dikhao in the cart", IN_CART, "hisab dikhao", None, ["statement"], Stage.CART, []),
    # anywhere
    ("help", PAYMENT, "help", facts(pending=LIVE), ["help"], Stage.PAYMENT, []),
    ("help ?", MENU, "?", None, ["help"], Stage.MENU, []),
    ("madad", MENU, "madad", None, ["help"], Stage.MENU, []),
    ("menu from confirm", CONFIRM_COD, "menu", facts(pending=LIVE), ["menu"], Stage.MENU, []),
    ("hello again", IN_CART, "hello", None, ["greeting", "menu"], Stage.MENU, []),
    ("cancel pending", PAYMENT, "cancel", facts(pending=LIVE), ["checkout_cancelled"],
     Stage.MENU, ["CancelPendingOrder"]),
    ("cancel confirm", CONFIRM_CREDIT, "radd", facts(pending=LIVE), ["checkout_cancelled"],
     Stage.MENU, ["CancelPendingOrder"]),
    ("cancel cart only", IN_CART, "cancel", None, ["checkout_cancelled"], Stage.MENU, []),
    ("cancel nothing", MENU, "cancel", None, ["nothing_to_cancel"], Stage.MENU, []),
    ("cancel after the order", replace(MENU, placed_order=1042), "cancel", None,
     ["nothing_to_cancel"], Stage.MENU, []),
    ("cancel a new cart after an order", replace(IN_CART, placed_order=1042), "cancel", None,
     ["checkout_cancelled"], Stage.MENU, []),
    ("clear cart", IN_CART, "clear cart", None, ["checkout_cancelled"], Stage.MENU, []),
    ("cart from confirm", CONFIRM_CREDIT, "cart", facts(pending=LIVE), ["cart"], Stage.CART,
     []),
    ("cart empty", MENU, "cart", None, ["cart_empty"], Stage.CART, []),
    ("add at payment updates pending", PAYMENT, "5 x 1", facts(pending=LIVE),
     ["items_added"], Stage.CART, ["UpdatePendingOrder"]),
    ("remove last with pending", replace(PAYMENT, cart=(OrderLine(ATTA, 1),)), "remove 1",
     facts(pending=LIVE), ["item_removed", "cart_empty"], Stage.CART, ["CancelPendingOrder"]),
    ("reorder", MENU, "reorder", facts(history=HISTORY, inactive=frozenset({HARPIC})),
     ["refusal_product_unavailable", "cart"], Stage.CART, []),
    ("reorder repeat", MENU, "repeat", facts(history=replace(HISTORY, last_order=CART)),
     ["cart"], Stage.CART, []),
    ("reorder with pending", PAYMENT, "reorder",
     facts(history=replace(HISTORY, last_order=CART), pending=LIVE),
     ["cart"], Stage.CART, ["UpdatePendingOrder"]),
    ("reorder nothing", MENU, "reorder", facts(history=History()), ["reorder_empty"],
     Stage.MENU, []),
    ("balance", BROWSING, "balance", None, ["credit_status"], Stage.BROWSING, []),
    ("credit word outside payment", MENU, "credit", None, ["credit_status"], Stage.MENU, []),
    ("hisaab", MENU, "hisaab", None, ["statement"], Stage.MENU, []),
    ("balance no account", MENU, "balance", facts(no_account=True), ["credit_status"],
     Stage.MENU, []),
    ("insights", MENU, "insights", facts(history=replace(HISTORY, insight=INSIGHT)),
     ["insights"], Stage.MENU, []),
    ("insights before any", MENU, "insights", facts(history=HISTORY), ["recent_orders"],
     Stage.MENU, []),
    ("insights no orders", MENU, "insights", facts(history=History()), ["recent_orders"],
     Stage.MENU, []),
    ("language hi", MENU, "language hi", None, ["language_changed"], Stage.MENU,
     ["SetLanguage"]),
    ("language hindi", IN_CART, "Hindi", None, ["language_changed"], Stage.CART,
     ["SetLanguage"]),
    ("language en", MENU, "language en", facts(language="hi"), ["language_changed"],
     Stage.MENU, ["SetLanguage"]),
    ("stop", CONFIRM_COD, "STOP", facts(pending=LIVE), ["opted_out"], Stage.CONFIRM,
     ["SetOptOut"]),
    ("start again", MENU, "START", None, ["opted_in"], Stage.MENU, ["SetOptOut"]),
    # odd input
    ("empty", MENU, "", None, ["empty_message"], Stage.MENU, []),
    ("whitespace", IN_CART, "   \n ", None, ["empty_message"], Stage.CART, []),
    ("media without text", IN_CART, "", None, ["media_hint"], Stage.CART, []),
    ("emoji only", MENU, "🙏🙏", None, ["hint"], Stage.MENU, []),
    ("4000 chars", MENU, "a" * 4000, None, ["too_long"], Stage.MENU, []),
    ("4000 chars of items", MENU, "1 x 1\n" * 700, None, ["too_long"], Stage.MENU, []),
    ("quantity 0", MENU, "2 x 0", None, ["item_problems"], Stage.MENU, []),
    ("quantity 10^9", MENU, "2 x 1000000000", None, ["item_problems"], Stage.MENU, []),
    ("quantity 10^9 spelled", MENU, "2 x 10^9", None, ["hint"], Stage.MENU, []),
    ("fraction after a name", MENU, "atta 2.5", None, ["item_problems"], Stage.MENU, []),
    ("fraction before a name", MENU, "0.5 atta", None, ["item_problems"], Stage.MENU, []),
    ("fraction after a number", MENU, "2 x 1.5", None, ["item_problems"], Stage.MENU, []),
    ("fraction among good lines", MENU, "maggi 3\natta 2.5", None,
     ["items_added", "item_problems"], Stage.CART, []),
    ("inactive product", MENU, f"{number_of(HARPIC)} x 2",
     facts(inactive=frozenset({HARPIC})), ["item_problems"], Stage.MENU, []),
    ("unknown item number", MENU, "500 x 2", None, ["item_problems"], Stage.MENU, []),
    ("name and quantity", MENU, "maggi 3", None, ["items_added"], Stage.CART, []),
    ("quantity and name", MENU, "3 maggi", None, ["items_added"], Stage.CART, []),
    ("misspelt name", MENU, "magi 3", None, ["items_added"], Stage.CART, []),
    ("hindi name", MENU, "चीनी ५", None, ["items_added"], Stage.CART, []),
    ("hinglish name", MENU, "chini 2", None, ["items_added"], Stage.CART, []),
    ("name only asks", MENU, "maggi", None, ["ask_quantity"], Stage.QUANTITY, []),
    ("ambiguous name", MENU, "dal 2", None, ["pick_product"], Stage.PICK, []),
    ("unknown name", MENU, "pizza 2", None, ["hint"], Stage.MENU, []),
    ("several lines", MENU, "2 x 5\nmaggi 3, atta 1", None, ["items_added"], Stage.CART, []),
    ("several with problems", MENU, "2 x 5\npizza 3\ndal 2\natta\n3 x 0", None,
     ["items_added", "item_problems"], Stage.CART, []),
    ("several all bad", MENU, "pizza 3\nburger 2", None, ["item_problems"], Stage.MENU, []),
    ("button payload", PAYMENT, "", facts(pending=LIVE), ["confirm_order"], Stage.CONFIRM,
     ["UpdatePendingOrder"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "state, text, f, templates, stage, effects",
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_step(
    state: Conversation,
    text: str,
    f: Facts | None,
    templates: list[str],
    stage: Stage,
    effects: list[str],
) -> None:
    extra: dict[str, Any] = {}
    if text == "" and templates[-1] == "media_hint":
        extra["num_media"] = 1
    if text == "" and templates == ["confirm_order"]:
        extra["button"] = "cod"
    d = run(state, text, f, **extra)
    assert names(d) == templates
    assert d.conversation.stage == stage
    assert kinds(d) == effects


def test_every_stage_is_in_the_table() -> None:
    covered = {row[1].stage for row in ROWS}
    assert covered == set(Stage)


def test_every_stage_has_its_handler() -> None:
    """The state table is total: a stored stage always finds its handler."""
    assert set(STAGES) == set(Stage)


def test_stage_values_are_fixed() -> None:
    # Stored in the database: renaming one would orphan conversations.
    assert [s.value for s in Stage] == [
        "START", "MENU", "BROWSING", "QUANTITY", "PICK", "CART", "PAYMENT", "CONFIRM",
    ]  # fmt: skip


def test_items_by_number_quantity_and_name() -> None:
    d = run(MENU, f"{number_of(ATTA)} x 2\n{number_of(SALT)} 10")
    assert d.conversation.cart == (OrderLine(ATTA, 2), OrderLine(SALT, 10))
    added = d.replies[0].vars
    assert added["total"] == 2 * 45000 + 10 * 2800
    d = run(d.conversation, f"{number_of(ATTA)}x1")
    assert d.conversation.cart[0] == OrderLine(ATTA, 3)  # adds up


def test_quantity_cap_per_line() -> None:
    d = run(replace(IN_CART, cart=(OrderLine(ATTA, 990),)), f"{number_of(ATTA)} x 10")
    assert names(d) == ["item_problems"]
    assert d.replies[0].vars["problems"][0]["kind"] == "too_many"
    assert d.conversation.cart == (OrderLine(ATTA, 990),)


def test_cart_holds_a_bounded_number_of_lines() -> None:
    ids = list(CATALOGUE)
    full = replace(IN_CART, cart=tuple(OrderLine(pid, 1) for pid in ids[:MAX_CART_LINES]))
    d = run(full, f"{MAX_CART_LINES + 1} x 1")
    assert d.replies[-1].vars["problems"][0]["kind"] == "cart_full"
    assert len(d.conversation.cart) == MAX_CART_LINES


def test_numbering_is_the_one_shown() -> None:
    # The catalogue changed after the retailer saw the list: "1" still means what was shown.
    shown = replace(MENU, numbers=(SALT, ATTA))
    d = run(shown, "1 x 4")
    assert d.conversation.cart == (OrderLine(SALT, 4),)
    # A fresh menu renumbers.
    d = run(shown, "menu")
    assert d.conversation.numbers == CATALOGUE


def test_greeting_shows_credit_line() -> None:
    d = run(START, "hi", facts(credit_facts=credit(limit=100_000_00, outstanding=40_500_00)))
    greeting = d.replies[0]
    assert greeting.template == "greeting"
    assert greeting.vars["available"] == 59_500_00
    text = RENDERER.render(greeting)
    assert "Ramesh Kumar" in text and "₹59,500" in text and "₹1,00,000" in text


def test_payment_options_offer_credit_with_available_amount() -> None:
    d = run(IN_CART, "checkout")
    (opts,) = d.replies
    assert opts.vars["credit_allowed"] is True
    assert opts.vars["available"] == 100_000_00
    assert opts.vars["total"] == 1_180_00
    assert opts.vars["due_date"] == date(2026, 1, 30)
    assert "1. *Credit* – available ₹1,00,000, due 30 Jan 2026" in RENDERER.render(opts)
    (effect,) = d.effects
    assert isinstance(effect, OpenPendingOrder)
    assert effect.total == 1_180_00
    assert effect.expires_at == NOW + timedelta(hours=24)
    assert [(line.product_id, line.quantity, line.line_total) for line in effect.lines] == [
        (ATTA, 2, 900_00),
        (SALT, 10, 280_00),
    ]


@pytest.mark.parametrize(
    "credit_facts, template, words",
    [
        (credit(CreditStatus.PAUSED), "refusal_credit_paused", "paused"),
        (credit(CreditStatus.BLOCKED), "refusal_credit_blocked", "blocked"),
        (credit(outstanding=99_500_00), "refusal_credit_limit_exceeded", "₹500"),
        (credit(max_order=1_000_00), "refusal_order_value_exceeded", "₹1,000"),
        (credit(outstanding=2_000_00, overdue=2_000_00), "refusal_overdue_outstanding", "₹2,000"),
    ],
)
def test_refused_credit_says_why_and_offers_cod(
    credit_facts: CreditFacts, template: str, words: str
) -> None:
    d = run(IN_CART, "checkout", facts(credit_facts=credit_facts))
    assert names(d) == ["payment_options", template]
    opts = RENDERER.render(d.replies[0])
    # No list with one choice starting at "2.": the reason says how to go on.
    assert "Credit" not in opts and "COD" not in opts and "₹1,180" in opts
    why = RENDERER.render(d.replies[1])
    assert words in why and "*2* or *COD*" in why
    hindi = RENDERER.render(d.replies[1], "hi")
    assert "COD" in hindi


def test_confirm_places_with_the_pending_order_and_mode() -> None:
    d = run(CONFIRM_CREDIT, "confirm", facts(pending=LIVE))
    (effect,) = d.effects
    assert effect == PlaceOrder(7, CART, PaymentMode.CREDIT)


def test_after_placement_confirms_with_number_total_mode_and_due_date() -> None:
    placed = Placement(
        allowed=True,
        code=None,
        available=98_820_00,
        order_id=1042,
        total=1_180_00,
        mode=PaymentMode.CREDIT,
        due_date=date(2026, 1, 30),
        items=(("Aashirvaad Atta 10kg", 2, 900_00), ("Tata Salt 1kg", 10, 280_00)),
    )
    d = after_placement(CONFIRM_CREDIT, placed, facts(pending=LIVE), NOW)
    assert names(d) == ["order_confirmation"]
    assert d.effects == (CompletePendingOrder(7, 1042),)
    assert d.conversation.stage == Stage.MENU
    assert d.conversation.cart == () and d.conversation.pending_id is None
    assert d.conversation.placed_order == 1042
    text = RENDERER.render(d.replies[0])
    for words in ("#1042", "₹1,180", "credit", "30 Jan 2026", "₹98,820"):
        assert words in text
    assert "30 जनवरी 2026" in RENDERER.render(d.replies[0], "hi")


@pytest.mark.parametrize(
    "code, templates, stage, effects",
    [
        ("CREDIT_LIMIT_EXCEEDED", ["refusal_credit_limit_exceeded"], Stage.PAYMENT,
         [UpdatePendingOrder]),
        ("CREDIT_PAUSED", ["refusal_credit_paused"], Stage.PAYMENT, [UpdatePendingOrder]),
        ("PRODUCT_UNAVAILABLE", ["refusal_product_unavailable", "cart"], Stage.CART,
         [UpdatePendingOrder]),
    ],
)  # fmt: skip
def test_after_placement_refused(
    code: str, templates: list[str], stage: Stage, effects: list[type]
) -> None:
    d = after_placement(CONFIRM_CREDIT, Placement(False, code, 0), facts(pending=LIVE), NOW)
    assert names(d) == templates
    assert d.conversation.stage == stage
    assert [type(e) for e in d.effects] == effects
    assert d.conversation.pending_id == 7  # still open: COD or a smaller cart can follow


def test_language_change_replies_in_the_new_language() -> None:
    d = run(MENU, "language hi")
    assert d.language == "hi"
    assert d.effects == (SetLanguage("hi"),)
    assert "हिंदी" in RENDERER.render(d.replies[0], d.language)


def test_stop_and_start() -> None:
    assert run(MENU, "stop").effects == (SetOptOut(True),)
    assert run(MENU, "start").effects == (SetOptOut(False),)


def test_cancel_clears_cart_and_pending() -> None:
    d = run(CONFIRM_CREDIT, "cancel", facts(pending=LIVE))
    assert d.effects == (CancelPendingOrder(7),)
    assert d.conversation == Conversation(Stage.MENU, numbers=CATALOGUE)


def test_expired_pending_cannot_be_confirmed_but_cart_stays() -> None:
    d = run(CONFIRM_COD, "confirm", facts(pending=EXPIRED))
    assert d.effects == (ExpirePendingOrder(7),)
    assert d.conversation.cart == CART and d.conversation.pending_id is None
    assert not any(isinstance(e, PlaceOrder) for e in d.effects)


def test_needs_history_only_for_reorder_and_insights() -> None:
    def need(text: str) -> bool:
        return needs_history(Inbound(text, NOW))

    assert need("reorder") and need("insights") and need("Repeat")
    assert not need("menu") and not need("2 x 5") and not need("")


def test_hint_echoes_what_was_not_understood_briefly() -> None:
    d = run(MENU, "please deliver tomorrow morning before ten o'clock " * 3)
    assert names(d) == ["hint"]
    assert len(d.replies[0].vars["heard"]) <= 40


def test_stored_state_round_trips_and_junk_starts_afresh() -> None:
    conv = replace(CONFIRM_CREDIT, choices=(1, 2), choice_quantity=3, asking=4, placed_order=9)
    assert Conversation.from_stored(conv.stage.value, conv.to_data()) == conv
    assert Conversation.from_stored("NO_SUCH_STAGE", {}) == Conversation()
    assert Conversation.from_stored("CART", {"cart": "garbage"}) == Conversation()
    assert Conversation.from_stored("CART", None) == Conversation(Stage.CART)


STATES = [START, MENU, BROWSING, QUANTITY, PICK, PICK_3, IN_CART, PAYMENT, CONFIRM_CREDIT,
          CONFIRM_COD]  # fmt: skip
WORDS = ["menu", "help", "cancel", "cart", "checkout", "credit", "cod", "confirm", "haan",
         "nahi", "ok", "reorder", "balance", "insights", "language hi", "STOP", "START",
         "next", "back", "1", "2", "0", "remove 1", "change 1 3", "2 x 5", "dal", "👍", ""]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    state=st.sampled_from(STATES),
    text=st.one_of(st.sampled_from(WORDS), st.text(max_size=60)),
    pending=st.sampled_from([None, LIVE, EXPIRED, CANCELLED]),
    paused=st.booleans(),
    media=st.integers(0, 2),
    language=st.sampled_from(["en", "hi"]),
)
def test_any_input_at_any_stage_gets_a_reply_that_renders(
    state: Conversation, text: str, pending: PendingOrder | None, paused: bool, media: int,
    language: str,
) -> None:  # fmt: skip
    f = facts(
        pending=pending,
        credit_facts=credit(CreditStatus.PAUSED if paused else CreditStatus.ACTIVE),
        history=HISTORY,
        language=language,
    )
    d = step(state, Inbound(text, NOW, num_media=media), f)
    placing = any(isinstance(e, PlaceOrder) for e in d.effects)
    assert d.replies or placing
    for reply in d.replies:
        rendered = RENDERER.render(reply, d.language)
        assert rendered.strip() and len(rendered) <= 1600
    # What is stored reads back the same.
    c = d.conversation
    assert Conversation.from_stored(c.stage.value, c.to_data()) == c


def test_cancelling_a_new_cart_forgets_the_earlier_order() -> None:
    d = run(replace(IN_CART, placed_order=1042), "cancel")
    assert d.conversation.placed_order is None
    again = run(d.conversation, "cancel")
    assert names(again) == ["nothing_to_cancel"]
    assert "#1042" not in RENDERER.render(again.replies[0])


def test_choices_are_shown_and_picked_by_their_catalogue_numbers() -> None:
    """The numbers a retailer sees for the dals are the ones the rest of the chat uses."""
    d = run(MENU, "dal 2")
    assert names(d) == ["pick_product"]
    shown = [o["n"] for o in d.replies[0].vars["options"]]
    assert sorted(shown) == sorted([number_of(TOOR), number_of(MOONG)])
    by_number = dict(zip(shown, d.conversation.choices, strict=True))
    for n, pid in by_number.items():
        picked = run(d.conversation, str(n))
        assert names(picked) == ["items_added"]
        assert picked.conversation.cart == (OrderLine(pid, 2),)
    # A position still works when it is not one of the shown numbers.
    first = run(d.conversation, "1")
    assert first.conversation.cart == (OrderLine(d.conversation.choices[0], 2),)


def test_checkout_says_which_prices_changed_since_they_were_added() -> None:
    """The retailer added atta at the old price; at checkout they read the change, the new total,
    and the cart takes today's prices as seen (a second checkout says nothing again)."""
    conv = replace(IN_CART, cart=CART_SEEN_CHEAPER)
    d = run(conv, "checkout", None)
    said = RENDERER.render(d.replies[0], "en")
    new = PRODUCTS[ATTA].price
    assert "Prices changed since you added" in said
    assert f"{format_inr(new - 10_00)} → *{format_inr(new)}*" in said
    assert [c.seen_price for c in d.conversation.cart] == [new, PRODUCTS[SALT].price]
    again = run(replace(d.conversation, stage=Stage.CART, pending_id=None), "checkout", None)
    assert names(again) == ["payment_options"]


def test_a_cart_keeps_the_prices_it_was_added_at_when_stored() -> None:
    conv = replace(IN_CART, cart=CART_SEEN_CHEAPER)
    back = Conversation.from_stored(conv.stage.value, conv.to_data())
    assert [c.seen_price for c in back.cart] == [c.seen_price for c in CART_SEEN_CHEAPER]
    # A cart stored before prices were kept reads as "not known": nothing to compare.
    old = Conversation.from_stored("CART", {"cart": [[ATTA, 2]]})
    assert old.cart == (OrderLine(ATTA, 2),) and old.cart[0].seen_price is None
