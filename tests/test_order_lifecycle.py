"""The order lifecycle and the other pure rules of the business day, as tables: every pair of
status and action, returns priced at the order's prices, prices changed since a retailer saw
them, the chat statement's variables, keyset cursors."""

from __future__ import annotations

from datetime import date

import pytest

from bot.orders import (
    TRANSITIONS,
    Move,
    OrderAction,
    OrderStatus,
    PriceChange,
    PricedLine,
    Refused,
    ReturnLine,
    ReturnRefused,
    decide_move,
    price_changes,
    price_return,
    return_amount,
)
from bot.paging import BadCursor, decode_cursor, encode_cursor
from bot.statements import DueItem, Dues, dues_vars, next_due
from db.statements import csv_cell

S, A = OrderStatus, OrderAction

# Every (status, action) pair: the status it leads to, or the refusal's code.
LIFECYCLE = [
    (S.PLACED, A.DISPATCH, S.DISPATCHED),
    (S.PLACED, A.DELIVER, "ORDER_NOT_DISPATCHED"),
    (S.PLACED, A.CANCEL, S.CANCELLED),
    (S.PLACED, A.FAIL, S.FAILED),
    (S.PLACED, A.RETURN, "ORDER_NOT_DELIVERED"),
    (S.DISPATCHED, A.DISPATCH, "ORDER_ALREADY_DISPATCHED"),
    (S.DISPATCHED, A.DELIVER, S.DELIVERED),
    (S.DISPATCHED, A.CANCEL, "ORDER_DISPATCHED"),
    (S.DISPATCHED, A.FAIL, S.FAILED),
    (S.DISPATCHED, A.RETURN, "ORDER_NOT_DELIVERED"),
    (S.DELIVERED, A.DISPATCH, "ORDER_DELIVERED"),
    (S.DELIVERED, A.DELIVER, "ORDER_DELIVERED"),
    (S.DELIVERED, A.CANCEL, "ORDER_DELIVERED"),
    (S.DELIVERED, A.FAIL, "ORDER_DELIVERED"),
    (S.DELIVERED, A.RETURN, S.DELIVERED),
    (S.CANCELLED, A.DISPATCH, "ORDER_ALREADY_CLOSED"),
    (S.CANCELLED, A.DELIVER, "ORDER_ALREADY_CLOSED"),
    (S.CANCELLED, A.CANCEL, "ORDER_ALREADY_CLOSED"),
    (S.CANCELLED, A.FAIL, "ORDER_ALREADY_CLOSED"),
    (S.CANCELLED, A.RETURN, "ORDER_ALREADY_CLOSED"),
    (S.FAILED, A.DISPATCH, "ORDER_ALREADY_CLOSED"),
    (S.FAILED, A.DELIVER, "ORDER_ALREADY_CLOSED"),
    (S.FAILED, A.CANCEL, "ORDER_ALREADY_CLOSED"),
    (S.FAILED, A.FAIL, "ORDER_ALREADY_CLOSED"),
    (S.FAILED, A.RETURN, "ORDER_ALREADY_CLOSED"),
]


def test_the_table_covers_every_pair() -> None:
    assert {(s, a) for s, a, _ in LIFECYCLE} == {(s, a) for s in S for a in A}
    assert len(LIFECYCLE) == len(S) * len(A)


@pytest.mark.parametrize("status, action, outcome", LIFECYCLE)
def test_lifecycle(status: OrderStatus, action: OrderAction, outcome: OrderStatus | str) -> None:
    decision = decide_move(7, status, action)
    if isinstance(outcome, OrderStatus):
        assert decision == Move(outcome)
        assert TRANSITIONS[(status, action)] == outcome
    else:
        assert isinstance(decision, Refused)
        assert decision.code == outcome
        # A refusal names the order and its status.
        assert f"order #7 is {status.value}" in decision.message
        assert (status, action) not in TRANSITIONS


@pytest.mark.parametrize("action", [A.FAIL, A.CANCEL])
def test_a_delivered_order_cannot_be_undone_and_says_return(action: OrderAction) -> None:
    decision = decide_move(1, S.DELIVERED, action)
    assert isinstance(decision, Refused)
    assert "return" in decision.message


# --- returns ------------------------------------------------------------------------------------

