"""The WhatsApp checkout as a pure state machine (diagram and words: `docs/checkout.md`).

`step(conversation, inbound, facts) -> Decision(conversation, replies, effects)`: the handler loads
the facts (retailer, credit, catalogue, pending order), calls `step`, applies the effects in the
same transaction, stores the new conversation and sends the replies. Placing an order needs the
ledger's answer, so `PlaceOrder` is followed by `after_placement(conversation, placement, facts)`.
Refusals are replies, never exceptions; every input, however odd, gets at least one reply.

Stage names are stored in `conversations.stage`; their values never change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from bot.clock import business_date
from bot.credit import (
    CreditFacts,
    PaymentMode,
    RefusalCode,
    overdue_blocks_credit,
    validate_order_placement,
)
from bot.insights import insights_vars
from bot.messages import Reply
from bot.orders import OrderLine, PricedLine
from bot.parsing import (
    MAX_INPUT_CHARS,
    MAX_LINES,
    MAX_QUANTITY,
    ByName,
    ByNumber,
    Command,
    Named,
    NotWhole,
    is_emoji_only,
    match_products,
    normalize,
    parse_cart_edit,
    parse_command,
    parse_item,
    parse_number,
    split_lines,
)


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


# --- the state ---------------------------------------------------------------------------------


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
            "cart": [[c.product_id, c.quantity] for c in self.cart],
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
                cart=tuple(OrderLine(int(p), int(q)) for p, q in d.get("cart", [])),
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


# --- the facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retailer:
    id: int
    name: str
    shop_name: str
    language: str
    opted_out: bool
    phone: str = ""


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


# --- the decision ------------------------------------------------------------------------------


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


Effect = (
    OpenPendingOrder
    | UpdatePendingOrder
    | CancelPendingOrder
    | ExpirePendingOrder
    | PlaceOrder
    | CompletePendingOrder
    | SetOptOut
    | SetLanguage
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


def attach_pending(conversation: Conversation, pending_id: int) -> Conversation:
    """The conversation after `OpenPendingOrder` created pending order `pending_id`."""
    return replace(conversation, pending_id=pending_id)


def needs_history(inbound: Inbound) -> bool:
    """Whether the handler must load `Facts.history` for this message (reorder, insights)."""
    return parse_command(inbound.said) in (Command.REORDER, Command.INSIGHTS)


def not_registered() -> Reply:
    return Reply("not_registered", {})


# --- the machine -------------------------------------------------------------------------------


@dataclass
class _Turn:
    """What one step accumulates."""

    conv: Conversation
    facts: Facts
    now: datetime
    language: str
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def say(self, template: str, **vars: Any) -> None:
        self.replies.append(Reply(template, vars))

    def decision(self) -> Decision:
        return Decision(self.conv, tuple(self.replies), tuple(self.effects), self.language)


def step(conversation: Conversation, inbound: Inbound, facts: Facts) -> Decision:
    """Decide the answer to one inbound message."""
    t = _Turn(conversation, facts, inbound.received_at, facts.retailer.language)
    said = inbound.said
    fresh = t.conv.stage == Stage.START
    if fresh:
        _greet(t)

    if not said.strip():
        if inbound.num_media > 0:
            t.say("media_hint", **_hint_vars(t))
        elif fresh:
            _show_menu(t)
        else:
            t.say("empty_message", **_hint_vars(t))
        return t.decision()
    if len(said) > MAX_INPUT_CHARS:
        t.say("too_long", limit=MAX_INPUT_CHARS)
        return t.decision()

    command = parse_command(said)
    if fresh and command in (Command.GREETING, Command.MENU, Command.YES):
        _show_menu(t)
        return t.decision()
    handled = (
        _stage_command(t, command, said)
        or _global_command(t, command)
        or _cart_edit(t, said)
        or _items(t, said)
    )
    if not handled:
        _unknown(t, said, fresh)
    return t.decision()


def after_placement(
    conversation: Conversation, placement: Placement, facts: Facts, now: datetime
) -> Decision:
    """The answer once the ledger placed (or refused) the order of a `PlaceOrder` effect."""
    t = _Turn(conversation, facts, now, facts.retailer.language)
    pending_id = conversation.pending_id
    if placement.allowed and placement.order_id is not None:
        if pending_id is not None:
            t.effects.append(CompletePendingOrder(pending_id, placement.order_id))
        t.say(
            "order_confirmation",
            name=facts.retailer.name,
            order_id=placement.order_id,
            total=placement.total,
            mode=placement.mode.value,
            due_date=placement.due_date,
            items=[
                {"name": _short(n), "quantity": q, "line_total": lt} for n, q, lt in placement.items
            ],
            available=placement.available,
        )
        t.conv = Conversation(
            stage=Stage.MENU, numbers=conversation.numbers, placed_order=placement.order_id
        )
        return t.decision()
    lines, _ = _price(t.conv.cart, facts)
    total = sum(line.line_total for line in lines)
    if placement.code == RefusalCode.PRODUCT_UNAVAILABLE:
        t.say(RefusalCode.PRODUCT_UNAVAILABLE.template, names=[])
        _to_cart(t, changed=True)
        _show_cart(t)
        return t.decision()
    _refuse_credit(t, placement.code or RefusalCode.NO_CREDIT_ACCOUNT, total)
    t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
    if pending_id is not None:
        t.effects.append(UpdatePendingOrder(pending_id, lines, total, None))
    return t.decision()


# --- commands ----------------------------------------------------------------------------------


def _stage_command(t: _Turn, command: Command | None, said: str) -> bool:
    """Words and numbers whose meaning depends on the stage; True when handled."""
    stage = t.conv.stage
    number = parse_number(said)
    if stage == Stage.PAYMENT:
        if command == Command.CREDIT or number == 1:
            _choose_payment(t, PaymentMode.CREDIT)
            return True
        if command == Command.COD or number == 2:
            _choose_payment(t, PaymentMode.COD)
            return True
        if command == Command.NO:
            _to_cart(t, changed=False)
            _show_cart(t)
            return True
        if command == Command.YES or number is not None:
            if _pending_gone(t):
                return True
            t.say("choose_payment", **_payment_vars(t))
            return True
    if stage == Stage.CONFIRM:
        if command == Command.YES:
            _confirm(t)
            return True
        if command == Command.CREDIT:
            _choose_payment(t, PaymentMode.CREDIT)
            return True
        if command == Command.COD:
            _choose_payment(t, PaymentMode.COD)
            return True
        if command == Command.NO:
            if not _pending_gone(t):
                t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
                _payment_options(t, not_placed=True)
            return True
    if stage in (Stage.MENU, Stage.START) and number is not None:
        _open_category(t, number - 1, 0, number)
        return True
    if stage == Stage.BROWSING:
        if command == Command.NEXT:
            _turn_page(t, +1)
            return True
        if command == Command.PREV:
            _turn_page(t, -1)
            return True
    if stage in (Stage.BROWSING, Stage.CART) and number is not None:
        _ask_quantity(t, number)
        return True
    if stage == Stage.CART and command == Command.YES:
        _checkout(t)
        return True
    if stage == Stage.QUANTITY and t.conv.asking is not None:
        if number is not None:
            _add(t, [(t.conv.asking, number, str(number))], single=True)
            return True
        if command == Command.NO:
            t.conv = replace(t.conv, stage=Stage.BROWSING, asking=None)
            t.say("hint", **_hint_vars(t))
            return True
    if stage == Stage.PICK and t.conv.choices:
        if number is not None:
            pid = _picked(t, number)
            if pid is not None:
                qty = t.conv.choice_quantity
                if qty is None:
                    t.conv = replace(t.conv, stage=Stage.QUANTITY, asking=pid, choices=())
                    _say_ask_quantity(t, pid)
                else:
                    t.conv = replace(t.conv, choices=(), choice_quantity=None)
                    _add(t, [(pid, qty, str(number))], single=True)
            else:
                t.say("hint", **_hint_vars(t))
            return True
        if command == Command.NO:
            t.conv = replace(t.conv, stage=Stage.MENU, choices=(), choice_quantity=None)
            _show_menu(t)
            return True
    return False


def _global_command(t: _Turn, command: Command | None) -> bool:
    """Words that mean the same at every stage; True when handled."""
    if command is None:
        return False
    if command == Command.HELP:
        t.say("help", name=t.facts.retailer.name)
    elif command == Command.GREETING:
        _greet(t)
        _show_menu(t)
    elif command == Command.MENU:
        _show_menu(t)
    elif command == Command.CART:
        _to_cart(t, changed=False)
        _show_cart(t)
    elif command == Command.CHECKOUT:
        _checkout(t)
    elif command in (Command.CANCEL, Command.CLEAR):
        _cancel(t)
    elif command == Command.REORDER:
        _reorder(t)
    elif command in (Command.BALANCE, Command.CREDIT):
        _credit_status(t)
    elif command == Command.INSIGHTS:
        _insights(t)
    elif command in (Command.LANGUAGE_EN, Command.LANGUAGE_HI):
        language = "hi" if command == Command.LANGUAGE_HI else "en"
        t.effects.append(SetLanguage(language))
        t.language = language
        t.say("language_changed", language=language)
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
        t.say("hint", **_hint_vars(t))
    return True


def _unknown(t: _Turn, said: str, fresh: bool) -> None:
    if fresh:
        _show_menu(t)
        return
    heard = "" if is_emoji_only(said) else normalize(said)[:HEARD_CHARS]
    t.say("hint", **_hint_vars(t, heard=heard))


# --- greeting and catalogue --------------------------------------------------------------------


def _greet(t: _Turn) -> None:
    r, c = t.facts.retailer, t.facts.credit
    t.say(
        "greeting",
        name=r.name,
        shop_name=r.shop_name,
        has_credit=c is not None,
        status=c.status.value if c else "",
        available=c.available if c else 0,
        limit=c.credit_limit if c else 0,
        overdue_unpaid=c.overdue_unpaid if c else 0,
        overdue_blocks=_overdue_blocks(t),
        max_outstanding_days=c.max_outstanding_days if c else 0,
    )
    t.conv = replace(t.conv, stage=Stage.MENU, numbers=t.facts.catalogue)


def _numbers(t: _Turn) -> tuple[int, ...]:
    """This retailer's numbering; the current catalogue when none was shown yet."""
    if not t.conv.numbers:
        t.conv = replace(t.conv, numbers=t.facts.catalogue)
    return t.conv.numbers


