"""Words that mean the same at every stage (help, menu, cart, cancel, balance, STOP ...)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.checkout.cart import reorder, show_cart, to_cart
from bot.checkout.catalogue import show_menu
from bot.checkout.hints import hint_vars
from bot.checkout.model import (
    HEARD_CHARS,
    History,
    RequestPaymentLink,
    SetInsightsOff,
    SetLanguage,
    SetOptOut,
    Stage,
)
from bot.checkout.payment import cancel, checkout
from bot.checkout.turn import Turn
from bot.clock import business_date
from bot.credit import credit_standing, overdue_blocks_credit
from bot.insights import insights_vars
from bot.parsing import Command, is_emoji_only, normalize
from bot.payments.pay import needs_link, pay_vars
from bot.statements import Dues, dues_vars, next_due


def global_command(t: Turn, command: Command | None) -> bool:
    """Words that mean the same at every stage; True when handled."""
    if command is None:
        return False
    if command == Command.HELP:
        t.say("help", name=t.facts.retailer.name)
    elif command == Command.GREETING:
        greet(t)
        show_menu(t)
    elif command == Command.MENU:
        show_menu(t)
    elif command == Command.CART:
        to_cart(t, changed=False)
        show_cart(t)
    elif command == Command.CHECKOUT:
        checkout(t)
    elif command in (Command.CANCEL, Command.CLEAR):
        cancel(t, clear=command == Command.CLEAR)
    elif command == Command.REORDER:
        reorder(t)
    elif command in (Command.BALANCE, Command.CREDIT):
        _credit_status(t)
    elif command == Command.STATEMENT:
        _statement(t)
    elif command == Command.INSIGHTS:
        _insights(t)
    elif command in (Command.LANGUAGE_EN, Command.LANGUAGE_HI):
        language = "hi" if command == Command.LANGUAGE_HI else "en"
        t.effects.append(SetLanguage(language))
        t.language = language
        t.say("language_changed", language=language)
    elif command in (Command.INSIGHTS_OFF, Command.INSIGHTS_ON):
        off = command == Command.INSIGHTS_OFF
        t.effects.append(SetInsightsOff(off))
        t.say("insights_switched", off=off)
    elif command == Command.STOP:
        t.effects.append(SetOptOut(True))
        t.say("opted_out")
    elif command == Command.START:
        t.effects.append(SetOptOut(False))
        t.say("opted_in")
    elif command == Command.YES and t.conv.placed_order is not None and not t.conv.cart:
        # "confirm" sent again (a double tap, or a retry on a slow network) after the order.
        t.say("already_placed", order_id=t.conv.placed_order)
    else:  # YES, NO, NEXT, PREV, COD where the stage gives them no meaning
        t.say("hint", **hint_vars(t))
    return True


def unknown(t: Turn, said: str, fresh: bool) -> None:
    """A message nothing understood: the menu to a new conversation, else the stage hint."""
    if fresh:
        show_menu(t)
        return
    heard = "" if is_emoji_only(said) else normalize(said)[:HEARD_CHARS]
    t.say("hint", **hint_vars(t, heard=heard))


def greet(t: Turn) -> None:
    """Say the greeting with the credit line; the conversation moves to MENU."""
    r = t.facts.retailer
    t.say("greeting", name=r.name, shop_name=r.shop_name, **credit_vars(t))
    t.conv = replace(t.conv, stage=Stage.MENU, numbers=t.facts.catalogue)


def credit_vars(t: Turn) -> dict[str, Any]:
    """What every message about the credit line says it from (greeting, balance, refusals):
    the one `credit_standing`, so each states only what is true now. `available` is shown only
    when the standing is OPEN; a pause says what to pay, a block whom to call."""
    c = t.facts.credit
    if c is None:
        return {
            "has_credit": False, "standing": "", "available": 0, "limit": 0, "outstanding": 0,
            "advance": 0, "overdue_unpaid": 0, "overdue_blocks": False,
            "max_outstanding_days": 0, "override_until": None, "support_phone": None,
        }  # fmt: skip
    return {
        "has_credit": True,
        "standing": credit_standing(c, t.facts.tolerance).value,
        "available": c.available,
        "limit": c.credit_limit,
        "outstanding": c.outstanding,
        "advance": c.advance,
        "overdue_unpaid": c.overdue_unpaid,
        # At or above the tolerance: paying it is what lifts the hold or the SYSTEM pause.
        "overdue_blocks": overdue_blocks_credit(c.overdue_unpaid, t.facts.tolerance),
        "max_outstanding_days": c.max_outstanding_days,
        "override_until": c.override_until,
        "support_phone": t.facts.support_phone,
    }


def _credit_status(t: Turn) -> None:
    c = t.facts.credit
    owed = c.outstanding if c else 0
    if needs_link(t.facts.payment, owed):
        t.effects.append(RequestPaymentLink(owed))
    t.say(
        "credit_status",
        name=t.facts.retailer.name,
        payment_terms_days=c.payment_terms_days if c else 0,
        opted_out=t.facts.retailer.opted_out,
        pay=pay_vars(t.facts.payment, owed),
        **credit_vars(t),
        next_due=next_due(t.facts.dues or Dues(), business_date(t.now, t.facts.tz)),
    )


def _statement(t: Turn) -> None:
    """What is owed item by item (soonest due first), the total and how to pay."""
    c = t.facts.credit
    dues = t.facts.dues or Dues()
    if needs_link(t.facts.payment, dues.total):
        t.effects.append(RequestPaymentLink(dues.total))
    t.say(
        "statement",
        name=t.facts.retailer.name,
        has_credit=c is not None,
        advance=c.advance if c else 0,
        today=business_date(t.now, t.facts.tz),
        pay=pay_vars(t.facts.payment, dues.total),
        **dues_vars(dues, business_date(t.now, t.facts.tz)),
    )


def _insights(t: Turn) -> None:
    h = t.facts.history or History()
    if h.insight:
        try:
            t.say("insights", **insights_vars(t.facts.retailer.name, dict(h.insight)))
            return
        except (KeyError, TypeError):
            pass  # an insight row of another shape: fall back to the plain summary
    t.say(
        "recent_orders",
        name=t.facts.retailer.name,
        orders=[
            {
                "id": o.id,
                "placed_on": o.placed_on,
                "total": o.total,
                "mode": o.payment_mode,
                "status": o.status,
            }
            for o in h.recent[:5]
        ],
    )
