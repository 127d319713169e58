"""Sample variables for the payment templates (receipt, how to pay)."""

from __future__ import annotations

from typing import Any

from bot.payments.pay import PayOptions, pay_vars

SAMPLES: dict[str, dict[str, Any]] = {
    "payment_received": {
        "name": "Ramesh",
        "amount": 1_250_000,
        "cleared": 1_250_000,
        "to_advance": 0,
        "advance": 0,
        "resumed": False,
        "outstanding": 300_000,
        "reference": "pay_Nx8d7QZ4bB2LhT",
        "source": "gateway",
    },
    "how_to_pay": {
        "pay": pay_vars(
            PayOptions(upi_id="sharma.traders@okhdfcbank", payee="Sharma Traders", note="Ramesh"),
            1_250_000,
        )
    },
}
