"""The insights API's answer: stored insight data with its amounts as rupee strings.

`retailer_insights.data` keeps amounts in paise (what `bot.insights.compute_insights` returns and
the templates format); the API gives every amount as an exact rupee string (`"1350.50"`), so the
conversion happens here, at the edge, for the keys that are amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.money import rupees_json

# Keys of `compute_insights`'s answer that are amounts in paise.
AMOUNT_KEYS = frozenset({"spend", "averageOrder"})


def insights_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """The insight data as the API shows it: amounts as rupee strings, the rest as stored."""
    return {
        key: rupees_json(value) if key in AMOUNT_KEYS and isinstance(value, int) else value
        for key, value in data.items()
    }