def _categories(t: _Turn) -> list[tuple[str, list[tuple[int, Product]]]]:
    """Categories of the shown numbering, each with its (number, product) still active."""
    out: dict[str, list[tuple[int, Product]]] = {}
    for n, pid in enumerate(_numbers(t), start=1):
        p = t.facts.products.get(pid)
        if p is not None and p.active:
            out.setdefault(p.category, []).append((n, p))
    return list(out.items())


def _show_menu(t: _Turn) -> None:
    # A fresh look at the catalogue renumbers it.
    t.conv = replace(
        t.conv,
        stage=Stage.MENU,
        numbers=t.facts.catalogue,
        asking=None,
        choices=(),
        choice_quantity=None,
    )
    cats = _categories(t)
    t.say(
        "menu",
        categories=[{"n": i, "name": c, "count": len(ps)} for i, (c, ps) in enumerate(cats, 1)],
        cart_count=len(t.conv.cart),
    )


def _open_category(t: _Turn, index: int, page: int, typed: int | None = None) -> None:
    cats = _categories(t)
    if not 0 <= index < len(cats):
        t.say("hint", **_hint_vars(t, heard=str(typed) if typed is not None else ""))
        return
    name, items = cats[index]
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    t.conv = replace(t.conv, stage=Stage.BROWSING, category=index, page=page, asking=None)
    t.say(
        "catalogue_page",
        category=name,
        items=[
            {"n": n, "name": _short(p.name), "price": p.price, "unit": p.unit} for n, p in shown
        ],
        page=page + 1,
        pages=pages,
        has_next=page + 1 < pages or index + 1 < len(cats),
        example=shown[0][0] if shown else 1,
    )


