"""Lengths as Twilio counts them: UTF-16 code units, with a margin under 1,600 for a body and
1,024 for a template's text and variables together."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content import TEMPLATE_LIMIT, TEMPLATE_TEXT_ALLOWANCE, content_variables, fit_variables
from bot.messages import (
    MAX_MESSAGE_CHARS,
    TWILIO_BODY_LIMIT,
    Renderer,
    Reply,
    cut_utf16,
    utf16_len,
)


def whole(text: str) -> bool:
    """No lone surrogate: the text encodes to UTF-16 and back unchanged."""
    return text.encode("utf-16-le", "strict").decode("utf-16-le") == text


@pytest.mark.parametrize(
    "text, units",
    [("", 0), ("abc", 3), ("₹1,250", 6), ("नमस्ते", 6), ("😀", 2), ("🙏🏽", 4), ("👨‍👩‍👧", 8),
     ("🇮🇳", 4)],
)  # fmt: skip
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units == len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    "text, limit, cut",
    [
        ("abcdef", 4, "abcd"),
        ("😀😀😀", 5, "😀😀"),  # 5 units: the third emoji would need 6
        ("😀😀😀", 6, "😀😀😀"),
        ("a😀", 2, "a"),  # never half of a surrogate pair
        ("ok 👍🏽", 5, "ok "),  # nor an emoji without its skin tone
        ("hi 👨‍👩‍👧 x", 8, "hi "),  # nor part of a family (joined by ZWJ)
        ("🇮🇳🇮🇳", 6, "🇮🇳"),  # nor half a flag
        ("नमस्ते", 3, "नम"),  # nor a consonant without its virama
        ("1️⃣2️⃣", 4, "1️⃣"),  # nor a keycap without its combining mark
    ],
)
def test_cut_utf16(text: str, limit: int, cut: str) -> None:
    assert cut_utf16(text, limit) == cut
    assert whole(cut) and text.startswith(cut) and utf16_len(cut) <= limit


def test_body_limit_has_a_margin() -> None:
    assert MAX_MESSAGE_CHARS < TWILIO_BODY_LIMIT


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "long.txt").write_text("{{ text }}")
    return Renderer(templates_dir=tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "😀" * 775,  # exactly at the limit, in units (775 code points)
        "\n".join(["🙏 धन्यवाद 🙏"] * 200),  # emoji and Devanagari lines, well over
        "😀" * 2000,  # one long line of emoji, no newline to cut at
        "a" + "😀" * 1000,  # an odd start: the cut falls in the middle of an emoji
        "👨‍👩‍👧" * 500,
    ],
)
def test_renderer_cuts_by_utf16_units_never_inside_a_character(
    renderer: Renderer, text: str
) -> None:
    out = renderer.render(Reply("long", {"text": text}))
    assert utf16_len(out) <= MAX_MESSAGE_CHARS
    assert whole(out)
    if utf16_len(text) <= MAX_MESSAGE_CHARS:
        assert out == text
    else:
        assert out.endswith("\n…") and text.startswith(out.removesuffix("\n…").rstrip("\n"))


def test_renderer_keeps_a_message_exactly_at_the_limit(renderer: Renderer) -> None:
    text = "ab" + "😀" * ((MAX_MESSAGE_CHARS - 2) // 2)  # the limit exactly, counted in units
    assert utf16_len(text) == MAX_MESSAGE_CHARS and len(text) < MAX_MESSAGE_CHARS
    assert renderer.render(Reply("long", {"text": text})) == text
    over = text + "😀"
    assert renderer.render(Reply("long", {"text": over})) != over


@pytest.mark.parametrize(
    "kind, variables",
    [
        ("test_message", {"message": "😀" * 1200}),
        ("test_message", {"message": "नमस्ते 🙏 " * 300}),
        ("credit_paused", {"name": "Sunita 🌸", "reason": "🙏" * 700 + " overdue"}),
        ("order_failed", {"name": "R" * 300, "order_id": 42, "reason": "x😀" * 600}),
    ],
)
def test_template_variables_stay_within_what_whatsapp_accepts(
    kind: str, variables: dict[str, object]
) -> None:
    values = list(content_variables(kind, variables, "en").values())
    assert sum(utf16_len(v) for v in values) <= TEMPLATE_LIMIT - TEMPLATE_TEXT_ALLOWANCE
    assert all(whole(v) and v and "\n" not in v and "     " not in v for v in values)


def test_short_variables_are_kept_whole_and_only_the_longest_cut() -> None:
    values = ["Ramesh", "₹1,250", "😀" * 700]
    fitted = fit_variables(values, 600)
    assert fitted[:2] == values[:2] and fitted[2].endswith("…")
    assert sum(utf16_len(v) for v in fitted) <= 600
    assert fit_variables(["a", "b"], 1) == ["a", "b"]  # nothing sensible to cut: left as is


def test_variables_fold_whitespace_twilio_refuses() -> None:
    values = content_variables(
        "credit_paused", {"name": "Sunita\tDevi", "reason": "line one\n\nline     two"}, "en"
    )
    assert values == {"1": "Sunita Devi", "2": "line one line two"}
