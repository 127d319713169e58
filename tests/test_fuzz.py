"""Fuzz every route of the app: no request gets a 5xx, and a refused one (4xx) changes nothing.

The routes are read from the app itself (`create_app(...).routes`, Mounts walked), so a route
added later is fuzzed without touching this file. Each route gets EXAMPLES requests from
Hypothesis: path parameters that exist and that do not; query strings; the Authorization,
Idempotency-Key and Content-Type headers; and a body of the route's kind:

- JSON routes: objects of the API's own field names with plausible and hostile values (wrong
  types, numbers huge/tiny/negative/with exponents, NaN and Infinity, strings with NUL, lone
  surrogates, RTL marks, other scripts' digits), random JSON of any shape, nesting past the
  depth limit, bytes that are not UTF-8 or not JSON;
- the Twilio webhooks: form fields signed as Twilio signs them (so the handler's logic runs: a
  seeded retailer's checkout, the admin commands with hostile amounts, status callbacks) and
  unsigned or wrongly signed ones, broken encodings, multipart garbage.

After each request: the status is below 500; a 4xx is the JSON error shape; and a 4xx left every
table as it was (row count and content of every table, by a hash of its rows).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Mount, Route

from bot.cli.deps import Deps
from bot.settings import Settings
from bot.twilio_edge import compute_signature
from db.seed import seed_demo
from handlers.app import create_app
from handlers.errors import MAX_JSON_DEPTH
from jobs.registry import JOBS
from tests.conftest import ACCOUNT_SID, ADMIN_PHONE, ADMIN_TOKEN, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.ledger_support import NOW
from tests.payments_support import API_URL as RAZORPAY_API
from tests.payments_support import (
    app_client,
    link_json,
    payment_captured,
    payment_link_paid,
    refund_processed,
    sign,
    with_payments,
)

# Requests per route: 42 routes x 40 take about 35 s on a busy 2-core machine (the summary line
# this module prints says how many ran and what they answered). FUZZ_EXAMPLES=400 searches longer.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))

RETAILER = "+919800000001"  # a seeded retailer (db.seed), ACTIVE with debits
PAUSED = "+919800000004"
UNKNOWN = "+919811111111"


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _walk(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path


ROUTES = sorted(set(_walk(create_app(Settings.model_construct()).routes)))
assert len(ROUTES) >= 20, ROUTES

# --- values ---------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "", " ", "\x00", "a\x00b", "\u202eRTL\u202c", "١٢٣", "१००", "₹1,25,000", "Rs. 10", "1,2,3",
    "9" * 5_000, "NaN", "Infinity", "-1", "0", "0.001", "1e3", "99999999999.99",
    "1" * 29 + ".123", "2026-01-15", "2026-02-30", "../../etc/passwd", "<x>&", "null",
    "' OR 1=1 --", "\ud800", "a\udfffb", "😀", "\u200b", "\ufeff", "haan", "STOP",
]  # fmt: skip
RAW_NUMBERS = [
    "1" * 29 + ".123", "1e999999", "-1e999999", "1E-999999", "1" * 4_400, "-0", "0.000",
    "12.345", "1e2", "100.00", "NaN", "Infinity", "-Infinity", "1" * 30, "0.01",
]  # fmt: skip

text = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    # Every code point, surrogates included (sent as \\udXXX escapes or as broken UTF-8).
    st.text(st.characters(exclude_categories=()), max_size=20),
)
# Form text is what a form can carry (a lone surrogate cannot be percent-encoded as UTF-8; the
# broken-encoding case is the raw bytes below).
form_text = st.one_of(
    st.sampled_from([t for t in HOSTILE_TEXT if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]),
    st.text(max_size=40),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 2**63, -(2**63) - 1, 10**30, 0.1, 1e-300, 1e300]),
)


class Raw:
    """A JSON number written as is (json.dumps cannot say `1e999999` or `NaN`)."""

    def __init__(self, text: str) -> None:
        self.text = text


scalars = st.one_of(st.none(), st.booleans(), numbers, text, st.sampled_from(RAW_NUMBERS).map(Raw))
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)

ids = st.sampled_from(["1", "2", "3", "4", "6", "999999", RETAILER, "98000 00002", PAUSED])
amounts = st.one_of(
    st.sampled_from(["100", "1,000.50", "0.01", "5000", "0", "-5", "12.345", 100, 250.75]),
    numbers,
    st.sampled_from(RAW_NUMBERS).map(Raw),
)
# Each field of the API: values that pass (so the handler's logic beyond parsing runs, and
# payments, products and retailers get written) and values that must not.
FIELDS: dict[str, tuple[list[Any], st.SearchStrategy[Any]]] = {
    "retailerId": ([1, 2, "3", RETAILER, "98000 00002"], ids),
    "transactionId": ([1, 2, 3], st.sampled_from(["1", 99999, -1, 2**70, 1.5])),
    "amountPaid": (["100", 50, "1,000.50", "0.01"], amounts),
    "amount": (["100", 50, "25.50"], amounts),
    "orderAmount": (["100", 5000, "99999"], amounts),
    "creditLimit": (["100000", 0, "5,00,000"], amounts),
    "maxOrderValue": (["50000", 1000], amounts),
    "price": (["450", "12.50"], amounts),
    "maxOutstandingDays": ([30, 45], st.sampled_from([0, -3, 3651, "30", 1.5, 10**20])),
    "paymentTermsDays": ([15, 10], st.sampled_from([0, 45, "15", 10**20])),
    "reference": (["UTR-7788", "utr-7788", " UTR-7788 ", "NEFT-1"], text),
    "direction": (["DEBIT", "CREDIT"], st.sampled_from(["debit", "", "UP"])),
    "reason": (["return", "dispute", "late payments"], st.sampled_from(["x" * 600]) | text),
    "notes": (["n"], text),
    "paymentMode": (["CREDIT", "COD"], st.sampled_from(["cod", "", "CASH"])),
    "phone": (["+919800000101", "98000 00102", UNKNOWN], st.sampled_from([ADMIN_PHONE, "12"])),
    "name": (["Asha", "आशा"], text),
    "shopName": (["Asha Stores"], text),
    "language": (["en", "hi"], st.sampled_from(["fr", "EN", ""])),
    "sku": (["ATTA-10", "atta-10", "GHEE-1", " ghee-1 ", "NEW-1"], text),
    "category": (["Staples", "staples", " STAPLES ", "Dairy"], text),
    "unit": (["bag", "kg"], text),
    "asOf": (["2026-01-15", "2026-01-14"], st.sampled_from(["2025-01-01", "2026-13-01", "x", 5])),
    "to": ([RETAILER, UNKNOWN], st.sampled_from(["12", "whatsapp:"])),
    "message": (["hello", "नमस्ते"], text),
    "overrideUntil": (["2026-01-20"], st.sampled_from(["x", "2020-01-01"])),
    "asAdvance": ([True, False], st.sampled_from(["yes", 1])),
    "retailer": ([1, "2", RETAILER], ids),
    "vpa": (["ramesh.kirana@okhdfcbank", "x@upi"], st.sampled_from(["no-at-sign", "@", "a@"])),
}


# Every field of the API with a good value (a handler ignores the ones it does not read), less
# a few, so required ones go missing too.
good_objects = st.tuples(
    st.fixed_dictionaries({name: st.sampled_from(good) for name, (good, _) in FIELDS.items()}),
    st.sets(st.sampled_from(sorted(FIELDS)), max_size=4),
).map(lambda t: {k: v for k, v in t[0].items() if k not in t[1]})
bad_field = st.one_of(
    st.sampled_from(sorted(FIELDS)).flatmap(
        lambda n: st.tuples(st.just(n), st.one_of(FIELDS[n][1], any_json))
    ),
    st.tuples(text, any_json),  # a name of no route
)
# Every money field at once with an amount that breaks arithmetic (29+ digits and decimals, 4,400
# digits), the rest good: whichever field a route reads gets it. Drawn often enough that each
# money route meets it in a default run (a one-bad-field object reaches it about once in 8,000
# requests: the fuzz did not find the `InvalidOperation` of issue 9 with it restored).
MONEY_FIELDS = ("amountPaid", "amount", "orderAmount", "creditLimit", "maxOrderValue", "price")
hostile_money = st.tuples(
    good_objects,
    st.sampled_from(
        [
            Raw("1" * 29 + ".123"),
            "1" * 29 + ".123",
            "9" * 40 + ".999",
            Raw("1" * 4_400),
        ]
    ),
).map(lambda t: {**t[0], **dict.fromkeys(MONEY_FIELDS, t[1])})
objects = st.one_of(
    good_objects,  # gets past parsing: payments, products, retailers are written
    st.tuples(good_objects, bad_field).map(lambda t: {**t[0], t[1][0]: t[1][1]}),  # one bad
    st.lists(bad_field, max_size=6).map(dict),  # anything
)


def _deep(depth: int, opener: str) -> bytes:
    closer = "]" if opener == "[" else "}"
    inner = "[" if opener == "[" else '{"a": '
    return ('{"reason": ' + inner * depth + '"x"' + closer * depth + "}").encode()


# Nesting around the limit and far past it, written as text (json.dumps would recurse).
deep = st.tuples(st.integers(MAX_JSON_DEPTH - 2, 5_000), st.sampled_from("[{")).map(
    lambda t: _deep(*t)
)


def encode_json(value: Any, *, ascii_only: bool) -> bytes:
    raws: list[str] = []

    def placeholder(raw: Raw) -> str:
        raws.append(raw.text)
        return f"@@raw{len(raws) - 1}@@"

    def swap(v: Any) -> Any:
        if isinstance(v, Raw):
            return placeholder(v)
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    text = json.dumps(swap(value), ensure_ascii=ascii_only)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@raw{i}@@"', raw)
    # A lone surrogate sent raw is bytes that are not UTF-8, as a broken client would send.
    return text.encode("utf-8", "surrogatepass")


# Bank statements (CSV bodies): the generic layout with good and hostile cells, or anything.
csv_cell = st.one_of(
    st.sampled_from(["2026-01-14", "14/01/2026", "500.00", "-20", "1,000", "UPI-4123-ramesh"]),
    form_text,
)
statements = st.one_of(
    st.lists(st.tuples(csv_cell, csv_cell, csv_cell, csv_cell), max_size=6).map(
        lambda rows: (
            "date,amount,narration,reference\n"
            + "".join(",".join(json.dumps(c) for c in row) + "\n" for row in rows)
        ).encode("utf-8", "surrogatepass")
    ),
    st.sampled_from(
        [
            b"date,amount,narration,reference\n2026-01-14,500.00,UPI/ramesh.kirana@okhdfcbank,UTR1\n",
            b"date,amount,narration,reference\n2026-01-14,5" + b"0" * 40 + b",x,UTR2\n",
            b"date,amount\n\x00",
        ]
    ),
)

json_bodies = st.one_of(
    st.tuples(hostile_money, st.booleans()).map(lambda t: encode_json(t[0], ascii_only=t[1])),
    st.tuples(objects, st.booleans()).map(lambda t: encode_json(t[0], ascii_only=t[1])),
    st.tuples(objects, st.booleans()).map(lambda t: encode_json(t[0], ascii_only=t[1])),
    st.tuples(any_json, st.booleans()).map(lambda t: encode_json(t[0], ascii_only=t[1])),
    deep,
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"[]", b'{"a": 1', b"\xff\xfe{}", b"\xef\xbb\xbf{}"]),
    statements,
)
json_types = st.sampled_from(
    [
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "text/csv",
        None,
    ]
)

# --- Twilio forms ---------------------------------------------------------------------------

OUR_SID = "SM" + "a" * 32  # an outbox message of the world (see `world`)
good_sids = st.one_of(
    st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: "SM" + h),
    st.just(OUR_SID),
)
sids = st.one_of(good_sids, st.sampled_from(["", "SM", "x" * 80, "SM-1"]))
admin_texts = st.tuples(
    st.sampled_from(
        [
            "paid {r} {a}",
            "paid {r} {a} UTR-1",
            "adjust {r} +{a} return",
            "adjust {r} -{a} x",
            "limit {r} {a}",
            "maxorder {r} {a}",
            "days {r} {a}",
            "pause {r} late",
            "unpause {r}",
            "profile {r}",
            "risk",
            "atrisk",
            "help",
            "run {a}",
            "fail {r} x",
        ]
    ),
    st.sampled_from(["1", "2", RETAILER, "999", "x"]),
    st.one_of(st.sampled_from(RAW_NUMBERS), text),
).map(lambda t: t[0].format(r=t[1], a=t[2]))
chat = st.sampled_from(["hi", "1", "2 x 5", "checkout", "credit", "cod", "confirm", "STOP", "cart"])
GOOD_FORM: dict[str, st.SearchStrategy[str]] = {
    "From": st.sampled_from([RETAILER, "+919800000002", PAUSED, ADMIN_PHONE, UNKNOWN]).map(
        lambda p: "whatsapp:" + p
    ),
    "To": st.just("whatsapp:+14155238886"),
    "Body": st.one_of(admin_texts, chat, form_text),
    "MessageSid": good_sids,
    "AccountSid": st.just(ACCOUNT_SID),
    "NumMedia": st.sampled_from(["0", "0", "1"]),
    "MessageStatus": st.sampled_from(["sent", "delivered", "read", "failed", "undelivered"]),
}
BAD_FORM: dict[str, st.SearchStrategy[str]] = {
    "From": form_text,
    "Body": form_text,
    "MessageSid": sids,
    "SmsMessageSid": sids,
    "NumMedia": st.sampled_from(["-1", "9" * 40, "x", "", "1_0"]),
    "ButtonPayload": form_text,
    "MessageStatus": st.sampled_from(["queued", "x", "", "SENT"]),
    "ErrorCode": st.sampled_from(["", "63016", "x" * 300]),
    "ErrorMessage": form_text,
}
bad_form_field = st.one_of(
    st.sampled_from(sorted(BAD_FORM)).flatmap(lambda n: st.tuples(st.just(n), BAD_FORM[n])),
    st.tuples(form_text, form_text),
)
# Both webhooks' fields with good values (each handler reads its own) less a few; or one bad
# field more; or anything.
good_forms = st.tuples(
    st.fixed_dictionaries(GOOD_FORM), st.sets(st.sampled_from(sorted(GOOD_FORM)), max_size=1)
).map(lambda t: [(k, v) for k, v in t[0].items() if k not in t[1]])
forms = st.one_of(
    good_forms,
    good_forms,
    good_forms,
    st.tuples(good_forms, bad_form_field).map(lambda t: [*t[0], t[1]]),
    st.lists(bad_form_field, max_size=8),
    st.lists(st.tuples(text, text), max_size=3),  # surrogates: not UTF-8, not signable
)
signing = st.sampled_from(["signed", "signed", "signed", "none", "wrong"])
form_types = st.sampled_from(
    [
        *["application/x-www-form-urlencoded"] * 6,
        "application/x-www-form-urlencoded; charset=utf-8",
        "multipart/form-data; boundary=xyz",
        "application/json",
        None,
    ]
)

# --- the payment gateway's webhook ---------------------------------------------------------

paise = st.one_of(st.sampled_from([100_00, 18_500_00, 1, 0, -5]), st.integers(), numbers)
razorpay_ids = st.one_of(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789", min_size=14, max_size=14), form_text
)
events = st.one_of(
    st.builds(
        lambda pid, amount, contact: payment_captured("pay_" + pid, amount, contact=contact),
        razorpay_ids, paise, st.sampled_from([RETAILER, UNKNOWN, "x"]),
    ),
    st.builds(
        lambda pid, amount, rid: payment_link_paid(
            "pay_" + pid, "plink_" + pid, amount, reference_id=f"link-{rid}", retailer_id=rid
        ),
        razorpay_ids, paise, st.sampled_from([1, 2, 999]),
    ),
    st.builds(
        lambda rid_, pid, amount: refund_processed(
            "rfnd_" + rid_, "pay_" + pid, amount, payment_amount=amount
        ),
        razorpay_ids, razorpay_ids, paise,
    ),
)  # fmt: skip
# A well-formed event with one field anywhere in it replaced by anything.
gateway_bodies = st.one_of(
    events.map(lambda e: encode_json(e, ascii_only=True)),
    events.map(lambda e: encode_json(e, ascii_only=True)),
    st.tuples(events, st.sampled_from(["event", "payload", "contains", "entity"]), any_json).map(
        lambda t: encode_json({**t[0], t[1]: t[2]}, ascii_only=False)
    ),
    json_bodies,
)
latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"))
event_ids = st.one_of(st.none(), st.sampled_from(["evt_1", "evt_1", "evt_2"]), latin1)

# --- the request ----------------------------------------------------------------------------

PARAMS: dict[str, st.SearchStrategy[str]] = {
    "retailer": st.one_of(ids, ids, ids, text.filter(bool)),
    "order": st.one_of(
        st.sampled_from(["1", "2", "3", "4"]),
        st.sampled_from(["0", "999999", "1" * 30]),
        text.filter(bool),
    ),
    "job": st.one_of(st.sampled_from(list(JOBS)), text.filter(bool)),
    "provider": st.one_of(st.just("razorpay"), st.just("razorpay"), text.filter(bool)),
    "id": st.one_of(st.sampled_from(["1", "2", "0", "1" * 30]), text.filter(bool)),
}
queries = st.dictionaries(
    st.sampled_from(
        [
            *["limit", "retailer", "lang", "from", "to", "status", "cursor", "q", "format"],
            *["fileName", "dateCol", "narrationCol", "referenceCol", "amountCol", "typeCol"],
        ]
    ),
    st.one_of(ids, text, st.sampled_from(["1", "500", "501", "0", "en", "hi", "csv"])),
    max_size=3,
)
auth = st.sampled_from(
    [f"Bearer {ADMIN_TOKEN}"] * 12 + [None, "Bearer nope", f"Basic {ADMIN_TOKEN}", ADMIN_TOKEN]
)


def _quote(value: str) -> str:
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def requests(draw: st.DrawFn, method: str, template: str) -> dict[str, Any]:
    path = template
    for name in [p.split("}")[0].split(":")[0] for p in template.split("{")[1:]]:
        value = draw(PARAMS.get(name, text.filter(bool)))
        path = path.replace("{" + name + "}", _quote(value))
    query = draw(queries) if method == "GET" or draw(st.booleans()) else {}
    url = path + ("?" + urllib.parse.urlencode(query, errors="surrogatepass") if query else "")
    headers: dict[str, bytes] = {}
    content = b""
    if template.startswith("/webhooks/twilio/"):
        fields = draw(forms)
        content = urllib.parse.urlencode(fields, errors="surrogatepass").encode()
        # Hypothesis draws small values first: the rare case is the last one of the list.
        if draw(st.sampled_from([False] * 9 + [True])):
            content = draw(st.binary(max_size=64))
        how = draw(signing)
        try:
            signature = compute_signature(AUTH_TOKEN, PUBLIC_BASE_URL + url, fields)
        except UnicodeEncodeError:  # a lone surrogate cannot be signed: send it unsigned
            how = "none"
        if how == "signed":
            headers["X-Twilio-Signature"] = signature.encode()
        elif how == "wrong":
            headers["X-Twilio-Signature"] = b"bm9wZQ=="
        kind = draw(form_types)
    elif template.startswith("/webhooks/payments/"):
        content = draw(gateway_bodies)
        how = draw(signing)
        if how == "signed":
            headers["X-Razorpay-Signature"] = sign(content).encode()
        elif how == "wrong":
            headers["X-Razorpay-Signature"] = sign(content, "not-the-secret").encode()
        event_id = draw(event_ids)
        if event_id is not None:
            headers["X-Razorpay-Event-Id"] = event_id.encode("latin-1")
        kind = draw(json_types)
    else:
        if method in ("POST", "PUT", "PATCH") or draw(st.sampled_from([False] * 4 + [True])):
            content = draw(json_bodies)
        kind = draw(json_types)
        token = draw(auth)
        if token is not None:
            headers["Authorization"] = token.encode()
        key = draw(
            st.one_of(
                st.none(),
                st.none(),
                st.sampled_from(["pay-1", "pay-2", "retry"]),
                latin1.map(lambda k: k[:250]),
            )
        )
        if key is not None:
            headers["Idempotency-Key"] = key.encode("latin-1")
    if kind is not None:
        headers["Content-Type"] = kind.encode()
    return {"method": method, "url": url, "headers": headers, "content": content}


# --- the test -------------------------------------------------------------------------------

SEEN: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """One line after the module: how many examples each route got, and what they answered."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and SEEN:
        per_route = sorted(SEEN.values())
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\ntest_fuzz: {len(SEEN)} routes, {per_route[0]}-{per_route[-1]} examples "
                f"each ({sum(per_route)} requests); statuses {dict(sorted(STATUSES.items()))}"
            )