def _turn_page(t: _Turn, delta: int) -> None:
    cats = _categories(t)
    if not cats:
        _show_menu(t)
        return
    index = min(t.conv.category, len(cats) - 1)
    pages = max(1, -(-len(cats[index][1]) // PAGE_SIZE))
    page = t.conv.page + delta
    if page >= pages:
        if index + 1 >= len(cats):
            t.say("catalogue_end")
            return
        index, page = index + 1, 0
    elif page < 0:
        if index == 0:
            _show_menu(t)
            return
        index -= 1
        page = max(1, -(-len(cats[index][1]) // PAGE_SIZE)) - 1
    _open_category(t, index, page)


def _product_by_number(t: _Turn, number: int) -> tuple[Product | None, str | None]:
    """The product behind catalogue number `number`, or why not (unknown_number, unavailable)."""
    numbers = _numbers(t)
    if not 1 <= number <= len(numbers):
        return None, "unknown_number"
    p = t.facts.products.get(numbers[number - 1])
    if p is None or not p.active:
        return p, "unavailable"
    return p, None


def _ask_quantity(t: _Turn, number: int) -> None:
    p, problem = _product_by_number(t, number)
    if problem or p is None:
        t.say("item_problems", problems=[_problem(problem or "unknown_number", str(number), p)])
        return
    t.conv = replace(t.conv, stage=Stage.QUANTITY, asking=p.id)
    _say_ask_quantity(t, p.id)


def _say_ask_quantity(t: _Turn, pid: int) -> None:
    p = t.facts.products[pid]
    t.say("ask_quantity", name=_short(p.name), price=p.price, unit=p.unit, max=MAX_QUANTITY)


# --- the cart ----------------------------------------------------------------------------------


def _problem(kind: str, ref: str, product: Product | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "ref": ref[:HEARD_CHARS],
        "name": _short(product.name) if product else "",
        **extra,
    }


def _items(t: _Turn, said: str) -> bool:
    """Item lines ("2 x 5", "maggi 3", several at once); False when nothing looks like an item."""
    lines = split_lines(said)
    if not lines:
        return False
    if len(lines) > MAX_LINES:
        t.say("too_long", limit=MAX_INPUT_CHARS)
        return True
    parsed = [(line, parse_item(line)) for line in lines]
    if all(p is None for _, p in parsed):
        return False
    single = len(parsed) == 1
    wanted: list[tuple[int, int, str]] = []
    problems: list[dict[str, Any]] = []
    catalogue = [t.facts.products[pid] for pid in t.facts.catalogue if pid in t.facts.products]
    for line, req in parsed:
        if req is None:
            problems.append(_problem("not_understood", line))
        elif isinstance(req, NotWhole):
            problems.append(_problem("not_whole", line))
        elif isinstance(req, ByNumber):
            p, problem = _product_by_number(t, req.number)
            if problem or p is None:
                problems.append(_problem(problem or "unknown_number", str(req.number), p))
            else:
                wanted.append((p.id, req.quantity, line))
        else:
            assert isinstance(req, ByName)
            ids = match_products(
                req.query,
                (Named(p.id, p.name, p.sku, p.category) for p in catalogue if p.active),
            )
            if not ids:
                if single:
                    return False
                problems.append(_problem("not_found", req.query))
            elif len(ids) > 1:
                if single:
                    _offer_choices(t, ids, req.quantity)
                    return True
                options = [
                    {"n": _number_of(t, pid), "name": _short(t.facts.products[pid].name)}
                    for pid in ids[:5]
                ]
                problems.append(_problem("ambiguous", req.query, options=options))
            elif req.quantity is None:
                if single:
                    t.conv = replace(t.conv, stage=Stage.QUANTITY, asking=ids[0])
                    _say_ask_quantity(t, ids[0])
                    return True
                problems.append(_problem("no_quantity", req.query, t.facts.products[ids[0]]))
            else:
                wanted.append((ids[0], req.quantity, line))
    _add(t, wanted, single=single, problems=problems)
    return True


def _number_of(t: _Turn, pid: int) -> int | None:
    numbers = _numbers(t)
    return numbers.index(pid) + 1 if pid in numbers else None


def _pick_numbers(t: _Turn, ids: Sequence[int]) -> list[int]:
    """The numbers choices are shown with: their catalogue numbers, so that "25" means the same
    everywhere; 1, 2, ... when one of them has none in this retailer's numbering."""
    numbers = [_number_of(t, pid) for pid in ids]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        return [n for n in numbers if n is not None]
    return list(range(1, len(ids) + 1))


def _picked(t: _Turn, number: int) -> int | None:
    """The choice a number means: a shown number, else (if not one) its position."""
    shown = _pick_numbers(t, t.conv.choices)
    if number in shown:
        return t.conv.choices[shown.index(number)]
    if 1 <= number <= len(t.conv.choices):
        return t.conv.choices[number - 1]
    return None


def _offer_choices(t: _Turn, ids: Sequence[int], quantity: int | None) -> None:
    ids = tuple(ids[:9])
    t.conv = replace(t.conv, stage=Stage.PICK, choices=ids, choice_quantity=quantity)
    t.say(
        "pick_product",
        options=[
            {
                "n": n,
                "name": _short(t.facts.products[pid].name),
                "price": t.facts.products[pid].price,
            }
            for n, pid in zip(_pick_numbers(t, ids), ids, strict=True)
        ],
        quantity=quantity or 0,
    )


def _add(
    t: _Turn,
    wanted: Iterable[tuple[int, int, str]],
    *,
    single: bool,
    problems: list[dict[str, Any]] | None = None,
) -> None:
    """Add (product, quantity) to the cart; quantities of a product already there add up."""
    problems = list(problems or [])
    cart = {c.product_id: c.quantity for c in t.conv.cart}
    added: list[dict[str, Any]] = []
    for pid, qty, ref in wanted:
        p = t.facts.products.get(pid)
        if p is None or not p.active:
            problems.append(_problem("unavailable", ref, p))
        elif qty <= 0:
            problems.append(_problem("zero", ref, p))
        elif cart.get(pid, 0) + qty > MAX_QUANTITY:
            problems.append(_problem("too_many", ref, p, max=MAX_QUANTITY))
        elif pid not in cart and len(cart) >= MAX_CART_LINES:
            problems.append(_problem("cart_full", ref, p, max=MAX_CART_LINES))
        else:
            cart[pid] = cart.get(pid, 0) + qty
            added.append({"name": _short(p.name), "quantity": qty, "line_total": p.price * qty})
    if not added:
        t.say("item_problems", problems=problems)
        # "How many?" stays asked until a sensible number comes.
        keep_asking = single and bool(problems) and problems[0]["kind"] in ("zero", "too_many")
        if t.conv.stage in (Stage.QUANTITY, Stage.PICK) and not keep_asking:
            t.conv = replace(t.conv, stage=Stage.BROWSING, asking=None, choices=())
        return
    stage = Stage.BROWSING if t.conv.stage == Stage.BROWSING else Stage.CART
    t.conv = replace(
        t.conv,
        stage=stage,
        cart=tuple(OrderLine(pid, q) for pid, q in cart.items()),
        asking=None,
        choices=(),
        choice_quantity=None,
    )
    _cart_changed(t)
    lines, _ = _price(t.conv.cart, t.facts)
    t.say(
        "items_added",
        added=added,
        count=len(lines),
        total=sum(line.line_total for line in lines),
        browsing=stage == Stage.BROWSING,
    )
    if problems:
        t.say("item_problems", problems=problems)


def _cart_edit(t: _Turn, said: str) -> bool:
    edit = parse_cart_edit(said)
    if edit is None:
        return False
    if not t.conv.cart:
        t.say("cart_empty")
        return True
    if not 1 <= edit.line <= len(t.conv.cart):
        t.say("hint", **_hint_vars(t, heard=normalize(said)[:HEARD_CHARS]))
        return True
    item = t.conv.cart[edit.line - 1]
    p = t.facts.products.get(item.product_id)
    name = _short(p.name) if p else "?"
    if edit.quantity > MAX_QUANTITY:
        t.say("item_problems", problems=[_problem("too_many", said, p, max=MAX_QUANTITY)])
        return True
    cart = list(t.conv.cart)
    if edit.quantity == 0:
        del cart[edit.line - 1]
        t.say("item_removed", name=name)
    else:
        cart[edit.line - 1] = OrderLine(item.product_id, edit.quantity)
        t.say("quantity_changed", name=name, quantity=edit.quantity)
    t.conv = replace(t.conv, cart=tuple(cart))
    _to_cart(t, changed=True)
    _show_cart(t)
    return True


def _price(
    cart: Iterable[OrderLine], facts: Facts
) -> tuple[tuple[PricedLine, ...], list[Product | OrderLine]]:
    """Cart lines at today's prices, and what can no longer be sold."""
    lines: list[PricedLine] = []
    gone: list[Product | OrderLine] = []
    for c in cart:
        p = facts.products.get(c.product_id)
        if p is None or not p.active:
            gone.append(p or c)
            continue
        lines.append(PricedLine(p.id, p.sku, p.name, p.price, c.quantity, p.price * c.quantity))
    return tuple(lines), gone


def _gone_names(gone: Iterable[Product | OrderLine]) -> list[str]:
    return [_short(g.name) if isinstance(g, Product) else "?" for g in gone]


def _drop_unavailable(t: _Turn) -> tuple[tuple[PricedLine, ...], int]:
    """Take retired products out of the cart (telling the retailer); priced lines and total."""
    lines, gone = _price(t.conv.cart, t.facts)
    if gone:
        t.say(RefusalCode.PRODUCT_UNAVAILABLE.template, names=_gone_names(gone))
        kept = {line.product_id for line in lines}
        t.conv = replace(t.conv, cart=tuple(c for c in t.conv.cart if c.product_id in kept))
    return lines, sum(line.line_total for line in lines)


def _show_cart(t: _Turn, *, reordered: bool = False) -> None:
    lines, gone = _price(t.conv.cart, t.facts)
    if not lines and not gone:
        t.say("cart_empty")
        return
    t.say(
        "cart",
        lines=[
            {
                "n": i,
                "name": _short(line.name),
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "line_total": line.line_total,
            }
            for i, line in enumerate(lines, 1)
        ],
        unavailable=_gone_names(gone),
        total=sum(line.line_total for line in lines),
        reordered=reordered,
        has_pending=_pending_live(t),
    )


def _to_cart(t: _Turn, *, changed: bool) -> None:
    t.conv = replace(t.conv, stage=Stage.CART, asking=None, choices=(), choice_quantity=None)
    if changed:
        _cart_changed(t)


def _cart_changed(t: _Turn) -> None:
    """Keep an open pending order in step with a changed cart; payment is chosen again."""
    t.conv = replace(t.conv, mode=None)
    pid = t.conv.pending_id
    if pid is None or not _pending_live(t):
        return
    lines, _ = _price(t.conv.cart, t.facts)
    if not lines:
        t.effects.append(CancelPendingOrder(pid))
        t.conv = replace(t.conv, pending_id=None)
        return
    total = sum(line.line_total for line in lines)
    t.effects.append(UpdatePendingOrder(pid, lines, total, None))


# --- checkout, payment, confirm ----------------------------------------------------------------


def _pending_live(t: _Turn) -> bool:
    p = t.facts.pending
    return (
        t.conv.pending_id is not None
        and p is not None
        and p.id == t.conv.pending_id
        and p.status == "PENDING"
        and p.expires_at > t.now
    )


def _pending_gone(t: _Turn) -> bool:
    """When the pending order expired or was cancelled meanwhile: say so, back to the cart."""
    if _pending_live(t):
        return False
    p = t.facts.pending
    if p is not None and p.id == t.conv.pending_id and p.status == "PENDING":
        t.effects.append(ExpirePendingOrder(p.id))
    t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
    lines, _ = _price(t.conv.cart, t.facts)
    t.say("pending_expired", has_cart=bool(lines), hours=int(PENDING_TTL.total_seconds() // 3600))
    return True


def _checkout(t: _Turn) -> None:
    lines, total = _drop_unavailable(t)
    if not lines:
        if t.conv.pending_id is not None and _pending_live(t):
            t.effects.append(CancelPendingOrder(t.conv.pending_id))
        t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
        t.say("cart_empty")
        return
    if _pending_live(t):
        assert t.conv.pending_id is not None
        t.effects.append(UpdatePendingOrder(t.conv.pending_id, lines, total, None))
    else:
        p = t.facts.pending
        if p is not None and p.id == t.conv.pending_id and p.status == "PENDING":
            t.effects.append(ExpirePendingOrder(p.id))
        t.effects.append(OpenPendingOrder(lines, total, t.now + PENDING_TTL))
        t.conv = replace(t.conv, pending_id=None)
    t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None, asking=None, choices=())
    _payment_options(t)


def _credit_verdict(t: _Turn, total: int) -> tuple[bool, RefusalCode | None, int]:
    c = t.facts.credit
    if c is None:
        return False, RefusalCode.NO_CREDIT_ACCOUNT, 0
    v = validate_order_placement(c, total, PaymentMode.CREDIT, tolerance=t.facts.tolerance)
    return v.allowed, v.code, v.available


def _due_date(t: _Turn) -> date | None:
    c = t.facts.credit
    if c is None:
        return None
    return business_date(t.now, t.facts.tz) + timedelta(days=c.payment_terms_days)


def _payment_vars(t: _Turn) -> dict[str, Any]:
    lines, _ = _price(t.conv.cart, t.facts)
    total = sum(line.line_total for line in lines)
    allowed, _, available = _credit_verdict(t, total)
    return {
        "total": total,
        "count": len(lines),
        "credit_allowed": allowed,
        "available": available,
        "due_date": _due_date(t),
    }


def _payment_options(t: _Turn, *, not_placed: bool = False) -> None:
    pv = _payment_vars(t)
    t.say("payment_options", not_placed=not_placed, **pv)
    if not pv["credit_allowed"]:
        _, code, _ = _credit_verdict(t, pv["total"])
        _refuse_credit(t, code or RefusalCode.NO_CREDIT_ACCOUNT, pv["total"])


def _refuse_credit(t: _Turn, code: RefusalCode, total: int) -> None:
    c = t.facts.credit
    t.say(
        RefusalCode(code).template,
        total=total,
        available=c.available if c else 0,
        credit_limit=c.credit_limit if c else 0,
        max_order_value=c.max_order_value if c else 0,
        overdue_unpaid=c.overdue_unpaid if c else 0,
        max_outstanding_days=c.max_outstanding_days if c else 0,
        names=[],
    )


def _choose_payment(t: _Turn, mode: PaymentMode) -> None:
    if _pending_gone(t):
        return
    lines, total = _drop_unavailable(t)
    pid = t.conv.pending_id
    assert pid is not None
    if not lines:
        t.effects.append(CancelPendingOrder(pid))
        t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
        t.say("cart_empty")
        return
    if mode == PaymentMode.CREDIT:
        allowed, code, _ = _credit_verdict(t, total)
        if not allowed:
            t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
            t.effects.append(UpdatePendingOrder(pid, lines, total, None))
            _refuse_credit(t, code or RefusalCode.NO_CREDIT_ACCOUNT, total)
            return
    t.conv = replace(t.conv, stage=Stage.CONFIRM, mode=mode)
    t.effects.append(UpdatePendingOrder(pid, lines, total, mode))
    c = t.facts.credit
    credit = mode == PaymentMode.CREDIT
    t.say(
        "confirm_order",
        total=total,
        count=len(lines),
        mode=mode.value,
        due_date=_due_date(t) if credit else None,
        available_after=(c.available - total) if (c and credit) else 0,
    )


def _confirm(t: _Turn) -> None:
    if _pending_gone(t):
        return
    mode = t.conv.mode
    pid = t.conv.pending_id
    assert pid is not None
    if mode is None:
        t.conv = replace(t.conv, stage=Stage.PAYMENT)
        t.say("choose_payment", **_payment_vars(t))
        return
    before = len(t.conv.cart)
    lines, total = _drop_unavailable(t)
    if not lines:
        t.effects.append(CancelPendingOrder(pid))
        t.conv = replace(t.conv, stage=Stage.CART, pending_id=None, mode=None)
        t.say("cart_empty")
        return
    if len(t.conv.cart) < before:
        # The total the retailer agreed to no longer holds: show the new one, choose again.
        t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
        t.effects.append(UpdatePendingOrder(pid, lines, total, None))
        _payment_options(t)
        return
    if mode == PaymentMode.CREDIT:
        allowed, code, _ = _credit_verdict(t, total)
        if not allowed:
            t.conv = replace(t.conv, stage=Stage.PAYMENT, mode=None)
            t.effects.append(UpdatePendingOrder(pid, lines, total, None))
            _refuse_credit(t, code or RefusalCode.NO_CREDIT_ACCOUNT, total)
            return
    t.effects.append(
        PlaceOrder(pid, tuple(OrderLine(line.product_id, line.quantity) for line in lines), mode)
    )


def _cancel(t: _Turn) -> None:
    pid = t.conv.pending_id
    p = t.facts.pending
    had_order = pid is not None and p is not None and p.id == pid and p.status == "PENDING"
    if had_order:
        assert pid is not None
        t.effects.append(CancelPendingOrder(pid))
    if had_order or t.conv.cart:
        t.say("order_cancelled", had_order=had_order)
        # Cancelling this checkout: the order placed before it is no longer the news.
        t.conv = Conversation(stage=Stage.MENU, numbers=t.conv.numbers)
        return
    t.say("nothing_to_cancel", placed_order=t.conv.placed_order)
    t.conv = Conversation(
        stage=Stage.MENU, numbers=t.conv.numbers, placed_order=t.conv.placed_order
    )


def _reorder(t: _Turn) -> None:
    h = t.facts.history
    if h is None or not h.last_order:
        t.say("reorder_empty")
        return
    cart: list[OrderLine] = []
    gone: list[str] = []
    for item in h.last_order[:MAX_CART_LINES]:
        p = t.facts.products.get(item.product_id)
        if p is None or not p.active:
            gone.append(_short(p.name) if p else "?")
        else:
            cart.append(OrderLine(item.product_id, min(item.quantity, MAX_QUANTITY)))
    if gone:
        t.say(RefusalCode.PRODUCT_UNAVAILABLE.template, names=gone)
    t.conv = replace(t.conv, cart=tuple(cart))
    _to_cart(t, changed=True)
    _show_cart(t, reordered=True)


def _overdue_blocks(t: _Turn) -> bool:
    """Debits unpaid too long stop this retailer's credit now (before any pause says so)."""
    c = t.facts.credit
    return c is not None and overdue_blocks_credit(c.overdue_unpaid, t.facts.tolerance)


def _credit_status(t: _Turn) -> None:
    c = t.facts.credit
    t.say(
        "credit_status",
        name=t.facts.retailer.name,
        has_credit=c is not None,
        status=c.status.value if c else "",
        credit_limit=c.credit_limit if c else 0,
        outstanding=c.outstanding if c else 0,
        available=c.available if c else 0,
        overdue_unpaid=c.overdue_unpaid if c else 0,
        overdue_blocks=_overdue_blocks(t),
        max_outstanding_days=c.max_outstanding_days if c else 0,
        payment_terms_days=c.payment_terms_days if c else 0,
        opted_out=t.facts.retailer.opted_out,
    )


def _insights(t: _Turn) -> None:
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


# --- hints -------------------------------------------------------------------------------------


def _hint_vars(t: _Turn, *, heard: str = "") -> dict[str, Any]:
    stage = t.conv.stage
    asking = t.facts.products.get(t.conv.asking) if t.conv.asking is not None else None
    credit_allowed = False
    if stage in (Stage.PAYMENT, Stage.CONFIRM):
        credit_allowed = bool(_payment_vars(t)["credit_allowed"])
    return {
        "stage": stage.value,
        "heard": heard,
        "categories": len(_categories(t)) if stage in (Stage.MENU, Stage.START) else 0,
        "asking": _short(asking.name) if asking else "",
        "choices": len(t.conv.choices),
        "cart_count": len(t.conv.cart),
        "credit_allowed": credit_allowed,
    }


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"
