"""A waiting checkout picked up where it stopped: `resume`, or a yes to its follow-up.

The follow-up (`pending_order_follow_up`) says "Reply *haan* or *resume* to continue"; both must
do exactly that, at today's prices and credit: the confirm question again when payment was
chosen (nothing is placed before the retailer sees the total once more), the payment choice when
it was not, else the cart.
"""

from __future__ import annotations

from bot.checkout.cart import pending_live, show_cart, to_cart
from bot.checkout.model import Stage
from bot.checkout.payment import checkout, choose_payment, pending_gone
from bot.checkout.turn import Turn


def follow_up_answered(t: Turn) -> bool:
    """Whether this checkout's follow-up is the last thing the retailer read from us before they
    wrote: it was sent (not just queued: one held for quiet hours is not read yet) after their
    previous message, and the checkout is still open. (The sender drops a follow-up that a
    message of theirs overtook.)"""
    p = t.facts.pending
    if p is None or p.followed_up_at is None or not pending_live(t):
        return False
    last = t.facts.retailer.last_message_at
    return last is None or last < p.followed_up_at


def resume(t: Turn) -> None:
    """Continue the checkout at the stage it stopped, prices and credit checked again."""
    if t.conv.pending_id is not None and pending_gone(t):
        return  # expired or cancelled meanwhile: said so, the cart kept
    if t.conv.stage == Stage.CONFIRM and t.conv.mode is not None:
        choose_payment(t, t.conv.mode)  # re-priced, credit checked, the confirm question again
    elif t.conv.stage in (Stage.PAYMENT, Stage.CONFIRM):
        checkout(t)
    else:
        to_cart(t, changed=False)
        show_cart(t)
