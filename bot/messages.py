"""Every message a person reads is a Jinja template, one file per message and language.

Domain code returns `Reply(template, vars)`; only this module turns it into text.
Templates live in `templates/<lang>/<name>.txt`; Jinja runs with StrictUndefined, so a missing
variable is an error, not a blank.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.money import format_inr

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
        return self in (MessageKind.PAYMENT_REMINDER, MessageKind.PENDING_ORDER_FOLLOW_UP)


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

    def render(self, reply: Reply, lang: str = DEFAULT_LANGUAGE) -> str:
        lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        template = self.env.get_template(f"{lang}/{reply.template}.txt")
        text = template.render(lang=lang, **reply.vars).strip()
        if utf16_len(text) > MAX_MESSAGE_CHARS:
            # A long list (catalogue, cart) must never break delivery; cut at a line, counting
            # as Twilio counts (the "\n…" added is 2 units).
            text = cut_utf16(text, MAX_MESSAGE_CHARS - 2).rsplit("\n", 1)[0] + "\n…"
        return text
