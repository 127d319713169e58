"""Who may do what (DESIGN section 10): operator roles, the actions they guard, and callers.

One table, `MIN_ROLE`, says the least role each action needs; the admin API's routes, the admin
chat's commands and the console's forms all ask `allows(role, action)`, so a role means the same
thing everywhere. Roles are ordered: each may do what the ones before it may.

    viewer     read everything
    collector  + record payments
    manager    + pause, unpause (with override), adjust, returns, orders, limits, catalogue,
                 retailers
    owner      + block, unblock, operators, jobs

`Caller` is who is asking and the name their changes are audited under: `operator:<id>:<name>`
for a named operator, "api" for the holder of ADMIN_API_TOKEN and the E.164 number for a number
in ADMIN_NUMBERS (both bootstrap owners; their audit names are the ones they always had).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Operator roles, stored by value; each is allowed what the ones before it are."""

    VIEWER = "viewer"
    COLLECTOR = "collector"
    MANAGER = "manager"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]


ROLES: tuple[Role, ...] = (Role.VIEWER, Role.COLLECTOR, Role.MANAGER, Role.OWNER)
_RANK = {role: i for i, role in enumerate(ROLES)}


class Action(StrEnum):
    """What a request, command or form does, as far as roles are concerned."""

    VIEW = "view"  # read anything: dashboards, profiles, audit, orders, statements
    RECORD_PAYMENT = "record_payment"
    PAUSE = "pause"
    UNPAUSE = "unpause"  # also with an override of the overdue rule
    ADJUST = "adjust"
    RETURN = "return"
    ORDERS = "orders"  # dispatch, deliver, cancel, fail
    LIMITS = "limits"  # credit limit, order value limit, days, terms
    CATALOGUE = "catalogue"
    RETAILERS = "retailers"  # onboard and edit retailers
    BLOCK = "block"
    UNBLOCK = "unblock"
    OPERATORS = "operators"
    JOBS = "jobs"  # run a job now, apply the guardrails now
    SEND_MESSAGE = "send_message"  # a free-text test message to any number


MIN_ROLE: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.RECORD_PAYMENT: Role.COLLECTOR,
    Action.PAUSE: Role.MANAGER,
    Action.UNPAUSE: Role.MANAGER,
    Action.ADJUST: Role.MANAGER,
    Action.RETURN: Role.MANAGER,
    Action.ORDERS: Role.MANAGER,
    Action.LIMITS: Role.MANAGER,
    Action.CATALOGUE: Role.MANAGER,
    Action.RETAILERS: Role.MANAGER,
    Action.BLOCK: Role.OWNER,
    Action.UNBLOCK: Role.OWNER,
    Action.OPERATORS: Role.OWNER,
    Action.JOBS: Role.OWNER,
    # Free text to any number, in the business's name: kept to owners.
    Action.SEND_MESSAGE: Role.OWNER,
}

# Admin chat commands (bot.admin_commands.USAGE's words) and the action each performs.
COMMAND_ACTIONS: dict[str, Action] = {
    "help": Action.VIEW,
    "risk": Action.VIEW,
    "atrisk": Action.VIEW,
    "profile": Action.VIEW,
    "pause": Action.PAUSE,
    "unpause": Action.UNPAUSE,
    "paid": Action.RECORD_PAYMENT,
    "adjust": Action.ADJUST,
    "limit": Action.LIMITS,
    "maxorder": Action.LIMITS,
    "days": Action.LIMITS,
    "fail": Action.ORDERS,
    "run": Action.JOBS,
    "block": Action.BLOCK,
    "unblock": Action.UNBLOCK,
    "orders": Action.VIEW,
    "dispatch": Action.ORDERS,
    "deliver": Action.ORDERS,
    "cancel": Action.ORDERS,
    "return": Action.RETURN,
    "price": Action.CATALOGUE,
}


def command_action(command: object) -> Action:
    """The action an admin chat command performs. A parsed command's class is its word
    capitalised (`ac.MaxOrder` is `maxorder`); a command missing from the table needs the
    owner's role (`tests/test_roles.py` checks every command has its row)."""
    return COMMAND_ACTIONS.get(type(command).__name__.lower(), Action.OPERATORS)


def allows(role: Role, action: Action) -> bool:
    """Whether `role` may perform `action`."""
    return role.rank >= MIN_ROLE[action].rank


def refusal(action: Action) -> str:
    """The sentence a caller without the role reads."""
    return f"{action.value.replace('_', ' ')} needs the {MIN_ROLE[action].value} role"


@dataclass(frozen=True)
class Caller:
    """Who is asking: the name their changes are audited under, their role, and (for a named
    operator) their id and name."""

    performed_by: str
    role: Role
    operator_id: int | None = None
    name: str | None = None

    def may(self, action: Action) -> bool:
        return allows(self.role, action)

    @property
    def display_name(self) -> str:
        return self.name or self.performed_by


# The holder of ADMIN_API_TOKEN: the bootstrap owner, audited as "api" (as before operators).
TOKEN_HOLDER = Caller(performed_by="api", role=Role.OWNER)


def bootstrap_number(phone: str) -> Caller:
    """A number in ADMIN_NUMBERS: a bootstrap owner audited under the number itself, as before."""
    return Caller(performed_by=phone, role=Role.OWNER)


OPERATOR_PREFIX = "operator:"


def operator_caller(operator_id: int, name: str, role: Role) -> Caller:
    """A named operator, audited as `operator:<id>:<name>` (the id stays true after a rename)."""
    return Caller(
        performed_by=f"{OPERATOR_PREFIX}{operator_id}:{name}",
        role=role,
        operator_id=operator_id,
        name=name,
    )


def performer_name(performed_by: str) -> str:
    """How an audit entry's `performed_by` reads to a person: an operator's name, else as is
    (SYSTEM, api, an admin's number, import)."""
    if performed_by.startswith(OPERATOR_PREFIX):
        _, _, rest = performed_by.partition(":")
        _, _, name = rest.partition(":")
        if name:
            return name
    return performed_by
