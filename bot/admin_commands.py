"""Admin text commands (DESIGN section 5), parsed purely into typed commands or a usage error.

`parse_command(text, job_names)` never touches the database: it checks the shape of every
argument (a retailer is an id or a phone number, amounts are rupees with at most 2 decimals), so
a wrong argument gets a one-line usage reply before anything changes. Executing a command is
`handlers/admin_chat.py`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.credit import ADJUSTMENT_REASONS, MAX_DAYS, MAX_OVERRIDE_DAYS, Direction
from bot.money import InvalidAmount, parse_rupees
from bot.phone import InvalidPhone, looks_like_phone, normalize_phone
from bot.text import is_digits

MAX_ID_DIGITS = 18
MAX_SKU_CHARS = 64

USAGE: dict[str, str] = {
    "help": "help",
    "risk": "risk",
    "atrisk": "atrisk",
    "profile": "profile <retailer>",
    "pause": "pause <retailer> <reason>",
    "unpause": "unpause <retailer> [until <YYYY-MM-DD>|<n>d] [reason]",
    "block": "block <retailer> <reason>",
    "unblock": "unblock <retailer> [reason]",
    "paid": "paid <retailer> <amount> [ref] [advance]",
    "adjust": f"adjust <retailer> <+amount|-amount> <{'|'.join(ADJUSTMENT_REASONS)}> [note]",
    "limit": "limit <retailer> <amount>",
    "maxorder": "maxorder <retailer> <amount>",
    "days": "days <retailer> <n>",
    "fail": "fail <order> <reason>",
    "run": "run <job> [YYYY-MM-DD]",
    # The business day (issue 12): the dispatch desk, returns, prices.
    "orders": "orders [placed|dispatched|delivered|cancelled|failed|open|all]",
    "dispatch": "dispatch <order>",
    "deliver": "deliver <order>",
    "cancel": "cancel <order> <reason>",
    "return": "return <order> <amount> <reason>",
    "price": "price <sku> <amount>",
}

# Commands about orders and products rather than a retailer: `_build_desk` reads them.
DESK_COMMANDS = frozenset({"orders", "dispatch", "deliver", "cancel", "return", "price"})
# What `orders` lists: a status, the open ones (placed and dispatched: the desk's work), or all.
ORDER_LISTS = ("open", "all", "placed", "dispatched", "delivered", "cancelled", "failed")

ALIASES = {
    "at-risk": "atrisk",
    "at_risk": "atrisk",
    "max-order": "maxorder",
    "max_order": "maxorder",
    "resume": "unpause",
    "payment": "paid",
    "delivered": "deliver",
    "dispatched": "dispatch",
    "returned": "return",
    "?": "help",
    "menu": "help",
}


# --- the commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Risk:
    pass


@dataclass(frozen=True)
class AtRisk:
    pass


@dataclass(frozen=True)
class Profile:
    retailer: str  # a retailer id ("42") or an E.164 phone number


@dataclass(frozen=True)
class Pause:
    retailer: str
    reason: str


@dataclass(frozen=True)
class Unpause:
    retailer: str
    reason: str | None = None
    # An override of the overdue rule through a day: given as a date, or as days from today
    # (the executor knows today; parsing stays pure).
    until: date | None = None
    until_days: int | None = None


@dataclass(frozen=True)
class Block:
    retailer: str
    reason: str


@dataclass(frozen=True)
class Unblock:
    retailer: str
    reason: str | None = None


@dataclass(frozen=True)
class Paid:
    retailer: str
    amount: int  # paise
    reference: str | None = None
    as_advance: bool = False  # the trailing word `advance`: keep what is above the owed


@dataclass(frozen=True)
class Adjust:
    retailer: str
    direction: Direction  # DEBIT adds to what is owed (+), CREDIT takes off (-)
    amount: int
    reason: str
    note: str | None = None


@dataclass(frozen=True)
class Limit:
    retailer: str
    amount: int


@dataclass(frozen=True)
class MaxOrder:
    retailer: str
    amount: int


@dataclass(frozen=True)
class Days:
    retailer: str
    days: int  # max_outstanding_days


@dataclass(frozen=True)
class Fail:
    order_id: int
    reason: str


@dataclass(frozen=True)
class Run:
    job: str
    as_of: date | None = None


@dataclass(frozen=True)
class Orders:
    which: str = "open"  # one of ORDER_LISTS


@dataclass(frozen=True)
class Dispatch:
    order_id: int


@dataclass(frozen=True)
class Deliver:
    order_id: int


@dataclass(frozen=True)
class Cancel:
    order_id: int
    reason: str


@dataclass(frozen=True)
class Return:
    order_id: int
    amount: int  # paise
    reason: str


@dataclass(frozen=True)
class Price:
    sku: str
    amount: int  # paise


DeskCommand = Orders | Dispatch | Deliver | Cancel | Return | Price


@dataclass(frozen=True)
class Usage:
    """A known command with a wrong argument: reply with its usage line and what was wrong."""

    command: str
    problem: str  # one of PROBLEMS

    @property
    def usage(self) -> str:
        return USAGE[self.command]


@dataclass(frozen=True)
class Unknown:
    word: str


Command = (
    Help | Risk | AtRisk | Profile | Pause | Unpause | Paid | Adjust | Limit | MaxOrder | Days
    | Fail | Run | Block | Unblock | Orders | Dispatch | Deliver | Cancel | Return | Price
)  # fmt: skip
Parsed = Command | Usage | Unknown

# What can be wrong with an argument (the reply templates explain each).
PROBLEMS = (
    "missing",  # an argument is missing
    "extra",  # more arguments than the command takes
    "retailer",  # not a retailer id or phone number
    "amount",  # not a positive rupee amount with at most 2 decimals
    "limit_amount",  # not a rupee amount (0 allowed)
    "signed_amount",  # adjust needs + or - before the amount
    "adjust_reason",  # not one of return, dispute, discount, correction
    "days",  # not a whole number of days 1..3650
    "order",  # not an order number
    "job",  # not a job name
    "date",  # not YYYY-MM-DD
    "override",  # `until` takes YYYY-MM-DD or <n>d (n from 0 to MAX_OVERRIDE_DAYS)
    "order_list",  # not one of ORDER_LISTS
    "sku",  # not a SKU (1 to 64 characters)
)


class _Bad(Exception):
    def __init__(self, problem: str) -> None:
        self.problem = problem


def _retailer(token: str) -> str:
    text = token.strip()
    if is_digits(text) and not looks_like_phone(text):
        if len(text) > MAX_ID_DIGITS or int(text) <= 0:
            raise _Bad("retailer")
        return str(int(text))
    try:
        return normalize_phone(text)
    except InvalidPhone:
        raise _Bad("retailer") from None


def _is_digit_group(token: str) -> bool:
    return is_digits(token) and len(token) <= 5


def _is_phone(token: str) -> bool:
    try:
        normalize_phone(token)
    except InvalidPhone:
        return False
    return True


def _split_retailer(args: list[str]) -> tuple[str, list[str]]:
    """The retailer argument and the rest. A phone number typed in groups ("98123 45678",
    "+91 98123 45678") is one argument: the shortest run of groups that is a whole number."""
    first = args[0]
    grouped = (first.startswith("+") and is_digits(first[1:]) and not _is_phone(first)) or (
        len(args) >= 2 and len(first) == 5 and is_digits(first) and len(args[1]) == 5
        and is_digits(args[1])
    )  # fmt: skip
    if grouped:
        for n in range(2, min(4, len(args)) + 1):
            if not _is_digit_group(args[n - 1]):
                break
            try:
                return normalize_phone("".join(args[:n])), args[n:]
            except InvalidPhone:
                continue
    return _retailer(first), args[1:]


def _amount(token: str, *, allow_zero: bool = False) -> int:
    try:
        return int(parse_rupees(token, allow_zero=allow_zero))
    except InvalidAmount:
        raise _Bad("limit_amount" if allow_zero else "amount") from None


def _signed_amount(token: str) -> tuple[Direction, int]:
    sign, rest = token[:1], token[1:]
    if not sign or sign not in "+-" or not rest:
        raise _Bad("signed_amount")
    return (Direction.DEBIT if sign == "+" else Direction.CREDIT), _amount(rest)


def _order(token: str) -> int:
    text = token.removeprefix("#")
    if not is_digits(text) or len(text) > MAX_ID_DIGITS or int(text) <= 0:
        raise _Bad("order")
    return int(text)


def _days(token: str) -> int:
    if not is_digits(token) or len(token) > 4 or not 1 <= int(token) <= MAX_DAYS:
        raise _Bad("days")
    return int(token)


def _until(token: str) -> tuple[date | None, int | None]:
    """`until`'s argument: a date YYYY-MM-DD, or a number of days from today written `<n>d`."""
    text = token.lower()
    if text.endswith("d") and is_digits(text[:-1]) and len(text) <= 4:
        n = int(text[:-1])
        if n > MAX_OVERRIDE_DAYS:
            raise _Bad("override")
        return None, n
    if len(text) != 10:
        raise _Bad("override")
    try:
        return date.fromisoformat(text), None
    except ValueError:
        raise _Bad("override") from None


