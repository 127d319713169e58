"""`step`: one inbound message to one decision, trying the stage, then global words, then items."""

from __future__ import annotations

from bot.checkout.catalogue import show_menu
from bot.checkout.commands import global_command, greet, unknown
from bot.checkout.hints import hint_vars
from bot.checkout.items import add_items, edit_cart
from bot.checkout.model import Conversation, Decision, Facts, Inbound, Stage
from bot.checkout.resume import follow_up_answered, resume
from bot.checkout.states import stage_command
from bot.checkout.turn import Turn
from bot.messages import Reply
from bot.parsing import MAX_INPUT_CHARS, Command, parse_command


def needs_history(inbound: Inbound) -> bool:
    """Whether the handler must load `Facts.history` for this message (reorder, insights)."""
    return parse_command(inbound.said) in (Command.REORDER, Command.INSIGHTS)


def needs_dues(inbound: Inbound) -> bool:
    """Whether the handler must load `Facts.dues` for this message (statement, balance)."""
    return parse_command(inbound.said) in (Command.STATEMENT, Command.BALANCE, Command.CREDIT)


def needs_payment(inbound: Inbound) -> bool:
    """Whether the handler must load `Facts.payment` for this message (balance, credit,
    statement)."""
    return parse_command(inbound.said) in (Command.BALANCE, Command.CREDIT, Command.STATEMENT)


def not_registered() -> Reply:
    """The reply to a number that is not a retailer's."""
    return Reply("not_registered", {})


def step(conversation: Conversation, inbound: Inbound, facts: Facts) -> Decision:
    """Decide the answer to one inbound message."""
    said = inbound.said
    t = Turn(conversation, facts, inbound.received_at, facts.retailer.language, said)
    fresh = t.conv.stage == Stage.START
    if fresh:
        greet(t)

    if not said.strip():
        if inbound.num_media > 0:
            t.say("media_hint", **hint_vars(t))
        elif fresh:
            show_menu(t)
        else:
            t.say("empty_message", **hint_vars(t))
        return t.decision()
    if len(said) > MAX_INPUT_CHARS:
        t.say("too_long", limit=MAX_INPUT_CHARS)
        return t.decision()

    command = parse_command(said)
    if fresh and command in (Command.GREETING, Command.MENU, Command.YES):
        show_menu(t)
        return t.decision()
    if command == Command.RESUME or (command == Command.YES and follow_up_answered(t)):
        resume(t)
        return t.decision()
    handled = (
        stage_command(t, command, said)
        or global_command(t, command)
        or edit_cart(t, said)
        or add_items(t, said)
    )
    if not handled:
        unknown(t, said, fresh)
    return t.decision()