async def _fingerprint(conn: asyncpg.Connection, tables: list[str]) -> list[tuple[str, int, str]]:
    """Row count and a hash of every row of every table, in one statement."""
    parts = [
        f"""SELECT '{t}' AS t, count(*) AS n,
                   md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h
            FROM {t} x"""
        for t in tables
    ]
    rows = await conn.fetch(" UNION ALL ".join(parts))
    return [(r["t"], r["n"], r["h"]) for r in rows]


@pytest.fixture
async def world(db: asyncpg.Pool) -> list[str]:
    """The demo data (retailers in every credit state, debits, a catalogue) and every table."""
    async with db.acquire() as conn:
        await seed_demo(conn, now=NOW)
        await conn.execute(
            """INSERT INTO outbox_messages (retailer_id, to_phone, kind, template, body,
                   dedupe_key, status, twilio_sid, attempts)
               VALUES (1, $1, 'credit_paused', 'credit_paused', 'paused', 'fuzz', 'ACCEPTED', $2, 1)""",
            RETAILER,
            OUR_SID,
        )
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    return [r["tablename"] for r in rows if r["tablename"] != "schema_migrations"]


@pytest.fixture
async def app(settings: Settings, deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    """The app with every feature on (the payment gateway, UPI), so every route's logic runs;
    Razorpay's API answered by respx (links made by the reminders job)."""
    # The console on too (a session secret), so its sign-in and guards are fuzzed as well.
    on = with_payments(settings).model_copy(update={"session_secret": "fuzz-" + "s" * 32})
    made = itertools.count(1)

    def link(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json=link_json(
                f"plink_Fuzz{next(made):010d}", body["amount"],
                reference_id=body["reference_id"], expire_by=body["expire_by"],
            ),
        )  # fmt: skip

    with respx.mock(base_url=RAZORPAY_API, assert_all_called=False) as razorpay:
        razorpay.post("/v1/payment_links").mock(side_effect=link)
        razorpay.post(path__regex=r"/v1/payment_links/[^/]+/cancel").mock(
            return_value=httpx.Response(200, json={"status": "cancelled"})
        )
        async with app_client(on, dataclasses.replace(deps, settings=on)) as client:
            yield client


@pytest.mark.parametrize("method, template", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_no_request_gets_a_5xx_and_a_refusal_changes_nothing(
    app: httpx.AsyncClient, db: asyncpg.Pool, world: list[str], method: str, template: str,
    data: st.DataObject,
) -> None:  # fmt: skip
    request = data.draw(requests(method, template), label="request")
    async with db.acquire() as conn:
        before = await _fingerprint(conn, world)
    r = await app.request(**request)
    SEEN[f"{method} {template}"] += 1
    STATUSES[r.status_code] += 1
    event(f"status {r.status_code}")
    assert r.status_code < 500, r.text
    if 400 <= r.status_code < 500:
        if not template.startswith("/admin"):  # the console answers with pages, not JSON
            error = r.json()["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str), r.text
        async with db.acquire() as conn:
            after = await _fingerprint(conn, world)
        changed = [b[0] for b, a in zip(before, after, strict=True) if b != a]
        assert not changed, f"{r.status_code} {r.text[:200]} changed {changed}"
