"""Every message a person reads is a Jinja template, one file per message and language.

Domain code returns `Reply(template, vars)`; only this module turns it into text.
Templates live in `templates/<lang>/<name>.txt`; Jinja runs with StrictUndefined, so a missing
variable is an error, not a blank.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.money import format_inr

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("en", "hi")
DEFAULT_LANGUAGE = "en"
# Twilio's limit for one message body is 1,600 characters (error 21617), and it counts an emoji
# outside the basic plane as more than one: we count UTF-16 code units (such an emoji is 2) and
# stay 50 under the limit, in case Twilio's count differs from ours at the edges.
TWILIO_BODY_LIMIT = 1600
MAX_MESSAGE_CHARS = TWILIO_BODY_LIMIT - 50  # in UTF-16 code units (`utf16_len`)

HI_MONTHS = (
    "जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून",
    "जुलाई", "अगस्त", "सितंबर", "अक्टूबर", "नवंबर", "दिसंबर",
)  # fmt: skip
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class MessageKind(StrEnum):
    """Business-initiated messages (DESIGN section 7): each is queued through the outbox, has a
    template of the same name in every language (tested), and may be sent outside the 24-hour
    window as an approved WhatsApp template (`bot.content.CONTENT_VARIABLES`, also tested)."""

    PAYMENT_REMINDER = "payment_reminder"
    CREDIT_PAUSED = "credit_paused"
    CREDIT_RESUMED = "credit_resumed"
    CREDIT_BLOCKED = "credit_blocked"
    ORDER_FAILED = "order_failed"
    ORDER_DISPATCHED = "order_dispatched"
    ORDER_CANCELLED = "order_cancelled"
    PENDING_ORDER_FOLLOW_UP = "pending_order_follow_up"
    INSIGHTS = "insights"
    TEST_MESSAGE = "test_message"
    PAYMENT_RECEIVED = "payment_received"

    @property
    def stops_on_opt_out(self) -> bool:
        """Whether a retailer's STOP switches this kind off (DESIGN sections 4 and 7: no
        reminders). Notices about their account (paused, resumed, failed) still go out."""
        return self in (
            MessageKind.PAYMENT_REMINDER,
            MessageKind.PENDING_ORDER_FOLLOW_UP,
            MessageKind.INSIGHTS,
        )

    @property
    def urgent(self) -> bool:
        """Sent at any hour; otherwise held while `QUIET_HOURS` last (`bot.quiet_hours`).

        Urgent is what answers the person's own act or an order they are waiting on: an order
        that failed or was cancelled (the goods they expect are not coming), a receipt for a payment they just
        made, an operator's test message (sent to see it arrive now). Everything the business starts on its own waits for the morning:
        payment reminders, checkout follow-ups, weekly insights, an order's dispatch (the goods
        arrive anyway), and the credit notices (paused, blocked, active again), which change nothing the retailer can act on at night: the checkout
        itself says it when they next order. Chat replies never pass through the outbox at all.
        """
        return URGENT[self]


# Every kind decided explicitly (a test checks the table is complete): see `MessageKind.urgent`.
URGENT: dict[MessageKind, bool] = {
    MessageKind.PAYMENT_REMINDER: False,
    MessageKind.CREDIT_PAUSED: False,
    MessageKind.CREDIT_RESUMED: False,
    MessageKind.CREDIT_BLOCKED: False,
    MessageKind.ORDER_FAILED: True,
    MessageKind.ORDER_CANCELLED: True,  # like a failure: the goods they wait for are not coming
    MessageKind.ORDER_DISPATCHED: False,  # good news that can wait for the morning
    MessageKind.PENDING_ORDER_FOLLOW_UP: False,
    MessageKind.INSIGHTS: False,
    MessageKind.TEST_MESSAGE: True,
    MessageKind.PAYMENT_RECEIVED: True,  # a receipt answers the retailer's own payment
}


@dataclass(frozen=True)
class Reply:
    """A message to render: template name and its variables (amounts in paise)."""

    template: str
    vars: Mapping[str, Any] = field(default_factory=dict)


def utf16_len(text: str) -> int:
    """Length as Twilio counts it: UTF-16 code units (a character outside the BMP counts 2)."""
    # The codec counts in C; "surrogatepass" counts a lone surrogate (bad input) as the 1 it is.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_utf16(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 code units. It cuts between code points,
    so never inside a surrogate pair, and never inside a character as people see it: a combining
    mark (a Devanagari vowel sign, an emoji's variation selector), a skin tone, a joiner (ZWJ) or
    the second half of a flag goes back with the character it belongs to."""
    if utf16_len(text) <= limit:
        return text
    units = end = 0
    for end, ch in enumerate(text):  # noqa: B007 - `end` is the first character left out
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            break
    while end > 0 and (_joins_previous(text[end]) or text[end - 1] == _ZWJ):
        end -= 1
    if _is_regional(text[end]):
        # Flags are pairs of regional indicators: an odd run before the cut ends in half a flag.
        run = 0
        while run < end and _is_regional(text[end - 1 - run]):
            run += 1
        end -= run % 2
    return text[:end]


