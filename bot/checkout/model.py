"""The checkout's data: the conversation, the inbound message, the facts, the effects, the decision.

Frozen values only; `Conversation` is what `conversations.stage` and `data` store, `Facts` what the
handler loads before `step`, `Effect` what it carries out after. Stage names are stored: their
values never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from bot.credit import CreditFacts, PaymentMode, RefusalCode
from bot.messages import Reply
from bot.orders import OrderLine, PricedLine
from bot.payments.pay import PayOptions
from bot.statements import Dues


class Stage(StrEnum):
    """Where a conversation stands. Stored values: never rename them."""

    START = "START"  # never greeted
    MENU = "MENU"  # categories shown; a number opens one
    BROWSING = "BROWSING"  # a category page shown; a number asks that item's quantity
    QUANTITY = "QUANTITY"  # "how many?" asked for one product
    PICK = "PICK"  # a name matched several products; a number picks one
    CART = "CART"  # the cart shown; checkout, remove, change
    PAYMENT = "PAYMENT"  # pending order open; credit or COD?
    CONFIRM = "CONFIRM"  # payment chosen; confirm places the order


PAGE_SIZE = 10


MAX_CART_LINES = 25


PENDING_TTL = timedelta(hours=24)


NAME_CHARS = 40


HEARD_CHARS = 40


@dataclass(frozen=True)
class Conversation:
    """One retailer's place in the flow; stored as `conversations.stage` + `data` (JSON)."""

    stage: Stage = Stage.START
    cart: tuple[OrderLine, ...] = ()
    # The catalogue numbering this retailer was shown: item n is numbers[n - 1]. Kept so that a
    # product added or retired meanwhile never shifts what "12 x 3" means.
    numbers: tuple[int, ...] = ()
    category: int = 0  # index into the categories of `numbers` (BROWSING)
    page: int = 0
    asking: int | None = None  # product whose quantity was asked (QUANTITY)
    choices: tuple[int, ...] = ()  # products offered (PICK)
    choice_quantity: int | None = None
    pending_id: int | None = None
    mode: PaymentMode | None = None
    # The order this conversation placed last: a second "confirm" or a "cancel" after it is
    # answered about that order, not with a general hint.
    placed_order: int | None = None

    def to_data(self) -> dict[str, Any]:
        """The JSON stored in `conversations.data`."""
        return {
            "cart": [
                [c.product_id, c.quantity, *([] if c.seen_price is None else [c.seen_price])]
                for c in self.cart
            ],
            "numbers": list(self.numbers),
            "category": self.category,
            "page": self.page,
            "asking": self.asking,
            "choices": list(self.choices),
            "choice_quantity": self.choice_quantity,
            "pending_id": self.pending_id,
            "mode": self.mode.value if self.mode else None,
            "placed_order": self.placed_order,
        }

    @classmethod
    def from_stored(cls, stage: str, data: Any) -> Conversation:
        """Rebuild from the database; anything unreadable starts the conversation afresh."""
        try:
            d: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
            return cls(
                stage=Stage(stage),
                cart=tuple(_cart_line(c) for c in d.get("cart", [])),
                numbers=tuple(int(n) for n in d.get("numbers", [])),
                category=int(d.get("category") or 0),
                page=int(d.get("page") or 0),
                asking=_opt_int(d.get("asking")),
                choices=tuple(int(n) for n in d.get("choices", [])),
                choice_quantity=_opt_int(d.get("choice_quantity")),
                pending_id=_opt_int(d.get("pending_id")),
                mode=PaymentMode(d["mode"]) if d.get("mode") else None,
                placed_order=_opt_int(d.get("placed_order")),
            )
        except (ValueError, TypeError, KeyError):
            return cls()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _cart_line(stored: Any) -> OrderLine:
    """[product, quantity] or [product, quantity, price seen]; ValueError for anything else."""
    if not isinstance(stored, list) or len(stored) not in (2, 3):
        raise ValueError("a cart line is [product, quantity, price seen?]")
    seen = _opt_int(stored[2]) if len(stored) == 3 else None
    return OrderLine(int(stored[0]), int(stored[1]), seen)


@dataclass(frozen=True)
class Inbound:
    """One message from the retailer."""

    text: str
    received_at: datetime
    num_media: int = 0
    button: str = ""  # a quick-reply button's payload, when one was tapped

    @property
    def said(self) -> str:
        return self.button.strip() or self.text


