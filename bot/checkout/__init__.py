"""The WhatsApp checkout as a pure state machine (diagram and words: `docs/checkout.md`).

`step(conversation, inbound, facts) -> Decision(conversation, replies, effects)`: the handler loads
the facts (retailer, credit, catalogue, pending order), calls `step`, applies the effects in the
same transaction, stores the new conversation and sends the replies. Placing an order needs the
ledger's answer, so `PlaceOrder` is followed by `after_placement(conversation, placement, facts)`.
Refusals are replies, never exceptions; every input, however odd, gets at least one reply.

Stage names are stored in `conversations.stage`; their values never change.

The package, each module importing only those above it:

- `model`: the data (`Stage`, `Conversation`, `Inbound`, the facts, the effects, `Decision`,
  `Placement`) and the limits (page size, cart lines, pending order lifetime).
- `turn`: `Turn`, what one step accumulates (conversation, replies, effects), and small helpers.
- `units`: a unit typed after a quantity against the product's pack ("atta 5 kg" of a 10 kg bag).
- `numbering`: the catalogue numbering a retailer was shown; what a number means in it.
- `cart`: pricing, showing and adding to the cart; an open pending order kept in step with it.
- `payment`: checkout, payment choice, confirm, cancel, and `after_placement`.
- `hints`: the stage hint's variables.
- `catalogue`: the menu, category pages, "how many?", picking among matches.
- `items`: item lines ("2 x 5", "maggi 3") and cart edits ("remove 2").
- `resume`: a waiting checkout picked up where it stopped (`resume`, or `haan` to its follow-up).
- `states`: `STAGES`, the table from stage to the handler of stage-specific words and numbers.
- `commands`: words that mean the same at every stage.
- `machine`: `step`, which tries the stage, then the global words, then cart edits, then items.

What the rest of the code uses is re-exported here: `from bot.checkout import X`.
"""

from bot.checkout.machine import needs_dues, needs_history, needs_payment, not_registered, step
from bot.checkout.model import (
    HEARD_CHARS,
    MAX_CART_LINES,
    NAME_CHARS,
    PAGE_SIZE,
    PENDING_TTL,
    CancelPendingOrder,
    CompletePendingOrder,
    Conversation,
    Decision,
    Effect,
    ExpirePendingOrder,
    Facts,
    History,
    Inbound,
    OpenPendingOrder,
    PastOrder,
    PendingOrder,
    Placement,
    PlaceOrder,
    Product,
    RequestPaymentLink,
    Retailer,
    SetInsightsOff,
    SetLanguage,
    SetOptOut,
    Stage,
    UpdatePendingOrder,
    attach_pending,
)
from bot.checkout.payment import after_placement
from bot.checkout.states import STAGES
from bot.orders import OrderLine, PricedLine

__all__ = [
    "HEARD_CHARS",
    "MAX_CART_LINES",
    "NAME_CHARS",
    "PAGE_SIZE",
    "PENDING_TTL",
    "STAGES",
    "CancelPendingOrder",
    "CompletePendingOrder",
    "Conversation",
    "Decision",
    "Effect",
    "ExpirePendingOrder",
    "Facts",
    "History",
    "Inbound",
    "OpenPendingOrder",
    "OrderLine",
    "PastOrder",
    "PendingOrder",
    "PlaceOrder",
    "Placement",
    "PricedLine",
    "Product",
    "RequestPaymentLink",
    "Retailer",
    "SetInsightsOff",
    "SetLanguage",
    "SetOptOut",
    "Stage",
    "UpdatePendingOrder",
    "after_placement",
    "attach_pending",
    "needs_dues",
    "needs_history",
    "needs_payment",
    "not_registered",
    "step",
]
