"""The role table (pure): who may do what, how a refusal reads, how audit names read."""

from __future__ import annotations

import itertools
import typing

import pytest

from bot import admin_commands as ac
from bot.roles import (
    COMMAND_ACTIONS,
    MIN_ROLE,
    ROLES,
    TOKEN_HOLDER,
    Action,
    Role,
    allows,
    bootstrap_number,
    command_action,
    operator_caller,
    performer_name,
    refusal,
)

# The contract's ladder (DESIGN section 10), written out once more by hand.
EXPECTED = {
    Role.VIEWER: {Action.VIEW},
    Role.COLLECTOR: {Action.VIEW, Action.RECORD_PAYMENT},
    Role.MANAGER: {
        Action.VIEW, Action.RECORD_PAYMENT, Action.PAUSE, Action.UNPAUSE, Action.ADJUST,
        Action.RETURN, Action.ORDERS, Action.LIMITS, Action.CATALOGUE, Action.RETAILERS,
    },
    Role.OWNER: set(Action),
}  # fmt: skip


def test_every_action_has_a_minimum_role() -> None:
    assert set(MIN_ROLE) == set(Action)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(Action))
def test_role_x_action(role: Role, action: Action) -> None:
    assert allows(role, action) is (action in EXPECTED[role])


def test_roles_are_a_ladder() -> None:
    for lower, higher in itertools.pairwise(ROLES):
        assert EXPECTED[lower] < EXPECTED[higher]


def test_every_admin_command_has_an_action() -> None:
    assert set(COMMAND_ACTIONS) == set(ac.USAGE)
    # `command_action` finds a parsed command's row by its class's name.
    classes = typing.get_args(ac.Command)
    assert {c.__name__.lower() for c in classes} == set(COMMAND_ACTIONS)


def test_a_command_missing_from_the_table_needs_the_owner() -> None:
    class Unlisted:
        pass

    assert command_action(Unlisted()) is Action.OPERATORS
    assert command_action(ac.Paid("1", 100)) is Action.RECORD_PAYMENT


def test_refusal_names_the_role() -> None:
    assert refusal(Action.PAUSE) == "pause needs the manager role"
    assert refusal(Action.RECORD_PAYMENT) == "record payment needs the collector role"


def test_callers_and_audit_names() -> None:
    asha = operator_caller(7, "Asha: Rao", Role.MANAGER)
    assert asha.performed_by == "operator:7:Asha: Rao"
    assert performer_name(asha.performed_by) == "Asha: Rao"
    assert TOKEN_HOLDER.performed_by == "api" and TOKEN_HOLDER.role is Role.OWNER
    admin = bootstrap_number("+919900000000")
    assert admin.performed_by == "+919900000000" and admin.may(Action.JOBS)
    for plain in ("SYSTEM", "api", "+919900000000", "import", "operator:"):
        assert performer_name(plain) == plain
