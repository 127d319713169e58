"""The variables of the stage hint ("Reply item number and quantity ...") for any stage."""

from __future__ import annotations

from typing import Any

from bot.checkout.model import Stage
from bot.checkout.numbering import categories
from bot.checkout.payment import payment_vars
from bot.checkout.turn import Turn, short


def hint_vars(t: Turn, *, heard: str = "", thanked: bool = False) -> dict[str, Any]:
    """The variables of the stage hint, echoing `heard` (what was not understood); `thanked`
    when the message was a thank-you (answered with a 🙏, never "didn't understand")."""
    stage = t.conv.stage
    asking = t.facts.products.get(t.conv.asking) if t.conv.asking is not None else None
    credit_allowed = False
    if stage in (Stage.PAYMENT, Stage.CONFIRM):
        credit_allowed = bool(payment_vars(t)["credit_allowed"])
    return {
        "stage": stage.value,
        "heard": heard,
        "thanked": thanked,
        "categories": len(categories(t)) if stage in (Stage.MENU, Stage.START) else 0,
        "asking": short(asking.name) if asking else "",
        "choices": len(t.conv.choices),
        "cart_count": len(t.conv.cart),
        "credit_allowed": credit_allowed,
    }
