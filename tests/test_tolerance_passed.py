"""Every production call of a ledger operation that takes the overdue tolerance passes it.

The ledger's money operations default `tolerance` to the contract's ₹100 so tests stay short;
the service must pass the configured `OVERDUE_TOLERANCE_PAISE`, or a payment, cancel or return
would lift a pause by a different rule than the verdict and the 11:00 job use. A call that
forgets it compiles and works with the default setting, so only this test notices.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from db import ledger

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "db", "handlers", "jobs")
TAKES_TOLERANCE = frozenset(
    name
    for name, value in vars(ledger).items()
    if inspect.iscoroutinefunction(value) and "tolerance" in inspect.signature(value).parameters
)


def _calls_without_tolerance(path: Path) -> list[str]:
    missing = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in TAKES_TOLERANCE:
            continue
        given = [k for k in node.keywords if k.arg in ("tolerance", None)]
        defaulted = any(
            isinstance(k.value, ast.Name) and k.value.id == "DEFAULT_OVERDUE_TOLERANCE"
            for k in given
        )
        if not given or defaulted:
            missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(...)")
    return missing


def test_the_ledger_operations_that_take_a_tolerance_are_known() -> None:
    assert {"record_payment", "adjust", "move_order", "fail_order"} <= TAKES_TOLERANCE


def test_every_production_call_passes_the_configured_tolerance() -> None:
    missing = [
        problem
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for problem in _calls_without_tolerance(path)
    ]
    assert not missing, "pass tolerance=settings.overdue_tolerance_paise:\n" + "\n".join(missing)