def _unpause(retailer: str, rest: list[str]) -> Unpause:
    if rest and rest[0].lower() == "until":
        _need(rest, 2, None)
        until, days = _until(rest[1])
        return Unpause(retailer, _rest(rest, 2) or None, until, days)
    return Unpause(retailer, _rest(rest, 0) or None)


def _paid(retailer: str, rest: list[str]) -> Paid:
    _need(rest, 1, None)
    as_advance = len(rest) >= 2 and rest[-1].lower() == "advance"
    words = rest[:-1] if as_advance else rest
    return Paid(retailer, _amount(words[0]), _rest(words, 1) or None, as_advance)


def _need(args: Sequence[str], low: int, high: int | None) -> None:
    if len(args) < low:
        raise _Bad("missing")
    if high is not None and len(args) > high:
        raise _Bad("extra")


def _rest(args: Sequence[str], start: int) -> str:
    return " ".join(args[start:]).strip()


def _build(name: str, args: list[str], job_names: Sequence[str]) -> Command:
    if name in ("help", "risk", "atrisk"):
        _need(args, 0, 0)
        simple: dict[str, Command] = {"help": Help(), "risk": Risk(), "atrisk": AtRisk()}
        return simple[name]
    if name in ("fail", "run"):
        return _build_other(name, args, job_names)
    if name in DESK_COMMANDS:
        return _build_desk(name, args)
    _need(args, 1, None)
    retailer, rest = _split_retailer(args)
    if name == "profile":
        _need(rest, 0, 0)
        return Profile(retailer)
    if name == "pause":
        _need(rest, 1, None)
        return Pause(retailer, _rest(rest, 0))
    if name == "unpause":
        return _unpause(retailer, rest)
    if name == "block":
        _need(rest, 1, None)
        return Block(retailer, _rest(rest, 0))
    if name == "unblock":
        return Unblock(retailer, _rest(rest, 0) or None)
    if name == "paid":
        return _paid(retailer, rest)
    if name == "adjust":
        _need(rest, 2, None)
        direction, amount = _signed_amount(rest[0])
        reason = rest[1].lower()
        if reason not in ADJUSTMENT_REASONS:
            raise _Bad("adjust_reason")
        return Adjust(retailer, direction, amount, reason, _rest(rest, 2) or None)
    _need(rest, 1, 1)
    if name == "limit":
        return Limit(retailer, _amount(rest[0], allow_zero=True))
    if name == "maxorder":
        return MaxOrder(retailer, _amount(rest[0]))
    if name == "days":
        return Days(retailer, _days(rest[0]))
    raise AssertionError(name)  # every name in USAGE is handled above


