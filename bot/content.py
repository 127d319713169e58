"""The numbered variables of each kind's approved WhatsApp template (Content API), pure.

Outside the 24-hour window a business-initiated message is sent as the kind's approved template:
`ContentSid` + `ContentVariables` (`{"1": ..., "2": ...}`). This module builds those variables
from an outbox row's own `variables`, and keeps them within what WhatsApp accepts:

- a variable is never empty, and holds no newline, tab or run of 5+ spaces (Twilio refuses those
  with 21656 / 63013): whitespace is folded to single spaces;
- the template's text and its variables together stay within 1,024 characters (63021), counted
  in UTF-16 code units as Twilio counts: `TEMPLATE_TEXT_ALLOWANCE` is kept for the approved
  template's own text (the README asks for templates shorter than that), and the variables share
  the rest; a longer one is cut, at a character boundary, and ends in "…".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.messages import MessageKind, cut_utf16, format_day, format_when, utf16_len
from bot.money import format_inr

# WhatsApp's limit for a template's text and its parameters together (Twilio error 63021).
TEMPLATE_LIMIT = 1024
# What the approved template's own text may take of it (its placeholders not counted).
TEMPLATE_TEXT_ALLOWANCE = 424
VARIABLES_BUDGET = TEMPLATE_LIMIT - TEMPLATE_TEXT_ALLOWANCE
_SPACES = re.compile(r"\s+")


def _text(value: Any) -> str:
    # Twilio refuses an empty variable, and newlines, tabs or 5+ spaces in one (21656, 63013).
    text = _SPACES.sub(" ", str(value)).strip()
    return text or "-"


def _reminder(v: Mapping[str, Any], lang: str) -> list[str]:
    first_due = min(str(item["due_date"]) for item in v["items"])
    return [_text(v["name"]), format_inr(int(v["total_due"])), format_day(first_due, lang)]


# A SYSTEM pause's reason in the template's language (as templates/*/credit_paused.txt says it).
_OVERDUE_REASON = {
    "en": "{amount} unpaid for more than {days} days",
    "hi": "{amount} का भुगतान {days} दिन से ज़्यादा समय से बाकी है",
}


def _paused(v: Mapping[str, Any], lang: str) -> list[str]:
    reason = _text(v["reason"])
    if "overdue_unpaid" in v:
        reason = _OVERDUE_REASON.get(lang, _OVERDUE_REASON["en"]).format(
            amount=format_inr(int(v["overdue_unpaid"])), days=int(v["max_outstanding_days"])
        )
    return [_text(v["name"]), reason]


def _resumed(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), format_inr(int(v["available"]))]


# Whom a blocked retailer is told to call when SUPPORT_PHONE is not set.
_DISTRIBUTOR = {"en": "your distributor", "hi": "अपने डिस्ट्रीब्यूटर"}


def _blocked(v: Mapping[str, Any], lang: str) -> list[str]:
    call = v.get("support_phone") or _DISTRIBUTOR.get(lang, _DISTRIBUTOR["en"])
    return [_text(v["name"]), _text(call)]


def _order_failed(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["order_id"]), _text(v["reason"])]


def _order_dispatched(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["order_id"]), format_inr(int(v["total"]))]


def _order_cancelled(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["order_id"]), _text(v["reason"])]


def _follow_up(v: Mapping[str, Any], lang: str) -> list[str]:
    # {{4}} is the moment the checkout expires, as the free-form message says it ("28 Nov,
    # 10 am"): the approved text promises `resume` until then.
    return [
        _text(v["name"]),
        _text(v["item_count"]),
        format_inr(int(v["total"])),
        format_when(str(v["expires_at"]), lang),
    ]


def _insights(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["name"]), _text(v["orders"]), format_inr(int(v["spend"]))]


def _test_message(v: Mapping[str, Any], lang: str) -> list[str]:
    return [_text(v["message"])]


def _payment_received(v: Mapping[str, Any], lang: str) -> list[str]:
    # {{4}} is "₹0" when nothing became advance (a variable is never empty); a receipt queued
    # before receipts carried `to_advance` had none (its excess was held, not kept as advance).
    return [
        _text(v["name"]),
        format_inr(int(v["amount"])),
        format_inr(int(v["outstanding"])),
        format_inr(int(v.get("to_advance", 0))),
    ]


# Each business-initiated kind's approved WhatsApp template takes these numbered variables, built
# from the outbox row's `variables` (amounts as ₹, dates in the row's language):
#   payment_reminder         {{1}} name, {{2}} total due, {{3}} earliest due date
#   credit_paused            {{1}} name, {{2}} reason
#   credit_resumed           {{1}} name, {{2}} available credit
#   credit_blocked           {{1}} name, {{2}} whom to call (SUPPORT_PHONE)
#   order_failed             {{1}} name, {{2}} order number, {{3}} reason
#   order_dispatched         {{1}} name, {{2}} order number, {{3}} order total
#   order_cancelled          {{1}} name, {{2}} order number, {{3}} reason
#   pending_order_follow_up  {{1}} name, {{2}} item count, {{3}} cart total, {{4}} when it
#                            expires (day and time); the approved text says to reply *resume*
#   insights                 {{1}} name, {{2}} orders, {{3}} spend
#   test_message             {{1}} the message
#   payment_received         {{1}} name, {{2}} amount received, {{3}} still owed after it,
#                            {{4}} of it kept as advance for the next orders (₹0 when none);
#                            a pause it lifted is told by its own credit_resumed

CONTENT_VARIABLES: dict[MessageKind, Callable[[Mapping[str, Any], str], list[str]]] = {
    MessageKind.PAYMENT_REMINDER: _reminder,
    MessageKind.CREDIT_PAUSED: _paused,
    MessageKind.CREDIT_RESUMED: _resumed,
    MessageKind.CREDIT_BLOCKED: _blocked,
    MessageKind.ORDER_FAILED: _order_failed,
    MessageKind.ORDER_DISPATCHED: _order_dispatched,
    MessageKind.ORDER_CANCELLED: _order_cancelled,
    MessageKind.PENDING_ORDER_FOLLOW_UP: _follow_up,
    MessageKind.INSIGHTS: _insights,
    MessageKind.TEST_MESSAGE: _test_message,
    MessageKind.PAYMENT_RECEIVED: _payment_received,
}


# The kinds this version knows, as the strings rows store: a row may name a kind it does not know
# (queued by a newer version, or by hand), which `MessageKind(kind)` would refuse with an error.
KNOWN_KINDS: frozenset[str] = frozenset(MessageKind)


def content_sid_for(templates: Mapping[str, str], kind: str, language: str) -> str | None:
    """`WHATSAPP_TEMPLATES` entry for this kind: `kind:lang` (an approved Hindi template) first."""
    return templates.get(f"{kind}:{language}") or templates.get(kind) or None


def content_variables(kind: str, variables: Mapping[str, Any], language: str) -> dict[str, str]:
    """The numbered variables ("1", "2", ...) of `kind`'s template; KeyError names what is missing."""
    build = CONTENT_VARIABLES.get(MessageKind(kind)) if kind in KNOWN_KINDS else None
    if build is None:
        raise KeyError(f"no variable mapping for kind {kind!r}")
    try:
        values = build(variables, language)
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyError(f"variables of {kind!r} lack or mangle {exc}") from None
    fitted = fit_variables(values, VARIABLES_BUDGET)
    return {str(i): value for i, value in enumerate(fitted, start=1)}


def fit_variables(values: list[str], budget: int) -> list[str]:
    """`values` within `budget` UTF-16 code units in all: the longest is cut (ending in "…")
    until they fit, so short ones (names, amounts, dates) stay whole."""
    out = list(values)
    while (excess := sum(utf16_len(v) for v in out) - budget) > 0:
        longest = max(range(len(out)), key=lambda i: utf16_len(out[i]))
        old = out[longest]
        new = cut_utf16(old, utf16_len(old) - excess - 1).rstrip() + "…"
        if utf16_len(new) >= utf16_len(old):
            break  # nothing left to cut: a budget below one character per variable
        out[longest] = new
    return out
