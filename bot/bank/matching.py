"""Bank statement lines matched to retailers (pure).

`match_line`, in this order: a UTR already recorded as a payment's reference (a duplicate:
nothing is recorded); the retailer's UPI address in the narration; the retailer's phone number in
the narration; an amount exactly one retailer owes. Anything else (two retailers named, two owing
the amount, nobody) is left for an operator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.bank.reading import BankLine
from bot.money import format_inr
from bot.text import norm_key

# The app's name after "@" is letters (okhdfcbank, ybl, paytm); banks glue narration parts with
# "-" or "/", so a handle found with dashes is also tried without each dashed prefix.
_VPA_IN_TEXT = re.compile(r"[a-z0-9][a-z0-9._-]{1,255}@[a-z]{2,64}")
# An Indian mobile number, alone or after +91 / 91- / 0; twelve bare digits are an RRN, not
# 91 and a number.
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+91[- ]?|91[- ]|0)?([6-9][0-9]{9})(?![0-9])")


@dataclass(frozen=True)
class Clues:
    vpas: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # national 10-digit numbers


def clues_in(line: BankLine) -> Clues:
    """The UPI addresses and phone numbers a line's narration names."""
    text = line.narration.lower()
    found: list[str] = []
    for vpa in _VPA_IN_TEXT.findall(text):
        handle, app = vpa.split("@")
        parts = handle.split("-")
        found.extend(f"{'-'.join(parts[i:])}@{app}" for i in range(len(parts)) if parts[i])
    vpas = tuple(dict.fromkeys(v for v in found if len(v.split("@")[0]) >= 2))
    phones = tuple(dict.fromkeys(_PHONE_IN_TEXT.findall(line.narration)))
    return Clues(vpas, phones)


@dataclass(frozen=True)
class MatchFacts:
    """What matching needs, loaded for the lines at hand.

    `known_refs`: normalised reference -> (retailer id, payment transaction id) of recorded
    payments; `vpas` / `phones` (national numbers): the retailers they belong to; `owing`:
    amount -> the retailers whose outstanding is exactly that."""

    known_refs: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    vpas: Mapping[str, int] = field(default_factory=dict)
    phones: Mapping[str, int] = field(default_factory=dict)
    owing: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def after_payment(self, retailer_id: int, before: int, after: int) -> MatchFacts:
        """The facts once `retailer_id`'s outstanding moved from `before` to `after` paise (only
        the amounts already in `owing` are tracked: they are the lines' amounts)."""
        owing = {
            amount: tuple(r for r in ids if r != retailer_id) for amount, ids in self.owing.items()
        }
        if after in owing:
            owing[after] = (*owing[after], retailer_id)
        return replace(self, owing=owing)


@dataclass(frozen=True)
class Match:
    retailer_id: int
    by: str  # utr | vpa | phone | amount
    duplicate_of: int | None = None  # the payment already recorded with this UTR


@dataclass(frozen=True)
class NoMatch:
    reason: str


def match_line(line: BankLine, facts: MatchFacts) -> Match | NoMatch:
    """Whose payment a credit line is, when that is certain (see the module docstring)."""
    if line.reference and line.reference in facts.known_refs:
        retailer_id, payment_id = facts.known_refs[line.reference]
        return Match(retailer_id, "utr", duplicate_of=payment_id)
    clues = clues_in(line)
    by_vpa = {facts.vpas[v] for v in clues.vpas if v in facts.vpas}
    by_phone = {facts.phones[p] for p in clues.phones if p in facts.phones}
    if len(by_vpa) > 1:
        return NoMatch("the narration names the UPI addresses of several retailers")
    if by_vpa and by_phone and by_phone != by_vpa:
        return NoMatch("the UPI address and the phone number belong to different retailers")
    if by_vpa:
        return Match(next(iter(by_vpa)), "vpa")
    if len(by_phone) > 1:
        return NoMatch("the narration names the phone numbers of several retailers")
    if by_phone:
        return Match(next(iter(by_phone)), "phone")
    owing = facts.owing.get(line.amount, ())
    if len(owing) == 1:
        return Match(owing[0], "amount")
    if len(owing) > 1:
        return NoMatch(f"{len(owing)} retailers owe exactly {format_inr(line.amount)}")
    return NoMatch("no retailer has this UTR, UPI address or phone number, or owes this amount")


def reference_variants(reference: str) -> tuple[str, ...]:
    """How an operator may have typed this UTR as a payment reference (normalised as the
    ledger's reference index compares, `norm_key`): as typed, and a number with its padding."""
    ref = norm_key(reference)
    variants = [ref]
    if ref.isdigit():
        variants.extend(ref.zfill(n) for n in (12, 16, 22) if n > len(ref))
    return tuple(dict.fromkeys(variants))
