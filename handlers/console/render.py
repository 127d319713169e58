"""HTML for the console: Jinja templates in templates/console/, autoescaped, StrictUndefined.

They are apart from the message templates (templates/en, templates/hi: plain text, not escaped)
and have their own environment. Amounts are paise here too, shown with the `inr` filter.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from starlette.responses import HTMLResponse

from bot.messages import TEMPLATES_DIR, format_day
from bot.money import format_inr
from bot.roles import performer_name

CONSOLE_TEMPLATES = TEMPLATES_DIR / "console"


@pass_context
def _when(ctx: Context, value: datetime | None) -> str:
    """A moment in the business zone: `15 Jan 2026, 12:00`."""
    if value is None:
        return "—"
    tz: tzinfo = ctx["tz"]
    local = value.astimezone(tz)
    return f"{format_day(local)}, {local:%H:%M}"


def _day(value: date | datetime | None) -> str:
    return "—" if value is None else format_day(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _inr(value: int | None) -> str:
    return "—" if value is None else format_inr(value)


def _rupees_input(value: int | None) -> str:
    """Paise as the rupees a form field shows (`1250.50`, `1250`)."""
    if value is None:
        return ""
    rupees, paise = divmod(value, 100)
    return f"{rupees}.{paise:02d}" if paise else str(rupees)


def counts_text(counts: dict[str, int]) -> str:
    """A job run's counters as a person reads them; `<what>_paise` counters are amounts."""
    parts = []
    for key, value in counts.items():
        if key.endswith("_paise"):
            parts.append(f"{key.removesuffix('_paise').replace('_', ' ')} {format_inr(value)}")
        else:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(CONSOLE_TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # Defaults for pages shown without a session (sign-in, "console closed").
    env.globals.update(operator=None, flash=None, section="", csrf="", error=None)
    env.filters.update(
        inr=_inr,
        day=_day,
        when=_when,
        pct=_pct,
        who=performer_name,
        rupees=_rupees_input,
        counts=counts_text,
    )
    return env


ENV = _environment()


def render(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """The page `name` (a file in templates/console/) with `context`."""
    html = ENV.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status)
