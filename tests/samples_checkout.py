"""Sample variables for the checkout's conversation templates (rendered by test_templates)."""

from __future__ import annotations

from datetime import date
from typing import Any

_HINT = {
    "stage": "BROWSING",
    "heard": "kya haal",
    "categories": 0,
    "asking": "",
    "choices": 0,
    "cart_count": 2,
    "credit_allowed": True,
}
_REFUSAL = {
    "total": 6250000,
    "available": 2500000,
    "credit_limit": 10000000,
    "max_order_value": 5000000,
    "overdue_unpaid": 1500000,
    "max_outstanding_days": 30,
    "paused_by_system": True,
    "overdue_blocks": True,
    "support_phone": "+919876500000",
    "names": [],
}
# What `bot.checkout.commands.credit_vars` gives (greeting, balance).
_CREDIT = {
    "has_credit": True,
    "standing": "OPEN",
    "available": 5950000,
    "limit": 10000000,
    "outstanding": 4050000,
    "advance": 0,
    "overdue_unpaid": 1500000,
    "overdue_blocks": True,
    "max_outstanding_days": 30,
    "override_until": date(2026, 2, 10),
    "support_phone": "+919876500000",
}

SAMPLES: dict[str, dict[str, Any]] = {
    "greeting": {"name": "Ramesh Kumar", "shop_name": "Ramesh General Store", **_CREDIT},
    "menu": {
        "categories": [
            {"n": 1, "name": "Beverages", "count": 5},
            {"n": 2, "name": "Staples", "count": 9},
        ],
        "cart_count": 2,
    },
    "catalogue_page": {
        "category": "Snacks",
        "items": [
            {"n": 20, "name": "Parle-G Biscuits (12 pack)", "price": 6000, "unit": "box"},
            {"n": 21, "name": "Maggi Noodles (12 pack)", "price": 16800, "unit": "box"},
        ],
        "page": 1,
        "pages": 2,
        "has_next": True,
        "example": 20,
    },
    "catalogue_end": {},
    "ask_quantity": {"name": "Toor Dal 1kg", "price": 16500, "unit": "kg", "max": 999},
    "pick_product": {
        "options": [
            {"n": 1, "name": "Toor Dal 1kg", "price": 16500},
            {"n": 2, "name": "Moong Dal 1kg", "price": 14000},
        ],
        "quantity": 3,
    },
    "items_added": {
        "added": [{"name": "Maggi Noodles (12 pack)", "quantity": 3, "line_total": 50400}],
        "count": 2,
        "total": 95400,
        "browsing": True,
    },
    "item_problems": {
        "problems": [
            {"kind": "unknown_number", "ref": "99", "name": ""},
            {"kind": "unavailable", "ref": "4", "name": "Harpic 1L"},
            {"kind": "not_found", "ref": "pizza", "name": ""},
            {
                "kind": "ambiguous",
                "ref": "dal",
                "name": "",
                "options": [{"n": 25, "name": "Moong Dal 1kg"}, {"n": 29, "name": "Toor Dal 1kg"}],
            },
            {"kind": "no_quantity", "ref": "atta", "name": "Aashirvaad Atta 10kg"},
            {"kind": "zero", "ref": "5 x 0", "name": "Sugar 5kg"},
            {"kind": "too_many", "ref": "5 x 5000", "name": "Sugar 5kg", "max": 999},
            {"kind": "not_whole", "ref": "atta 2.5", "name": ""},
            {"kind": "cart_full", "ref": "7 x 1", "name": "Vim Bar", "max": 25},
            {"kind": "not_understood", "ref": "kal bhejna", "name": ""},
        ]
    },
    "cart": {
        "lines": [
            {
                "n": 1,
                "name": "Aashirvaad Atta 10kg",
                "quantity": 2,
                "unit_price": 45000,
                "line_total": 90000,
            },
            {
                "n": 2,
                "name": "Tata Salt 1kg",
                "quantity": 10,
                "unit_price": 2800,
                "line_total": 28000,
            },
        ],
        "unavailable": ["Harpic 1L"],
        "total": 118000,
        "reordered": False,
        "has_pending": True,
    },
    "cart_empty": {},
    "item_removed": {"name": "Tata Salt 1kg"},
    "quantity_changed": {"name": "Tata Salt 1kg", "quantity": 5},
    "payment_options": {
        "total": 118000,
        "count": 2,
        "credit_allowed": True,
        "available": 5950000,
        "due_date": date(2026, 1, 30),
        "not_placed": False,
    },
    "choose_payment": {
        "total": 118000,
        "count": 2,
        "credit_allowed": False,
        "available": 0,
        "due_date": None,
    },
    "confirm_order": {
        "total": 118000,
        "count": 2,
        "mode": "CREDIT",
        "due_date": date(2026, 1, 30),
        "available_after": 5832000,
        "from_advance": 50000,
    },
    "order_confirmation": {
        "name": "Ramesh Kumar",
        "order_id": 1042,
        "total": 118000,
        "mode": "CREDIT",
        "due_date": date(2026, 1, 30),
        "items": [
            {"name": "Aashirvaad Atta 10kg", "quantity": 2, "line_total": 90000},
            {"name": "Tata Salt 1kg", "quantity": 10, "line_total": 28000},
        ],
        "available": 5832000,
        "from_advance": 50000,
    },
    "refusal_credit_paused": _REFUSAL,
    "refusal_credit_blocked": _REFUSAL,
    "refusal_order_value_exceeded": _REFUSAL,
    "refusal_credit_limit_exceeded": _REFUSAL,
    "refusal_overdue_outstanding": _REFUSAL,
    "refusal_invalid_amount": _REFUSAL,
    "refusal_no_credit_account": _REFUSAL,
    "refusal_product_unavailable": {**_REFUSAL, "names": ["Harpic 1L", "Vim Bar (3 pack)"]},
    "pending_expired": {"has_cart": True, "hours": 24},
    "checkout_cancelled": {"had_order": True},
    "nothing_to_cancel": {"placed_order": 1042},
    "already_placed": {"order_id": 1042},
    "reorder_empty": {},
    "credit_status": {
        "name": "Abdul Rahman",
        **_CREDIT,
        "payment_terms_days": 15,
        "opted_out": True,
        "next_due": {"date": "2026-01-30", "amount": 900000},
    },
    "recent_orders": {
        "name": "Ramesh Kumar",
        "orders": [
            {
                "id": 1042,
                "placed_on": date(2026, 1, 10),
                "total": 118000,
                "mode": "CREDIT",
                "status": "PLACED",
            },
            {
                "id": 1001,
                "placed_on": date(2025, 12, 28),
                "total": 45000,
                "mode": "COD",
                "status": "FAILED",
            },
        ],
    },
    "language_changed": {"language": "hi"},
    "opted_out": {},
    "opted_in": {},
    "help": {"name": "Ramesh Kumar"},
    "hint": _HINT,
    "empty_message": {**_HINT, "heard": "", "stage": "MENU", "categories": 5},
    "media_hint": _HINT,
    "too_long": {"limit": 1600},
    "not_registered": {},
}
