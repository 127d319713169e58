"""The catalogue of messages as people read them, kept in `tests/snapshots/<lang>/<template>__<case>.txt`,
so a change of wording shows in a diff a reviewer reads (issue 13, item 4).

Every template is rendered from its sample variables (`tests/samples_*.py`, case `sample`), and
the ones whose words depend on counts, lists or names also with edge values: 0, 1 and many
entries, long names, both languages (`EDGES`). The test fails with a readable diff when a text
changes; to accept the change, regenerate the files and review them in the diff:

    SNAPSHOT_UPDATE=1 .venv/bin/python -m pytest -q tests/test_snapshots.py

which also removes the files of cases that no longer exist.
"""

from __future__ import annotations

import difflib
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.messages import LANGUAGES, Renderer, Reply
from bot.reminders import breakdown
from bot.statements import SHOWN_ITEMS, DueItem, Dues, dues_vars
from tests.test_templates import NAMES, SAMPLES

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SNAPSHOT_UPDATE") == "1"
RENDERER = Renderer()

LONG_NAME = "Ramesh Kumar Venkataraman Subramaniam Iyer"
LONG_PRODUCT = "Aashirvaad Shudh Chakki Atta Multigrain…"  # as the checkout cuts at 40


def _debit(i: int, *, stage: str = "overdue", days: int = 3, reason: str | None = None) -> Any:
    return {
        "transaction_id": i, "order_id": None if reason else 1000 + i, "unpaid": 1_250_00 + i,
        "due_date": f"2026-11-{1 + i % 28:02d}", "days_overdue": days, "stage": stage,
        "reason": reason, "note": "weight short on invoice 88" if reason else None,
    }  # fmt: skip


def _reminder(items: list[dict[str, Any]], stage: str, name: str = "Ramesh") -> dict[str, Any]:
    return {
        "name": name,
        "stage": stage,
        "items": items,
        "total_due": sum(i["unpaid"] for i in items),
        "breakdown": breakdown(items),
    }


def _lines(n: int, name: str = "Tata Salt 1kg") -> list[dict[str, Any]]:
    return [
        {"n": i + 1, "name": name, "quantity": 1 + i, "unit_price": 28_00,
         "line_total": 28_00 * (1 + i)}
        for i in range(n)
    ]  # fmt: skip


def _cart(n: int, name: str = "Tata Salt 1kg", **extra: Any) -> dict[str, Any]:
    lines = _lines(n, name)
    return {
        "lines": lines, "unavailable": [], "total": sum(x["line_total"] for x in lines),
        "reordered": False, "has_pending": False, **extra,
    }  # fmt: skip


def _statement(n: int, *, reason: str | None = "return", **extra: Any) -> dict[str, Any]:
    """The `statement` reply as the handler builds it for `n` open debits, every third an
    adjustment with `reason` (the handler loads the first few only, and the rest's count and
    total)."""
    today = date(2026, 2, 20)
    items = tuple(
        DueItem(
            i, None if i % 3 == 2 else 1000 + i, 1_250_00, 1_250_00 - i, date(2026, 1, 1 + i % 28),
            date(2026, 1, 16) + timedelta(days=i % 40), reason if i % 3 == 2 else None,
            "rate difference, bill 88" if i % 3 == 2 else None,
        )
        for i in range(n)
    )  # fmt: skip
    dues = Dues(
        items=items[:SHOWN_ITEMS],
        count=n,
        total=sum(i.unpaid for i in items),
        overdue=sum(i.unpaid for i in items if i.due_date < today),
    )
    return {"name": "Ramesh", "has_credit": True, "today": today, **dues_vars(dues, today), **extra}


_HINT = {
    "heard": "", "categories": 0, "asking": "", "choices": 0, "cart_count": 0,
    "credit_allowed": False,
}  # fmt: skip
_INSIGHT = SAMPLES["insights"]


