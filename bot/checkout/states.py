"""The state table: what a word or a number means at each stage.

`STAGES` (at the end) maps each stage to its handler, as python-telegram-bot's
`ConversationHandler(states={...})` does. `step` asks the conversation's stage handler first; one
that returns False leaves the message to the words that mean the same everywhere, then to cart
edits, then to item lines. Within a handler, the order of the tests is the order of precedence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.checkout.cart import add, show_cart, to_cart
from bot.checkout.catalogue import (
    ask_pack,
    ask_quantity,
    open_category,
    say_ask_quantity,
    show_menu,
    turn_page,
)
from bot.checkout.hints import hint_vars
from bot.checkout.items import bad_quantity
from bot.checkout.model import HEARD_CHARS, Stage
from bot.checkout.numbering import picked
from bot.checkout.payment import (
    checkout,
    choose_payment,
    confirm,
    payment_options,
    payment_vars,
    pending_gone,
)
from bot.checkout.turn import Turn
from bot.checkout.units import pack_question, quantity_unit
from bot.credit import PaymentMode
from bot.parsing import (
    PHRASES,
    BadQuantity,
    Command,
    QuantityProblem,
    normalize,
    parse_number,
    parse_request,
)

StageHandler = Callable[[Turn, Command | None, int | None], bool]
"""One stage's meaning of a message: `(turn, command or None, number or None) -> handled`."""


def in_menu(t: Turn, command: Command | None, number: int | None) -> bool:
    """MENU (and START): a number opens that category."""
    if number is None:
        return False
    open_category(t, number - 1, 0, number)
    return True


def in_browsing(t: Turn, command: Command | None, number: int | None) -> bool:
    """BROWSING: next / back turn the page; a number asks that item's quantity."""
    if command == Command.NEXT:
        turn_page(t, +1)
    elif command == Command.PREV:
        turn_page(t, -1)
    elif number is not None:
        ask_quantity(t, number)
    else:
        return False
    return True


def in_quantity(t: Turn, command: Command | None, number: int | None) -> bool:
    """QUANTITY: a number is how many of the asked product (a weight that is not plainly a
    number of packs is asked about); a quantity that cannot be right ("-2", "2.5", "0", "5000")
    is answered and asked again; no goes back to browsing."""
    if t.conv.asking is None:
        return False
    product = t.facts.products.get(t.conv.asking)
    typed = normalize(t.said)[:HEARD_CHARS]
    bad = parse_request(t.said)
    if typed in PHRASES.fractions:  # "aadha" alone reads as a name; here it answers "how many?"
        bad = BadQuantity(QuantityProblem.FRACTION, typed, typed)
    if isinstance(bad, BadQuantity) and bad.number is None and bad.query is None:
        t.say("item_problems", problems=[bad_quantity(t, bad, [], product)], unchanged=True)
    elif number is not None:
        unit = quantity_unit(t.said)
        question = pack_question(product, number, unit) if product is not None else None
        if product is not None and question is not None:
            ask_pack(t, product, question, typed, number, unit or "")
        else:
            add(t, [(t.conv.asking, number, typed)], single=True)
    elif command == Command.NO:
        t.conv = replace(t.conv, stage=Stage.BROWSING, asking=None)
        t.say("hint", **hint_vars(t))
    else:
        return False
    return True


def in_pick(t: Turn, command: Command | None, number: int | None) -> bool:
    """PICK: a number picks one of the products offered; no goes back to the menu."""
    if not t.conv.choices:
        return False
    if number is not None:
        pid = picked(t, number)
        if pid is None:
            t.say("hint", **hint_vars(t))
        elif t.conv.choice_quantity is None:
            t.conv = replace(t.conv, stage=Stage.QUANTITY, asking=pid, choices=())
            say_ask_quantity(t, pid)
        else:
            qty = t.conv.choice_quantity
            t.conv = replace(t.conv, choices=(), choice_quantity=None)
            add(t, [(pid, qty, str(number))], single=True)
    elif command == Command.NO:
        t.conv = replace(t.conv, stage=Stage.MENU, choices=(), choice_quantity=None)
        show_menu(t)
    else:
        return False
    return True


def in_cart(t: Turn, command: Command | None, number: int | None) -> bool:
    """CART: a number asks that item's quantity; yes checks out."""
    if number is not None:
        ask_quantity(t, number)
    elif command == Command.YES:
        checkout(t)
    else:
        return False
    return True


def in_payment(t: Turn, command: Command | None, number: int | None) -> bool:
    """PAYMENT: 1 / credit, 2 / cod; no back to the cart; another number or yes asks again."""
    if command == Command.CREDIT or number == 1:
        choose_payment(t, PaymentMode.CREDIT)
    elif command == Command.COD or number == 2:
        choose_payment(t, PaymentMode.COD)
    elif command == Command.NO:
        to_cart(t, changed=False)
        show_cart(t)
    elif command == Command.YES or number is not None:
        if not pending_gone(t):
            t.say("choose_payment", **payment_vars(t))
    else:
        return False
    return True


def in_confirm(t: Turn, command: Command | None, number: int | None) -> bool:
    """CONFIRM: yes places the order; credit / cod switch; no goes back to the payment choice."""
    if command == Command.YES:
        confirm(t)
    elif command == Command.CREDIT:
        choose_payment(t, PaymentMode.CREDIT)
    elif command == Command.COD:
        choose_payment(t, PaymentMode.COD)
    elif command == Command.NO:
        if not pending_gone(t):
            t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
            payment_options(t, not_placed=True)
    else:
        return False
    return True


STAGES: dict[Stage, StageHandler] = {
    # `step` greets a fresh conversation first, which moves it to MENU; START is here so that
    # every stored stage has its entry.
    Stage.START: in_menu,
    Stage.MENU: in_menu,
    Stage.BROWSING: in_browsing,
    Stage.QUANTITY: in_quantity,
    Stage.PICK: in_pick,
    Stage.CART: in_cart,
    Stage.PAYMENT: in_payment,
    Stage.CONFIRM: in_confirm,
}


# "khata" alone is the statement anywhere else, but at the payment choice a shop means "put it
# on my khata": on credit.
KHATA_WORDS = frozenset({"khata", "khate", "खाता", "खाते"})


def stage_command(t: Turn, command: Command | None, said: str) -> bool:
    """Words and numbers whose meaning depends on the stage; True when handled."""
    if (
        command == Command.STATEMENT
        and t.conv.stage in (Stage.PAYMENT, Stage.CONFIRM)
        and normalize(said) in KHATA_WORDS
    ):
        command = Command.CREDIT
    return STAGES[t.conv.stage](t, command, parse_number(said))
