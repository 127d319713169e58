"""The parser as tables: item lines and quantities, numbers, cart edits, whole messages, names.

Pure: no database, no event loop. The phrase table itself is tested in test_parsing_phrases.py,
and the share of realistic messages understood in test_corpus.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.parsing import (
    MAX_QUANTITY,
    BadQuantity,
    ByName,
    ByNumber,
    CartEdit,
    Command,
    Items,
    Named,
    NotWhole,
    Number,
    QuantityProblem,
    match_products,
    normalize,
    parse_cart_edit,
    parse_item,
    parse_message,
    parse_number,
    parse_request,
    split_lines,
)
from db.seed import PRODUCTS

NEG, ZERO, FRACTION, TOO_MANY = (
    QuantityProblem.NEGATIVE,
    QuantityProblem.ZERO,
    QuantityProblem.FRACTION,
    QuantityProblem.TOO_MANY,
)


@pytest.mark.parametrize(
    "line, parsed",
    [
        # by catalogue number
        ("2 x 5", ByNumber(2, 5)),
        ("2x5", ByNumber(2, 5)),
        ("2 5", ByNumber(2, 5)),
        ("#2 5", ByNumber(2, 5)),
        ("2 * 5", ByNumber(2, 5)),
        ("2-5", ByNumber(2, 5)),
        ("item 2 qty 5", ByNumber(2, 5)),
        ("2 x 5 pcs", ByNumber(2, 5, "pc")),
        ("2 x 2 dozen", ByNumber(2, 24, "dozen")),
        ("२ x ५", ByNumber(2, 5)),
        ("2 x 5 dedo", ByNumber(2, 5)),
        # by name, quantity after
        ("maggi 3", ByName("maggi", 3)),
        ("maggi x 3", ByName("maggi", 3)),
        ("maggi x3", ByName("maggi", 3)),
        ("maggi 3x", ByName("maggi", 3)),
        ("maggi: 3", ByName("maggi", 3)),
        ("maggi - 3", ByName("maggi", 3)),
        ("atta-2", ByName("atta", 2)),
        ("parle g x 10", ByName("parle g", 10)),
        ("atta 5 kg do", ByName("atta", 5, "kg")),
        ("atta 5 do", ByName("atta", 5)),
        ("atta 5 kg", ByName("atta", 5, "kg")),
        ("maggi teen packet", ByName("maggi", 3, "pack")),
        ("atta do packet", ByName("atta", 2, "pack")),
        ("maggi 2 dozen", ByName("maggi", 24, "dozen")),
        ("maggi 5pkt", ByName("maggi", 5, "pack")),
        ("चीनी ५", ByName("चीनी", 5)),
        ("आटा ५ किलो दो", ByName("आटा", 5, "kg")),
        # by name, quantity before
        ("3 maggi", ByName("maggi", 3)),
        ("ek atta", ByName("atta", 1)),
        ("do atta", ByName("atta", 2)),
        ("do atta do", ByName("atta", 2)),
        ("दो आटा", ByName("आटा", 2)),
        ("do kilo chini", ByName("chini", 2, "kg")),
        ("3 pkt x maggi", ByName("maggi", 3, "pack")),
        ("2 packets of maggi", ByName("maggi", 2, "pack")),
        # a name alone: the quantity is asked for
        ("atta", ByName("atta", None)),
        ("atta do", ByName("atta", None)),  # "do" at the end is "give"
        ("आटा दो", ByName("आटा", None)),
        ("atta kitna hai", ByName("atta", None)),
        # sizes belong to names
        ("atta 10kg", ByName("atta 10kg", None)),
        ("atta 10kg 2", ByName("atta 10kg", 2)),
        ("atta 10 kg 2", ByName("atta 10 kg", 2)),
        ("10 kg wala atta 2", ByName("10 kg atta", 2)),
        ("chai 500 g", ByName("chai 500 g", None)),
        ("500 g chai 2", ByName("500 g chai", 2)),
        ("atta 10 5", ByName("atta 10 5", None)),  # which number is the size? neither taken
        # product codes
        ("RICE-SON-25 10", ByName("rice-son-25", 10)),
        ("ATTA-10 3", ByName("atta-10", 3)),
        # fillers around
        ("mujhe 5 atta bhej do please", ByName("atta", 5)),
        ("I need 5 atta", ByName("atta", 5)),
        ("sarson ka tel 2 litre", ByName("sarson tel", 2, "l")),
        ("surf excel ka bada packet 2", ByName("surf excel", 2)),
        # list markers
        ("1. atta 2 bag", ByName("atta", 2, "bag")),
        ("- maggi 3", ByName("maggi", 3)),
        # nothing to go on
        ("", None),
        ("2", None),
        ("do", None),
        ("5 kg", None),
        ("2 x 10^9", None),
        ("2 x", None),
        ("!!", None),
    ],
)
def test_parse_request(line: str, parsed: object) -> None:
    assert parse_request(line) == parsed


@pytest.mark.parametrize(
    "line, kind, quantity, number, query",
    [
        ("atta -2", NEG, "-2", None, "atta"),
        ("atta x -2", NEG, "-2", None, "atta"),
        ("atta minus 2", NEG, "-2", None, "atta"),
        ("-2 atta", NEG, "-2", None, "atta"),
        ("atta −2", NEG, "-2", None, "atta"),  # the minus sign U+2212
        ("2 x -1", NEG, "-1", 2, None),
        ("2 -1", NEG, "-1", 2, None),
        ("atta 0", ZERO, "0", None, "atta"),
        ("0 atta", ZERO, "0", None, "atta"),
        ("2 x 0", ZERO, "0", 2, None),
        ("atta -0", ZERO, "-0", None, "atta"),
        ("sugar zero", ZERO, "zero", None, "sugar"),
        ("atta 2.5", FRACTION, "2.5", None, "atta"),
        ("0.5 atta", FRACTION, "0.5", None, "atta"),
        ("2 x 1.5", FRACTION, "1.5", 2, None),
        ("atta 1/2", FRACTION, "1/2", None, "atta"),
        ("atta ½", FRACTION, "1/2", None, "atta"),  # NFKC spells it 1⁄2
        ("aadha kilo chini", FRACTION, "aadha", None, "chini"),
        ("डेढ़ किलो दाल", FRACTION, "डेढ", None, "दाल"),
        ("atta 1000", TOO_MANY, "1000", None, "atta"),
        ("2 x 1000000000", TOO_MANY, "1000000000", 2, None),
        ("atta 99999999999999999999", TOO_MANY, "99999999999999999999", None, "atta"),
        ("maggi 100 dozen", TOO_MANY, "100", None, "maggi"),
        ("-2", NEG, "-2", None, None),  # the answer to "how many?"
        ("2.5", FRACTION, "2.5", None, None),
    ],
)
def test_bad_quantities(
    line: str, kind: QuantityProblem, quantity: str, number: int | None, query: str | None
) -> None:
    req = parse_request(line)
    assert isinstance(req, BadQuantity)
    assert (req.kind, req.quantity, req.number, req.query) == (kind, quantity, number, query)


def test_fraction_quantity_written_whole_is_whole() -> None:
    assert parse_request("atta 2.0") == ByName("atta", 2)


@pytest.mark.parametrize(
    "line, item",
    [
        ("atta 2.5", NotWhole("atta 2.5")),
        ("atta -2", ByName("atta", 0)),
        ("atta x -2", ByName("atta", 0)),
        ("2 x -1", ByNumber(2, 0)),
        ("2 x 0", ByNumber(2, 0)),
        ("atta 5000", ByName("atta", MAX_QUANTITY + 1)),
        ("maggi 100 dozen", ByName("maggi", MAX_QUANTITY + 1)),
        ("-2", None),
        ("maggi 3", ByName("maggi", 3)),
    ],
)
def test_parse_item_keeps_the_shapes_the_checkout_reads(line: str, item: object) -> None:
    """Today's checkout refuses quantity 0 ("at least 1") and above MAX_QUANTITY ("at most"):
    a minus sign no longer adds what it takes away."""
    assert parse_item(line) == item


@pytest.mark.parametrize(
    "text, number",
    [
        ("3", 3),
        ("#3", 3),
        ("# 3", 3),
        ("३", 3),
        ("৩", 3),
        ("teen", 3),
        ("do", 2),
        ("दो", 2),
        ("paanch", 5),
        ("5 pcs", 5),
        ("5 do", 5),
        ("5 chahiye", 5),
        ("2 dozen", 24),
        ("0", 0),
        ("1000000000", 1000000000),
        ("-2", None),
        ("2.5", None),
        ("5 g", None),
        ("5 atta", None),
        ("dedo", None),
        ("", None),
        ("1234567890123", None),
    ],
)
def test_parse_number(text: str, number: int | None) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(
    "text, edit",
    [
        ("remove 2", CartEdit(2, 0)),
        ("delete item 2", CartEdit(2, 0)),
        ("2 hatao", CartEdit(2, 0)),
        ("2 ko hatao", CartEdit(2, 0)),
        ("3 number hatao", CartEdit(3, 0)),
        ("२ हटाओ", CartEdit(2, 0)),
        ("change 1 5", CartEdit(1, 5)),
        ("change 1 to 5", CartEdit(1, 5)),
        ("set 1 = 5", CartEdit(1, 5)),
        ("change 1 - 5", CartEdit(1, 5)),
        ("change 1-5", CartEdit(1, 5)),
        ("change 2 0", CartEdit(2, 0)),
        ("change 1 -2", None),  # a minus sign, not a separator: no edit
        ("change 1 to -2", None),
        ("change 1 2.5", None),
        ("remove", None),
        ("maggi 3", None),
    ],
)
def test_parse_cart_edit(text: str, edit: CartEdit | None) -> None:
    assert parse_cart_edit(text) == edit


@pytest.mark.parametrize(
    "text, normal",
    [
        ("  Atta   5 ", "atta 5"),
        ("आटा ५।", "आटा 5"),
        ("atta ৫ ૫ ௫ ５ ٥", "atta 5 5 5 5 5"),  # Bengali, Gujarati, Tamil, full-width, Arabic
        ("हाँ", "हां"),  # chandrabindu as anusvara
        ("अंग्रेज़ी", "अंग्रेजी"),  # nukta dropped
        ("👍\ufe0f", "👍"),
        ("atta\u200b 5", "atta 5"),
        ("atta – 5", "atta - 5"),
    ],
)
def test_normalize(text: str, normal: str) -> None:
    assert normalize(text) == normal


def test_split_lines() -> None:
    assert split_lines("atta 5\nmaggi 3, chini 2; dal 1 aur namak 2 और तेल 1 + lux 3") == [
        "atta 5",
        "maggi 3",
        "chini 2",
        "dal 1",
        "namak 2",
        "तेल 1",
        "lux 3",
    ]


@pytest.mark.parametrize(
    "text, parse",
    [
        ("kitna baki hai", Command.BALANCE),
        ("do", Number(2)),
        ("२", Number(2)),
        ("remove 2", CartEdit(2, 0)),
        ("atta 5 kg do", Items((("atta 5 kg do", ByName("atta", 5, "kg")),))),
        (
            "2 x -1\nmaggi 3",
            Items(
                (
                    ("2 x -1", BadQuantity(NEG, "2 x -1", "-1", number=2)),
                    ("maggi 3", ByName("maggi", 3)),
                )
            ),
        ),
        ("kya haal hai", Items((("kya haal hai", ByName("haal", None)),))),
        ("🙏🙏", None),
        ("", None),
    ],
)
def test_parse_message(text: str, parse: object) -> None:
    assert parse_message(text) == parse


CATALOGUE = [Named(i, name, sku, cat) for i, (sku, name, cat, _, _) in enumerate(PRODUCTS, 1)]
ID = {p.sku: p.id for p in CATALOGUE}


@pytest.mark.parametrize(
    "query, skus",
    [
        ("maggi", ["MAGGI-12"]),
        ("magi", ["MAGGI-12"]),  # near spelling
        ("chini", ["SUGAR-5"]),  # alias
        ("chinni", ["SUGAR-5"]),  # near spelling of an alias
        ("चीनी", ["SUGAR-5"]),
        ("पारले जी", ["BISC-PG-12"]),
        ("dal", ["DAL-TUR-1", "DAL-MOONG-1"]),
        ("rice-son-25", ["RICE-SON-25"]),  # a code typed whole
        ("atta-10", ["ATTA-10"]),
        ("fortune oil 1 ltr", ["OIL-SUN-1"]),  # "1 ltr" is the "1L" of the name
        ("thums up 300 ml", ["COLA-24"]),
        ("moong dal 2kg", ["DAL-MOONG-1"]),  # a size that fits no pack is left out last
        ("haal", []),  # not a near spelling of the code part "HAL"
        ("pizza", []),
    ],
)
def test_match_products(query: str, skus: list[str]) -> None:
    assert match_products(query, CATALOGUE) == [ID[s] for s in skus]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_without_error_and_quantities_stay_sane(text: str) -> None:
    """Whatever arrives, parsing answers; a quantity handed on is 1..MAX_QUANTITY, anything else
    is a BadQuantity, and the checkout's shapes never carry a negative quantity."""
    parse_message(text)
    for line in split_lines(text):
        req = parse_request(line)
        if isinstance(req, ByName | ByNumber) and req.quantity is not None:
            assert 1 <= req.quantity <= MAX_QUANTITY
        item = parse_item(line)
        if isinstance(item, ByName | ByNumber) and item.quantity is not None:
            assert item.quantity >= 0


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["atta", "maggi", "आटा", "parle g", "2"]),
    st.integers(min_value=-10_000, max_value=10_000),
    st.sampled_from(["{n} {q}", "{n} x {q}", "{q} {n}", "{n} {q} do", "{n}: {q}"]),
)
def test_every_integer_quantity_is_taken_or_refused(name: str, q: int, shape: str) -> None:
    line = shape.format(n=name, q=q)
    if name == "2" and shape.startswith("{q}"):
        return  # "5 2" is item 5, quantity 2
    req = parse_request(line)
    if 1 <= q <= MAX_QUANTITY:
        assert isinstance(req, ByName | ByNumber) and req.quantity == q, line
    else:
        kind = NEG if q < 0 else ZERO if q == 0 else TOO_MANY
        assert isinstance(req, BadQuantity) and req.kind == kind, line