# template -> case -> variables: the edge values whose wording was wrong or could be.
EDGES: dict[str, dict[str, dict[str, Any]]] = {
    "payment_reminder": {
        "one_due_soon": _reminder([_debit(1, stage="due_soon", days=0)], "due_soon"),
        "one_due_today_adjustment": _reminder(
            [_debit(2, stage="due_today", days=0, reason="correction")], "due_today"
        ),
        "one_day_late": _reminder([_debit(3, days=1)], "overdue"),
        "mixed": _reminder(
            [
                _debit(4, days=20, stage="escalating"),
                _debit(5, days=1),
                _debit(6, stage="due_today", days=0, reason="return"),
                _debit(7, stage="due_soon", days=0),
            ],
            "escalating",
        ),
        "sixty_items_long_name": _reminder(
            [_debit(i, days=i) for i in range(60)], "escalating", LONG_NAME
        ),
    },
    "cart": {
        "one_line": _cart(1),
        "seven_lines": _cart(7),
        "full_long_names": _cart(25, LONG_PRODUCT, has_pending=True),
        "nothing_left": {**_cart(0), "unavailable": ["Harpic 1L"]},
        "reordered": _cart(2, reordered=True),
    },
    "items_added": {
        "one": {
            "added": [{"name": "Tata Salt 1kg", "quantity": 1, "line_total": 28_00}],
            "count": 1,
            "total": 28_00,
            "browsing": False,
        },
    },
    "item_problems": {
        "negative_alone": {
            "problems": [
                {
                    "kind": "negative",
                    "ref": "atta -2",
                    "name": "Aashirvaad Atta 10kg",
                    "example": "atta 2",
                }
            ],
            "unchanged": True,
        },
        "how_many_fraction": {
            "problems": [
                {"kind": "fraction", "ref": "2.5", "name": "Aashirvaad Atta 10kg", "example": "2"}
            ],
            "unchanged": True,
        },
        "no_line_one": {
            "problems": [{"kind": "no_line", "ref": "2", "name": "", "lines": 1}],
            "unchanged": True,
        },
    },
    "ask_pack": {
        "whole_packs": {**SAMPLES["ask_pack"], "heard": "atta 20 kg", "packs": 2, "quantity": 20},
    },
    "order_confirmation": {
        "one_item_cod": {
            **SAMPLES["order_confirmation"],
            "mode": "COD",
            "due_date": None,
            "items": [{"name": "Tata Salt 1kg", "quantity": 1, "line_total": 28_00}],
            "total": 28_00,
        },
        "long_names": {
            **SAMPLES["order_confirmation"],
            "name": LONG_NAME,
            "items": [{"name": LONG_PRODUCT, "quantity": 999, "line_total": 999 * 450_00}] * 25,
            "total": 25 * 999 * 450_00,
            "from_advance": 0,
            "available": 0,
        },
    },
    "menu": {
        "one_in_cart": {**SAMPLES["menu"], "cart_count": 1},
        "nothing_to_order": {"categories": [], "cart_count": 0},
    },
    "pick_product": {"no_quantity": {**SAMPLES["pick_product"], "quantity": 0}},
    "catalogue_page": {"one_page": {**SAMPLES["catalogue_page"], "pages": 1, "has_next": False}},
    "hint": {
        "cart_one_line": {**_HINT, "stage": "CART", "cart_count": 1},
        "cart_empty": {**_HINT, "stage": "CART"},
        "quantity": {
            **_HINT,
            "stage": "QUANTITY",
            "asking": "Aashirvaad Atta 10kg",
            "heard": "kal dena",
        },
        "pick": {**_HINT, "stage": "PICK", "choices": 2},
        "pick_of_five": {**_HINT, "stage": "PICK", "choices": 5},
        "payment_credit": {**_HINT, "stage": "PAYMENT", "credit_allowed": True},
        "confirm": {**_HINT, "stage": "CONFIRM"},
        "start": {**_HINT, "stage": "START"},
    },
    "checkout_cancelled": {
        "cart_only": {"had_order": False, "cleared": False},
        "clear_with_order": {"had_order": True, "cleared": True},
    },
    "insights": {
        "first_order": {
            **_INSIGHT,
            "orders": 1,
            "spend": 450_00,
            "average_order": 450_00,
            "days_since_last": 1,
            "typical_gap": None,
            "due_to_reorder": False,
            "weekly": False,
        },
        "today": {**_INSIGHT, "days_since_last": 0, "due_to_reorder": False, "weekly": False},
        "every_day": {**_INSIGHT, "typical_gap": 1, "days_since_last": 1},
        "none": {**_INSIGHT, "orders": 0, "top_items": [], "weekly": False},
    },
    "insights_switched": {"on": {"off": False}},
    "pending_order_follow_up": {
        "one_item_evening": {
            **SAMPLES["pending_order_follow_up"],
            "item_count": 1,
            "expires_at": "2026-11-28T21:45:00+05:30",
        },
    },
    "recent_orders": {"none": {"name": "Ramesh Kumar", "orders": []}},
    "confirm_order": {
        "one_item_cod": {
            "total": 28_00,
            "count": 1,
            "mode": "COD",
            "due_date": None,
            "available_after": 0,
            "from_advance": 0,
        },
    },
    "payment_options": {
        "one_item_no_credit": {
            "total": 28_00,
            "count": 1,
            "credit_allowed": False,
            "available": 0,
            "due_date": date(2026, 1, 30),
            "not_placed": True,
        },
    },
    "statement": {
        "one_order": _statement(1),
        "five_with_a_return": _statement(5),
        "one_charge_without_reason": {
            **_statement(0),
            **dues_vars(
                Dues(
                    (DueItem(7, None, 300_00, 300_00, date(2026, 2, 1), date(2026, 2, 16)),),
                    1,
                    300_00,
                    300_00,
                ),
                date(2026, 2, 20),
            ),
        },
        "two_hundred": _statement(200, reason="dispute", advance=50_00),
        "nothing_due": {**_statement(0), "has_credit": True},
        "no_credit_line": {**_statement(0), "has_credit": False},
    },
    "credit_status": {
        "nothing_due": {**SAMPLES["credit_status"], "next_due": None, "opted_out": False},
        # The nearest due date has passed: not "next due" but overdue since then (walk of 11/12).
        "overdue": {
            **SAMPLES["credit_status"],
            "next_due": {"date": "2026-01-10", "amount": 2_160_000, "overdue": True},
            "opted_out": False,
        },
    },
    "admin_risk": {
        "one_of_each": {
            **SAMPLES["admin_risk"],
            "buckets": [{"name": "current", "amount": 1_000_00, "retailers": 1}],
            "total_outstanding": 1_000_00,
            "total_limit": 50_000_00,
            "available": 49_000_00,
            "utilisation": 2.0,
            "retailers": 1,
            "active": 0,
            "paused": 1,
            "paused_by_system": 1,
            "blocked": 0,
            "overrides": 0,
            "advances": 10_00,
            "advance_retailers": 1,
        },
    },
    "admin_guardrails": {
        "one_day": {
            **SAMPLES["admin_guardrails"],
            "max_outstanding_days": 1,
            "payment_terms_days": 1,
        },
    },
    "order_dispatched": {"cod": {**SAMPLES["order_dispatched"], "mode": "COD", "due_date": None}},
    "refusal_product_unavailable": {
        "unnamed": {**SAMPLES["refusal_product_unavailable"], "names": []},
        "one_name": {**SAMPLES["refusal_product_unavailable"], "names": ["Harpic 1L"]},
    },
}


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    out = [(name, "sample", SAMPLES.get(name, {})) for name in NAMES]
    for name, cases in EDGES.items():
        assert name in NAMES, f"no template {name!r}"
        out.extend((name, case, variables) for case, variables in cases.items())
    return out


