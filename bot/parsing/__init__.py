"""What retailers type, parsed purely: command words, item lines, quantities and product names, in
English, Hinglish (Hindi in Latin letters) and Hindi (Devanagari).

The words are data, in `bot/phrases.toml` (read once, at import, and checked); this package holds
the rules that use them. Nothing here knows the stage of a conversation: `bot.checkout` decides
what a parse means there.

- `normalize`, `split_lines`: one form to match on; several item lines in one message.
- `parse_command`: a command word or phrase (`Command`), or None.
- `parse_number`: a lone whole number ("3", "३", "teen", "5 pcs").
- `parse_cart_edit`: "remove 2", "change 1 5".
- `parse_request`: one item line, as `ByNumber`, `ByName` or `BadQuantity` (a quantity to refuse).
  `parse_item` gives the same in the shapes today's checkout reads (see its docstring).
- `parse_message`: a whole message as the checkout reads it, stage aside (what the corpus
  test measures).
- `match_products`: the catalogue products a name means.

The package, each module importing only those above it:

- `text`: normalising (`normalize`, `split_lines`) and the message limits.
- `phrases`: the phrase table (`PHRASES`, `load_phrases`), `Command`, `Unit`.
- `commands`: `parse_command`, `is_emoji_only`, `is_courtesy`.
- `quantities`: a quantity word and what is wrong with it; `parse_number`, `MAX_QUANTITY`.
- `edits`: `parse_cart_edit`.
- `items`: `parse_request`, `parse_item` and their results.
- `message`: `parse_message`.
- `names`: `tokens`, `match_products`.

What the rest of the code uses is re-exported here: `from bot.parsing import X`.
"""

from bot.parsing.commands import is_courtesy, is_emoji_only, parse_command
from bot.parsing.edits import CartEdit, parse_cart_edit
from bot.parsing.items import (
    BadQuantity,
    ByName,
    ByNumber,
    ItemRequest,
    NotWhole,
    Request,
    parse_item,
    parse_request,
)
from bot.parsing.message import Items, Number, Parse, parse_message
from bot.parsing.names import Named, match_products, tokens
from bot.parsing.phrases import (
    ALIASES,
    PHRASES,
    WORDS,
    Command,
    Phrases,
    Unit,
    UnitKind,
    load_phrases,
)
from bot.parsing.quantities import MAX_QUANTITY, QuantityProblem, parse_number
from bot.parsing.text import MAX_INPUT_CHARS, MAX_LINES, normalize, split_lines

__all__ = [
    "ALIASES",
    "MAX_INPUT_CHARS",
    "MAX_LINES",
    "MAX_QUANTITY",
    "PHRASES",
    "WORDS",
    "BadQuantity",
    "ByName",
    "ByNumber",
    "CartEdit",
    "Command",
    "ItemRequest",
    "Items",
    "Named",
    "NotWhole",
    "Number",
    "Parse",
    "Phrases",
    "QuantityProblem",
    "Request",
    "Unit",
    "UnitKind",
    "is_courtesy",
    "is_emoji_only",
    "load_phrases",
    "match_products",
    "normalize",
    "parse_cart_edit",
    "parse_command",
    "parse_item",
    "parse_message",
    "parse_number",
    "parse_request",
    "split_lines",
    "tokens",
]