_ZWJ = "\u200d"


def _joins_previous(ch: str) -> bool:
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")  # combining marks, variation selectors
        or ch == _ZWJ
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tags (subdivision flags)
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def format_day(value: date | datetime | str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A day as people read it, `5 Mar 2026` or `5 मार्च 2026` (an ISO string's first ten
    characters, a datetime's own date); the templates' `day` filter."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    months = HI_MONTHS if lang == "hi" else EN_MONTHS
    return f"{value.day} {months[value.month - 1]} {value.year}"


# Templates that list things: the list variable, and at most how many entries are listed. The
# template lists `shown` of them and sums up the rest in a line ("and 38 more items, ₹12,340"),
# so a long list never pushes out the total and the next step: when a message would be over
# WhatsApp's limit, the renderer lists fewer (`Renderer.render`). None: as many as fit.
LISTS: dict[str, tuple[str, int | None]] = {
    "payment_reminder": ("items", 8),
    # The statement's handler loads its first items only (`bot.statements.SHOWN_ITEMS`) and the
    # count and total of the others (`more_count`, `more_total`), which its summing line adds.
    "statement": ("items", None),
    "cart": ("lines", None),
    "order_confirmation": ("items", None),
    "items_added": ("added", None),
    "item_problems": ("problems", None),
    "catalogue_page": ("items", None),
    "menu": ("categories", None),
    "pick_product": ("options", None),
    "recent_orders": ("orders", None),
    "refusal_product_unavailable": ("names", None),
    "admin_atrisk": ("retailers", None),
    "admin_profile": ("open_debits", None),
}


def _hi_part_of_day(hour: int) -> str:
    if 4 <= hour < 12:
        return "सुबह"
    if 12 <= hour < 16:
        return "दोपहर"
    if 16 <= hour < 20:
        return "शाम"
    return "रात"


def format_when(value: datetime | str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A moment as people read it, in the zone it carries: `30 Nov, 2:30 pm`, `30 नवंबर, दोपहर
    2:30 बजे` (the templates' `when` filter; the outbox keeps it as an ISO string with offset)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    day = format_day(value, lang).rsplit(" ", 1)[0]  # the year goes: it is hours away
    hour, minute = value.hour, value.minute
    h12 = hour % 12 or 12
    clock = f"{h12}:{minute:02d}" if minute else f"{h12}"
    if lang == "hi":
        return f"{day}, {_hi_part_of_day(hour)} {clock} बजे"
    return f"{day}, {clock} {'am' if hour < 12 else 'pm'}"


# A product's unit as a Hindi reader says it (the catalogue stores it in English).
HI_UNITS = {
    "bag": "बैग", "pack": "पैकेट", "box": "डिब्बा", "bottle": "बोतल", "kg": "किलो",
    "crate": "क्रेट", "jar": "जार", "strip": "स्ट्रिप", "pc": "पीस", "piece": "पीस",
    "l": "लीटर", "litre": "लीटर", "tin": "डिब्बा", "dozen": "दर्जन",
}  # fmt: skip
# Units that stay as they are in English however many ("5 kg").
_EN_INVARIABLE = frozenset({"kg", "g", "l", "ml", "pc"})


def format_unit(unit: str, lang: str = DEFAULT_LANGUAGE, count: int = 1) -> str:
    """A product's unit in the reader's language, plural in English for `count` other than 1
    ("bag", "2 bags", "boxes"); the templates' `unit` filter."""
    if lang == "hi":
        return HI_UNITS.get(unit.lower(), unit)
    if count == 1 or unit.lower() in _EN_INVARIABLE:
        return unit
    return unit + ("es" if unit.endswith(("x", "s", "ch", "sh")) else "s")


def format_count(count: int, noun: str, plural: str | None = None) -> str:
    """A count and its English noun, plural unless the count is 1: `1 day`, `3 days`, `0 retailers`,
    `1 more item` (`plural` for an irregular one: `2 entries`); the templates' `plural` filter.
    Hindi nouns keep one form with a number (`1 दिन`, `3 दिन`): its templates agree the verb."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


class Renderer:
    """Renders Replies in a retailer's language, falling back to English."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.templates_dir = templates_dir
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain-text WhatsApp messages, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates change with a deploy, not while running: skip the per-render stat().
            auto_reload=False,
            cache_size=1000,
        )
        self.env.filters["inr"] = format_inr
        self.env.filters["day"] = format_day
        self.env.filters["when"] = format_when
        self.env.filters["unit"] = format_unit
        self.env.filters["plural"] = format_count

    def text(self, reply: Reply, lang: str = DEFAULT_LANGUAGE, *, shown: int | None = None) -> str:
        """The template's text as written, never cut: a list template lists `shown` entries
        (default: its `LISTS` cap, else all of them)."""
        lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        template = self.env.get_template(f"{lang}/{reply.template}.txt")
        variables = dict(reply.vars)
        listed = LISTS.get(reply.template)
        if listed is not None:
            name, cap = listed
            entries = variables.get(name)
            count = len(entries) if isinstance(entries, list | tuple) else 0
            default = count if cap is None else min(cap, count)
            variables["shown"] = default if shown is None else max(0, min(shown, count))
        return template.render(lang=lang, **variables).strip()

    def render(self, reply: Reply, lang: str = DEFAULT_LANGUAGE) -> str:
        """The message to send, within WhatsApp's limit (`MAX_MESSAGE_CHARS` UTF-16 units).

        A list template over the limit lists fewer entries (the most that fit) and sums up the
        rest, so its total and next step stay. Cutting the text is the last resort, for a
        template that is not a list (a test checks no template needs it)."""
        text = self.text(reply, lang)
        if utf16_len(text) <= MAX_MESSAGE_CHARS:
            return text
        listed = LISTS.get(reply.template)
        if listed is not None:
            entries = reply.vars.get(listed[0])
            low, high = 0, len(entries) if isinstance(entries, list | tuple) else 0
            best: str | None = None
            while low <= high:  # the most entries that fit
                mid = (low + high) // 2
                candidate = self.text(reply, lang, shown=mid)
                if utf16_len(candidate) <= MAX_MESSAGE_CHARS:
                    best, low = candidate, mid + 1
                else:
                    high = mid - 1
            if best is not None:
                return best
        log.warning("message %s (%s) cut to WhatsApp's limit", reply.template, lang)
        # Cut at a line, counting as Twilio counts (the "\n…" added is 2 units).
        return cut_utf16(text, MAX_MESSAGE_CHARS - 2).rsplit("\n", 1)[0] + "\n…"