def _build_other(name: str, args: list[str], job_names: Sequence[str]) -> Command:
    if name == "fail":
        _need(args, 2, None)
        return Fail(_order(args[0]), _rest(args, 1))
    if name == "run":
        _need(args, 1, 2)
        job = args[0].lower().replace("-", "_")
        if job not in job_names:
            raise _Bad("job")
        as_of = None
        if len(args) == 2:
            try:
                as_of = date.fromisoformat(args[1])
            except ValueError:
                raise _Bad("date") from None
            if len(args[1]) != 10:
                raise _Bad("date")
        return Run(job, as_of)
    raise AssertionError(name)


def _build_desk(name: str, args: list[str]) -> DeskCommand:
    if name == "orders":
        _need(args, 0, 1)
        which = args[0].lower() if args else "open"
        if which not in ORDER_LISTS:
            raise _Bad("order_list")
        return Orders(which)
    if name == "price":
        _need(args, 2, 2)
        if len(args[0]) > MAX_SKU_CHARS:
            raise _Bad("sku")
        return Price(args[0], _amount(args[1]))
    _need(args, 1, None)
    order_id = _order(args[0])
    if name in ("dispatch", "deliver"):
        _need(args, 1, 1)
        return Dispatch(order_id) if name == "dispatch" else Deliver(order_id)
    if name == "cancel":
        _need(args, 2, None)
        return Cancel(order_id, _rest(args, 1))
    if name == "return":
        _need(args, 3, None)
        return Return(order_id, _amount(args[1]), _rest(args, 2))
    raise AssertionError(name)


def parse_command(text: str, job_names: Sequence[str]) -> Parsed:
    """Parse one admin message. The command word is case-insensitive; a leading `/` is allowed."""
    words = text.split()
    if not words:
        return Help()
    name = words[0].lower().removeprefix("/")
    name = ALIASES.get(name, name)
    if name not in USAGE:
        return Unknown(words[0][:40])
    try:
        return _build(name, words[1:], job_names)
    except _Bad as bad:
        return Usage(name, bad.problem)