ATTA = PricedLine(1, "ATTA-5", "Atta 5kg", 250_00, 4, 1_000_00)
OIL = PricedLine(2, "OIL-1", "Oil 1L", 150_00, 2, 300_00)
DELIVERED = (ATTA, OIL)


@pytest.mark.parametrize(
    "name, returned, wanted, outcome",
    [
        ("one by sku", {}, [("ATTA-5", 1)], [(1, 1, 250_00)]),
        ("sku any case", {}, [("atta-5", 2)], [(1, 2, 500_00)]),
        ("by product id", {}, [("2", 2)], [(2, 2, 300_00)]),
        ("same product twice adds up", {}, [("ATTA-5", 1), ("1", 2)], [(1, 3, 750_00)]),
        ("two products", {}, [("ATTA-5", 4), ("OIL-1", 1)], [(1, 4, 1_000_00), (2, 1, 150_00)]),
        ("all that is left", {1: 3}, [("ATTA-5", 1)], [(1, 1, 250_00)]),
        ("more than delivered", {}, [("ATTA-5", 5)], "RETURN_ABOVE_DELIVERED"),
        ("more than left", {1: 3}, [("ATTA-5", 2)], "RETURN_ABOVE_DELIVERED"),
        ("not on the order", {}, [("SALT", 1)], "NOT_ON_ORDER"),
        ("zero", {}, [("ATTA-5", 0)], "INVALID_QUANTITY"),
        ("nothing", {}, [], "INVALID_FIELD"),
    ],
)
def test_price_return(
    name: str,
    returned: dict[int, int],
    wanted: list[tuple[str, int]],
    outcome: list[tuple[int, int, int]] | str,
) -> None:
    result = price_return(9, DELIVERED, returned, wanted)
    if isinstance(outcome, str):
        assert isinstance(result, ReturnRefused) and result.code == outcome
        return
    assert not isinstance(result, ReturnRefused)
    assert [(r.product_id, r.quantity, r.line_total) for r in result] == outcome
    assert all(isinstance(r, ReturnLine) and r.line_total == r.unit_price * r.quantity
               for r in result)  # fmt: skip


@pytest.mark.parametrize(
    "name, before, amount, items_total, outcome",
    [
        ("an amount", 0, 400_00, None, 400_00),
        ("the items' value", 0, None, 500_00, 500_00),
        ("less than the items, for damage", 0, 300_00, 500_00, 300_00),
        ("the whole order", 0, 1_300_00, None, 1_300_00),
        ("what is left after an earlier return", 1_000_00, 300_00, None, 300_00),
        ("above the order", 0, 1_300_01, None, "RETURN_ABOVE_ORDER"),
        ("above what is left", 1_000_00, 300_01, None, "RETURN_ABOVE_ORDER"),
        ("items above what is left", 1_200_00, None, 250_00, "RETURN_ABOVE_ORDER"),
        ("above the items", 0, 600_00, 500_00, "RETURN_ABOVE_ITEMS"),
        ("neither", 0, None, None, "INVALID_FIELD"),
        ("zero", 0, 0, None, "INVALID_AMOUNT"),
    ],
)
def test_return_amount(
    name: str, before: int, amount: int | None, items_total: int | None, outcome: int | str
) -> None:
    result = return_amount(9, 1_300_00, before, amount, items_total)
    if isinstance(outcome, str):
        assert isinstance(result, ReturnRefused) and result.code == outcome
        assert result.returnable == 1_300_00 - before
    else:
        assert result == outcome


# --- prices changed since the retailer saw the total ------------------------------------------


def _line(pid: int, price: int, qty: int = 1) -> PricedLine:
    return PricedLine(pid, f"SKU{pid}", f"Product {pid}", price, qty, price * qty)


@pytest.mark.parametrize(
    "name, seen, now, changes",
    [
        ("nothing moved", [_line(1, 100)], [_line(1, 100)], []),
        ("a rise", [_line(1, 100)], [_line(1, 120)], [(1, 100, 120)]),
        ("a cut", [_line(1, 100), _line(2, 50)], [_line(1, 100), _line(2, 45)], [(2, 50, 45)]),
        ("quantity alone is no price change", [_line(1, 100, 2)], [_line(1, 100, 5)], []),
        ("a line added is not a change", [_line(1, 100)], [_line(1, 100), _line(2, 9)], []),
        ("no snapshot (old pending order)", [], [_line(1, 100)], []),
        ("both moved", [_line(1, 1), _line(2, 2)], [_line(1, 3), _line(2, 4)],
         [(1, 1, 3), (2, 2, 4)]),
    ],
)  # fmt: skip
def test_price_changes(
    name: str, seen: list[PricedLine], now: list[PricedLine], changes: list[tuple[int, int, int]]
) -> None:
    assert price_changes(seen, now) == tuple(
        PriceChange(pid, f"Product {pid}", old, new) for pid, old, new in changes
    )


