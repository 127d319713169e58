"""The "how to pay" lines of reminders, `balance` and `statement` (pure).

With a gateway, a message carries the payment link made for the amount it asks for; without one
(or when making the link failed), a `upi://pay` link with the amount, when `UPI_ID` is set, which
opens any UPI app with the payee, amount and note filled in (the NPCI deep-link parameters `pa`,
`pn`, `am`, `cu`, `tn`). The template `how_to_pay` renders the `pay` variable built here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from bot.money import to_rupees

# A UPI address: a handle, "@", the provider's name (`ramesh.k@okhdfcbank`, `98123@ybl`).
VPA_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,255}@[a-z][a-z0-9.-]{1,63}$")
# UPI apps show at most this much of a note.
MAX_NOTE = 50


class InvalidVpa(ValueError):
    """Not a UPI address."""


def normalize_vpa(raw: str) -> str:
    """A UPI address, lowercased (`Ramesh@OKHDFC` is `ramesh@okhdfc`); InvalidVpa otherwise."""
    vpa = raw.strip().lower()
    if not VPA_PATTERN.match(vpa):
        raise InvalidVpa(raw)
    return vpa


def vpa_or_none(raw: str | None) -> str | None:
    """`raw` as a UPI address (`normalize_vpa`), or None when it is missing or not one: for a
    clue found in a gateway's payment or a bank narration, which may be anything."""
    if not raw:
        return None
    try:
        return normalize_vpa(raw)
    except InvalidVpa:
        return None


def upi_url(vpa: str, payee: str, amount: int, note: str) -> str:
    """`upi://pay?pa=...&pn=...&am=1250.00&cu=INR&tn=...` for `amount` paise."""
    params = [
        ("pa", vpa),
        ("pn", payee.strip()[:MAX_NOTE]),
        ("am", str(to_rupees(amount))),
        ("cu", "INR"),
        ("tn", note.strip()[:MAX_NOTE]),
    ]
    return "upi://pay?" + urlencode(params, safe="@", quote_via=quote)


@dataclass(frozen=True)
class PayOptions:
    """What can be offered to one retailer, loaded by the caller: the live gateway link for the
    amount due if there is one, the UPI payee when `UPI_ID` is set, and whether a gateway is
    configured (so a missing link can be asked for)."""

    upi_id: str | None = None
    payee: str = ""
    note: str = ""  # the UPI note: the retailer's shop and number, so a bank line names them
    link_url: str | None = None
    link_amount: int | None = None
    gateway: bool = False


def pay_vars(options: PayOptions | None, amount: int) -> dict[str, Any] | None:
    """The template's `pay` variable for asking `amount` paise, or None (nothing to offer)."""
    if options is None or amount <= 0:
        return None
    link = options.link_url if options.link_amount == amount else None
    if link is None and not options.upi_id:
        return None
    return {
        "amount": amount,
        "link": link,
        "upi_id": options.upi_id,
        "payee": options.payee,
        "note": options.note,
        "upi_url": (
            upi_url(options.upi_id, options.payee, amount, options.note)
            if options.upi_id and link is None
            else None
        ),
    }


def needs_link(options: PayOptions | None, amount: int) -> bool:
    """Whether a gateway link for `amount` should be asked for (none yet, a gateway exists)."""
    return (
        options is not None
        and options.gateway
        and amount > 0
        and not (options.link_url and options.link_amount == amount)
    )


def refresh_pay(pay: Any, amount: int) -> dict[str, Any] | None:
    """A stored `pay` variable made true for a new `amount` (a reminder brought up to date when
    it is sent): a link for another amount is dropped, the UPI link follows the amount."""
    if not isinstance(pay, Mapping) or amount <= 0:
        return None
    if pay.get("amount") == amount:
        return dict(pay)
    upi_id = pay.get("upi_id")
    if not isinstance(upi_id, str) or not upi_id:
        return None
    payee, note = str(pay.get("payee") or ""), str(pay.get("note") or "")
    return {
        "amount": amount,
        "link": None,
        "upi_id": upi_id,
        "payee": payee,
        "note": note,
        "upi_url": upi_url(upi_id, payee, amount, note),
    }


def upi_note(shop_name: str, name: str, phone: str) -> str:
    """The UPI note for a retailer: their shop (or name) and national number, which banks copy
    into the statement's narration (so the bank import can match it by phone)."""
    national = phone[3:] if phone.startswith("+91") else phone.lstrip("+")
    label = (shop_name or name).strip()
    room = MAX_NOTE - len(national) - 1
    return f"{label[:room]} {national}".strip()
