"""Every template renders in English and Hindi from sample data, within WhatsApp's limit."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

import tests
from bot.content import CONTENT_VARIABLES
from bot.credit import RefusalCode
from bot.messages import (
    LANGUAGES,
    MAX_MESSAGE_CHARS,
    TEMPLATES_DIR,
    MessageKind,
    Renderer,
    Reply,
)


def _samples() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for info in pkgutil.iter_modules(tests.__path__):
        if info.name.startswith("samples_"):
            merged.update(importlib.import_module(f"tests.{info.name}").SAMPLES)
    return merged


SAMPLES = _samples()
NAMES = sorted({p.stem for lang in LANGUAGES for p in (TEMPLATES_DIR / lang).glob("*.txt")})


def test_every_template_exists_in_both_languages() -> None:
    for name in NAMES:
        for lang in LANGUAGES:
            assert (TEMPLATES_DIR / lang / f"{name}.txt").exists(), f"{lang}/{name}.txt missing"


@pytest.mark.parametrize("name", NAMES)
def test_every_template_has_sample_data(name: str) -> None:
    assert name in SAMPLES, f"add sample variables for {name!r} to a tests/samples_*.py"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_renders(name: str, lang: str) -> None:
    text = Renderer().render(Reply(name, SAMPLES.get(name, {})), lang)
    assert text.strip()
    assert len(text) <= MAX_MESSAGE_CHARS
    assert "{{" not in text and "{%" not in text
    if lang == "hi" and not name.startswith("admin_"):
        # Hindi templates are written in Devanagari, not copied English.
        assert any("\u0900" <= ch <= "\u097f" for ch in text), f"hi/{name} has no Hindi text"


def test_missing_variable_is_an_error(tmp_path: Path) -> None:
    for lang in LANGUAGES:
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "x.txt").write_text("Hello {{ name }}, you owe {{ amount | inr }}")
    renderer = Renderer(tmp_path)
    assert renderer.render(Reply("x", {"name": "Ramesh", "amount": 12500000})) == (
        "Hello Ramesh, you owe ₹1,25,000"
    )
    with pytest.raises(UndefinedError):
        renderer.render(Reply("x", {"name": "Ramesh"}))


def test_pause_notice_states_a_system_reason_in_the_retailers_language() -> None:
    renderer = Renderer()
    system = {"name": "Sunita", "reason": "₹41,840 unpaid for more than 30 days"}
    system |= {"overdue_unpaid": 4_184_000, "max_outstanding_days": 30}
    hindi = renderer.render(Reply("credit_paused", system), "hi")
    assert "₹41,840 का भुगतान 30 दिन से ज़्यादा समय से बाकी है" in hindi
    assert "unpaid" not in hindi
    # A person's reason is sent as they wrote it.
    person = {"name": "Sunita", "reason": "cheque bounced"}
    assert "cheque bounced" in renderer.render(Reply("credit_paused", person), "hi")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_refusal_code_and_message_kind_has_its_template(lang: str) -> None:
    for code in RefusalCode:
        assert (TEMPLATES_DIR / lang / f"{code.template}.txt").exists(), f"{lang}: {code}"
    for kind in MessageKind:
        assert (TEMPLATES_DIR / lang / f"{kind.value}.txt").exists(), f"{lang}: {kind}"


def test_every_message_kind_maps_to_whatsapp_template_variables() -> None:
    assert set(CONTENT_VARIABLES) == set(MessageKind)