@dataclass(frozen=True)
class Retailer:
    id: int
    name: str
    shop_name: str
    language: str
    opted_out: bool
    phone: str = ""
    # When they last wrote before this message (None: never): a follow-up sent after it is
    # the last thing they read, so a "haan" now answers it.
    last_message_at: datetime | None = None
    insights_off: bool = False


@dataclass(frozen=True)
class Product:
    id: int
    sku: str
    name: str
    category: str
    price: int  # paise
    unit: str
    active: bool = True


@dataclass(frozen=True)
class PendingOrder:
    id: int
    status: str  # PENDING | COMPLETED | CANCELLED | EXPIRED
    expires_at: datetime
    payment_mode: PaymentMode | None = None
    # The priced lines as stored when the retailer was last shown the total: a price changed
    # since is told before the order is paid for (`payment.prices_moved`).
    lines: tuple[PricedLine, ...] = ()
    followed_up_at: datetime | None = None  # when its follow-up was sent (None: not sent)


@dataclass(frozen=True)
class PastOrder:
    id: int
    placed_on: date
    total: int
    payment_mode: str
    status: str


@dataclass(frozen=True)
class History:
    """Loaded only when the message asks for it (`needs_history`)."""

    last_order: tuple[OrderLine, ...] = ()
    recent: tuple[PastOrder, ...] = ()
    insight: Mapping[str, Any] | None = None  # `retailer_insights.data`, when generated


@dataclass(frozen=True)
class Facts:
    retailer: Retailer
    credit: CreditFacts | None
    # Every product by id, active or not (a retired one can still be named and refused).
    products: Mapping[int, Product]
    catalogue: tuple[int, ...]  # active product ids in display order (category, name)
    pending: PendingOrder | None = None
    history: History | None = None
    tolerance: int = 100_00
    tz: tzinfo = UTC
    support_phone: str | None = None  # whom a retailer whose credit is blocked should call
    # How this retailer can pay (a gateway link for the amount due, a UPI ID); loaded only for
    # the messages that show it (`needs_payment`).
    payment: PayOptions | None = None
    # What is owed item by item; loaded only for the messages that show it (`needs_dues`).
    dues: Dues | None = None


@dataclass(frozen=True)
class OpenPendingOrder:
    """Create the pending order; the handler puts its id into the conversation (`attach_pending`)."""

    lines: tuple[PricedLine, ...]
    total: int
    expires_at: datetime


@dataclass(frozen=True)
class UpdatePendingOrder:
    pending_id: int
    lines: tuple[PricedLine, ...]
    total: int
    payment_mode: PaymentMode | None


@dataclass(frozen=True)
class CancelPendingOrder:
    pending_id: int


@dataclass(frozen=True)
class ExpirePendingOrder:
    pending_id: int


@dataclass(frozen=True)
class PlaceOrder:
    """Place through the ledger; then call `after_placement` with the outcome."""

    pending_id: int
    items: tuple[OrderLine, ...]
    mode: PaymentMode


@dataclass(frozen=True)
class CompletePendingOrder:
    pending_id: int
    order_id: int


@dataclass(frozen=True)
class SetOptOut:
    opted_out: bool


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class SetInsightsOff:
    """`insights off` (True) / `insights on` (False): the weekly insights message."""

    off: bool


@dataclass(frozen=True)
class RequestPaymentLink:
    """Have the worker make a gateway payment link for `amount` (what the retailer owes): a
    call to the gateway never runs inside the message's transaction."""

    amount: int


Effect = (
    OpenPendingOrder
    | UpdatePendingOrder
    | CancelPendingOrder
    | ExpirePendingOrder
    | PlaceOrder
    | CompletePendingOrder
    | SetOptOut
    | SetLanguage
    | SetInsightsOff
    | RequestPaymentLink
)


@dataclass(frozen=True)
class Decision:
    conversation: Conversation
    replies: tuple[Reply, ...]
    effects: tuple[Effect, ...] = ()
    language: str = "en"  # of the replies (changes with `language hi`)


@dataclass(frozen=True)
class Placement:
    """What the ledger answered to `PlaceOrder`."""

    allowed: bool
    code: RefusalCode | None
    available: int  # paise, after the order when placed
    order_id: int | None = None
    total: int = 0
    mode: PaymentMode = PaymentMode.COD
    due_date: date | None = None
    items: tuple[tuple[str, int, int], ...] = ()  # (name, quantity, line_total)
    from_advance: int = 0  # paise of a credit order paid at once from the retailer's advance


def attach_pending(conversation: Conversation, pending_id: int) -> Conversation:
    """The conversation after `OpenPendingOrder` created pending order `pending_id`."""
    return replace(conversation, pending_id=pending_id)