CASES = _cases()


def snapshot_path(lang: str, template: str, case: str) -> Path:
    return SNAPSHOTS / lang / f"{template}__{case}.txt"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    "template, case, variables", [pytest.param(*c, id=f"{c[0]}__{c[1]}") for c in CASES]
)
def test_message_reads_as_its_snapshot(
    template: str, case: str, variables: dict[str, Any], lang: str
) -> None:
    try:
        text = RENDERER.render(Reply(template, variables), lang) + "\n"
    except Exception as exc:  # a sample missing a variable the template now needs
        pytest.fail(f"{lang}/{template} ({case}) does not render: {exc!r}")
    path = snapshot_path(lang, template, case)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.relative_to(SNAPSHOTS.parent)}: run with SNAPSHOT_UPDATE=1")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"snapshot {lang}/{template}__{case}",
                tofile="rendered now",
            )
        )
        pytest.fail(f"the message changed (SNAPSHOT_UPDATE=1 accepts it):\n{diff}")


def test_no_snapshot_is_left_of_a_case_that_is_gone() -> None:
    wanted = {snapshot_path(lang, t, c) for lang in LANGUAGES for t, c, _ in CASES}
    stale = sorted(p for p in SNAPSHOTS.glob("*/*.txt") if p not in wanted)
    if UPDATE:
        for path in stale:
            path.unlink()
        return
    assert not stale, f"snapshots of no case (SNAPSHOT_UPDATE=1 removes them): {stale}"