# --- the chat statement -------------------------------------------------------------------------

TODAY = date(2026, 2, 20)


def _due(n: int, unpaid: int, due: date, amount: int | None = None) -> DueItem:
    return DueItem(n, n, amount or unpaid, unpaid, date(2026, 1, 1), due)


def test_dues_vars_lists_the_first_items_and_sums_the_rest() -> None:
    items = tuple(_due(i, 100_00, date(2026, 2, i)) for i in range(1, 9))
    dues = Dues(items=items, count=46, total=4_600_00, overdue=1_900_00)
    v = dues_vars(dues, TODAY, shown=3)
    assert [i["order_id"] for i in v["items"]] == [1, 2, 3]
    assert [i["days_overdue"] for i in v["items"]] == [19, 18, 17]
    assert (v["more_count"], v["more_total"]) == (43, 4_300_00)
    assert (v["total"], v["overdue_total"]) == (4_600_00, 1_900_00)
    # The nearest due date (1 Feb) is past on 20 Feb: what is overdue, from that day on.
    assert v["next_due"] == {"date": date(2026, 2, 1), "amount": 1_900_00, "overdue": True}


@pytest.mark.parametrize(
    "name, items, expected",
    [
        ("nothing owed", (), None),
        ("one", (_due(1, 500, date(2026, 3, 1)),),
         {"date": date(2026, 3, 1), "amount": 500, "overdue": False}),
        ("two on the nearest day add up",
         (_due(1, 500, date(2026, 3, 1)), _due(2, 250, date(2026, 3, 1)),
          _due(3, 999, date(2026, 3, 9))),
         {"date": date(2026, 3, 1), "amount": 750, "overdue": False}),
        ("due today is not overdue", (_due(1, 500, TODAY),),
         {"date": TODAY, "amount": 500, "overdue": False}),
        # A day gone is not "next": what is past due, all of it, from the oldest due date.
        ("past due dates add up, the coming one waits",
         (_due(1, 500, date(2026, 2, 1)), _due(2, 250, date(2026, 2, 19)),
          _due(3, 999, date(2026, 3, 9))),
         {"date": date(2026, 2, 1), "amount": 750, "overdue": True}),
    ],
)  # fmt: skip
def test_next_due(name: str, items: tuple[DueItem, ...], expected: object) -> None:
    overdue = sum(i.unpaid for i in items if i.due_date < TODAY)
    dues = Dues(items, len(items), sum(i.unpaid for i in items), overdue)
    assert next_due(dues, TODAY) == expected


def test_a_partly_paid_item_shows_what_was_paid() -> None:
    v = dues_vars(Dues((_due(1, 300, date(2026, 3, 1), amount=1000),), 1, 300), TODAY)
    assert (v["items"][0]["paid"], v["items"][0]["days_overdue"]) == (700, 0)
    assert (v["more_count"], v["more_total"]) == (0, 0)


# --- cursors --------------------------------------------------------------------------------------


def test_cursor_round_trip() -> None:
    key = ("2026-01-15T06:30:00+00:00", 42)
    assert decode_cursor(encode_cursor(key), (str, int)) == key
    assert decode_cursor(encode_cursor(["Ramesh ✓", 7]), (str, int)) == ("Ramesh ✓", 7)


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "x" * 600, encode_cursor([1, 2]), encode_cursor(["a"]), encode_cursor(["a", -1]),
     encode_cursor(["a", True]), encode_cursor(["a", 2**63]), "bm90IGpzb24"],
)  # fmt: skip
def test_bad_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor, (str, int))


@pytest.mark.parametrize(
    "text, cell",
    [("UTR-1", "UTR-1"), ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1+2", "'+1+2"),
     ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("+919812345678", "+919812345678")],
)  # fmt: skip
def test_statement_csv_cells_never_run_as_formulas(text: str, cell: str) -> None:
    assert csv_cell(text) == cell
