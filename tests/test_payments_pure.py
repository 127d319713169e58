"""The pure payment parts as tables: Razorpay's calls, signatures and events; which link to
reuse, cancel or make; the UPI and link lines messages carry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.content import content_variables
from bot.messages import Renderer, Reply
from bot.payments.links import LiveLink, plan_link
from bot.payments.pay import (
    InvalidVpa,
    PayOptions,
    needs_link,
    normalize_vpa,
    pay_vars,
    refresh_pay,
    upi_note,
    upi_url,
    vpa_or_none,
)
from bot.payments.provider import (
    BadEvent,
    LinkCreated,
    LinkEvent,
    LinkFailed,
    LinkOrder,
    OtherEvent,
    PaymentEvent,
    RefundEvent,
)
from bot.payments.razorpay import Razorpay
from bot.reminders import refresh_reminder
from tests.payments_support import (
    KEY_ID,
    KEY_SECRET,
    WEBHOOK_SECRET,
    body_of,
    envelope,
    link_entity,
    payment_captured,
    payment_link_paid,
    refund_processed,
    sign,
)

RZP = Razorpay(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, api_url="https://razorpay.test")
NOW = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
TODAY = date(2026, 1, 15)


# --- Razorpay: calls ------------------------------------------------------------------------


def test_create_link_call_is_razorpays_documented_request() -> None:
    order = LinkOrder(
        reference="link-17",
        retailer_id=42,
        amount=1_250_050,
        description="Dues of Ramesh Kirana",
        customer_name="Ramesh Kirana",
        contact="+919812345678",
        expire_by=NOW + timedelta(days=7),
    )
    call = RZP.create_link_call(order)
    assert (call.method, call.path, call.auth) == (
        "POST",
        "/v1/payment_links",
        (KEY_ID, KEY_SECRET),
    )
    assert call.json == {
        "amount": 1_250_050,
        "currency": "INR",
        "accept_partial": False,
        "reference_id": "link-17",
        "description": "Dues of Ramesh Kirana",
        "customer": {"name": "Ramesh Kirana", "contact": "+919812345678"},
        "notify": {"sms": False, "email": False},
        "reminder_enable": False,
        "expire_by": int((NOW + timedelta(days=7)).timestamp()),
        "notes": {"retailer_id": "42", "reference": "link-17"},
    }
    cancel = RZP.cancel_link_call("plink_ExjpAUN3gVHrPJ")
    assert (cancel.method, cancel.path, cancel.json) == (
        "POST",
        "/v1/payment_links/plink_ExjpAUN3gVHrPJ/cancel",
        None,
    )


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (
            200,
            {"id": "plink_A", "short_url": "https://rzp.io/i/abc", "amount": 500, "expire_by": 0},
            LinkCreated("plink_A", "https://rzp.io/i/abc", 500, None),
        ),
        (
            400,
            {"error": {"code": "BAD_REQUEST_ERROR", "description": "expire_by: too soon"}},
            LinkFailed("BAD_REQUEST_ERROR", "expire_by: too soon", False),
        ),
        (401, None, LinkFailed("HTTP_401", "Razorpay answered HTTP 401", False)),
        (503, "oops", LinkFailed("HTTP_503", "Razorpay answered HTTP 503", True)),
        (
            200,
            {"id": "plink_A"},
            LinkFailed("BAD_ANSWER", "Razorpay's answer lacks id, short_url or amount", True),
        ),
    ],
)
def test_read_link(status: int, payload: object, expected: object) -> None:
    assert RZP.read_link(status, payload) == expected


# --- Razorpay: webhooks ---------------------------------------------------------------------


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = body_of(payment_captured("pay_A", 500))
    assert RZP.signature_valid(body, sign(body))
    assert RZP.signature_valid(body, " " + sign(body) + " ")
    assert not RZP.signature_valid(body, sign(body, "another-secret"))
    assert not RZP.signature_valid(body + b" ", sign(body))
    assert not RZP.signature_valid(body, None)
    assert not RZP.signature_valid(body, "")
    assert not RZP.signature_valid(body, "é" * 64)  # never a TypeError on odd headers


def test_payment_captured_of_a_link_payment_is_traced_to_its_link() -> None:
    body = body_of(payment_captured("pay_A", 500, link_id="plink_FOGqq3O6E5bkml"))
    event = RZP.parse_event(body, "evt_1")
    assert isinstance(event, PaymentEvent)
    assert (event.event_id, event.name, event.link_paid) == ("evt_1", "payment.captured", False)
    p = event.payment
    assert (p.payment_id, p.amount, p.currency, p.captured) == ("pay_A", 500, "INR", True)
    assert (p.link_id, p.contact, p.vpa, p.rrn) == (
        "plink_FOGqq3O6E5bkml",
        "+919812345678",
        "ramesh.kirana@okhdfcbank",
        "601512345678",
    )
    assert p.retailer_hint is None
    assert p.created_at == datetime(2026, 1, 15, 6, 30, tzinfo=UTC)


def test_payment_link_paid_carries_the_link_and_its_notes() -> None:
    body = body_of(
        payment_link_paid("pay_B", "plink_X1", 700, reference_id="link-9", retailer_id=42)
    )
    event = RZP.parse_event(body, "evt_2")
    assert isinstance(event, PaymentEvent) and event.link_paid
    assert (event.payment.link_id, event.payment.link_reference) == ("plink_X1", "link-9")
    assert event.payment.retailer_hint == "42"


def test_refund_processed_carries_its_payment() -> None:
    event = RZP.parse_event(
        body_of(refund_processed("rfnd_1", "pay_A", 200, payment_amount=500)), None
    )
    assert isinstance(event, RefundEvent)
    assert (event.refund_id, event.payment_id, event.amount, event.processed) == (
        "rfnd_1",
        "pay_A",
        200,
        True,
    )
    assert event.payment is not None and event.payment.amount == 500
    assert event.event_id.startswith("body:")  # no event id header: the body's digest


@pytest.mark.parametrize(
    ("event", "kind", "why"),
    [
        (payment_captured("pay_A", 500, status="authorized"), OtherEvent, "not captured yet"),
        (
            envelope("payment.failed", ["payment"], {"payment": {"entity": {}}}),
            OtherEvent,
            "not an event",
        ),
        (
            envelope(
                "payment_link.cancelled",
                ["payment_link"],
                {
                    "payment_link": {
                        "entity": link_entity("plink_C", 5, reference_id="link-1", retailer_id=1)
                    }
                },
            ),
            LinkEvent,
            None,
        ),
    ],
)
def test_other_events(event: dict[str, object], kind: type, why: str | None) -> None:
    parsed = RZP.parse_event(body_of(event), "evt")
    assert isinstance(parsed, kind)
    if why:
        assert isinstance(parsed, OtherEvent) and why in parsed.why


def test_foreign_currency_is_not_recorded_as_rupees() -> None:
    event = payment_captured("pay_A", 500)
    event["payload"]["payment"]["entity"]["currency"] = "USD"
    parsed = RZP.parse_event(body_of(event), "evt")
    assert isinstance(parsed, OtherEvent) and "USD" in parsed.why


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"payload": {}}',
        b'{"event": "payment.captured"}',
        b'{"event": "payment.captured", "payload": {}}',
        body_of(
            envelope("payment.captured", [], {"payment": {"entity": {"id": "pay_A", "amount": -5}}})
        ),
        body_of(
            envelope(
                "payment.captured", [], {"payment": {"entity": {"id": "pay_A", "amount": True}}}
            )
        ),
        body_of(envelope("payment.captured", [], {"payment": {"entity": {"amount": 500}}})),
        body_of(envelope("refund.processed", [], {"refund": {"entity": {"id": "r", "amount": 5}}})),
    ],
)
def test_malformed_events_are_refused(body: bytes) -> None:
    with pytest.raises(BadEvent):
        RZP.parse_event(body, "evt")


def test_the_secret_is_not_in_the_repr() -> None:
    assert KEY_SECRET not in repr(RZP) and WEBHOOK_SECRET not in repr(RZP)


# --- which link ------------------------------------------------------------------------------


def _link(
    id: int, amount: int, *, status: str = "ACTIVE", day: date = TODAY, left: float = 6
) -> LiveLink:
    return LiveLink(
        id=id,
        amount=amount,
        status=status,
        business_day=day,
        expires_at=NOW + timedelta(days=left),
        created_at=NOW - timedelta(minutes=1),
        short_url=f"https://rzp.io/i/{id}",
        provider_link_id=f"plink_{id}",
    )


@pytest.mark.parametrize(
    ("name", "live", "amount", "owed", "reuse", "cancel", "create"),
    [
        ("first link", [], 500, 500, None, [], True),
        ("same amount today: reused", [_link(1, 500)], 500, 500, 1, [], False),
        (
            "same amount, yesterday's: reused",
            [_link(1, 500, day=TODAY - timedelta(days=1))],
            500,
            500,
            1,
            [],
            False,
        ),
        ("now owes less: the old link would overpay", [_link(1, 500)], 300, 300, None, [1], True),
        ("another amount today, both payable", [_link(1, 300)], 500, 500, None, [], True),
        (
            "yesterday's other amount: superseded",
            [_link(1, 300, day=TODAY - timedelta(days=1))],
            500,
            500,
            None,
            [1],
            True,
        ),
        ("about to expire: replaced", [_link(1, 500, left=0.5)], 500, 500, None, [1], True),
        (
            "being made by another worker",
            [_link(1, 500, status="CREATING")],
            500,
            500,
            None,
            [],
            False,
        ),
        ("nothing owed", [_link(1, 500)], 0, 0, None, [1], False),
    ],
)
def test_plan_link(
    name: str,
    live: list[LiveLink],
    amount: int,
    owed: int,
    reuse: int | None,
    cancel: list[int],
    create: bool,
) -> None:
    plan = plan_link(live, amount=amount, owed=owed, today=TODAY, now=NOW)
    assert (plan.reuse.id if plan.reuse else None) == reuse, name
    assert [c.id for c in plan.cancel] == cancel, name
    assert plan.create is create, name


def test_a_creating_row_left_by_a_dead_process_is_stale() -> None:
    dead = LiveLink(1, 500, "CREATING", TODAY, NOW + timedelta(days=7), NOW - timedelta(hours=1))
    plan = plan_link([dead], amount=500, owed=500, today=TODAY, now=NOW)
    assert plan.stale == (dead,) and plan.create


# --- how to pay ------------------------------------------------------------------------------


def test_upi_url() -> None:
    assert upi_url("sharma@okhdfcbank", "Sharma Traders", 1_250_050, "Ramesh 9812345678") == (
        "upi://pay?pa=sharma@okhdfcbank&pn=Sharma%20Traders&am=12500.50&cu=INR"
        "&tn=Ramesh%209812345678"
    )


@pytest.mark.parametrize(
    ("raw", "vpa"),
    [("Ramesh.K@OKHDFCBANK", "ramesh.k@okhdfcbank"), (" 98123@ybl ", "98123@ybl")],
)
def test_vpa(raw: str, vpa: str) -> None:
    assert normalize_vpa(raw) == vpa


@pytest.mark.parametrize("raw", ["ramesh", "@ybl", "a@", "a b@ybl", "ramesh@1bank"])
def test_not_a_vpa(raw: str) -> None:
    with pytest.raises(InvalidVpa):
        normalize_vpa(raw)


@pytest.mark.parametrize(
    ("raw", "vpa"),
    [
        ("Ramesh.K@OKHDFCBANK", "ramesh.k@okhdfcbank"),
        (None, None),
        ("", None),
        ("ramesh", None),
        ("a b@ybl", None),
    ],
)
def test_vpa_or_none(raw: str | None, vpa: str | None) -> None:
    assert vpa_or_none(raw) == vpa


def _receipt(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "Ramesh", "amount": 1_500_000, "cleared": 1_500_000, "to_advance": 0,
        "advance": 0, "resumed": False, "outstanding": 0, "reference": "", "source": "gateway",
    }  # fmt: skip
    return base | kw


# What the receipt says, in both languages: what it cleared, what became advance (and the
# advance now, when more than that), a resume, what is still owed.
@pytest.mark.parametrize(
    ("variables", "en", "hi"),
    [
        pytest.param(
            _receipt(outstanding=250_000),
            ["*₹15,000*", "You still owe ₹2,500."],
            ["*₹15,000*", "अब बकाया: ₹2,500"],
            id="part of what is owed",
        ),
        pytest.param(
            _receipt(cleared=1_250_000, to_advance=250_000, advance=250_000),
            ["₹12,500 of it cleared what you owed; ₹2,500 kept as advance for your next orders.",
             "You owe nothing now."],
            ["इसमें से ₹12,500 आपके बकाया में जमा हुआ; ₹2,500 आपके अगले ऑर्डरों के लिए अग्रिम में"
             " रखा गया।", "अब आपका कोई बकाया नहीं है।"],
            id="overpaid",
        ),
        pytest.param(
            _receipt(amount=200_000, cleared=0, to_advance=200_000, advance=500_000),
            ["₹2,000 kept as advance for your next orders (your advance is now ₹5,000)."],
            ["₹2,000 आपके अगले ऑर्डरों के लिए अग्रिम में रखा गया (अब आपका कुल अग्रिम ₹5,000)।"],
            id="nothing owed, an advance already",
        ),
        pytest.param(
            _receipt(resumed=True, outstanding=200_000),
            ["Credit on your account is active again.\nYou still owe ₹2,000."],
            ["आपके खाते पर उधार फिर से चालू है।\nअब बकाया: ₹2,000।"],
            id="credit resumed",
        ),
    ],
)  # fmt: skip
def test_receipt_says_what_the_payment_did(
    variables: dict[str, object], en: list[str], hi: list[str]
) -> None:
    for lang, wanted in (("en", en), ("hi", hi)):
        text = Renderer().render(Reply("payment_received", variables), lang)
        for part in wanted:
            assert part in text, (lang, text)
        assert ("advance" in text or "अग्रिम" in text) == bool(variables["to_advance"])
        assert ("active again" in text or "फिर से चालू" in text) == variables["resumed"]


@pytest.mark.parametrize(
    ("variables", "numbered"),
    [
        (_receipt(cleared=1_250_000, to_advance=250_000), ["Ramesh", "₹15,000", "₹0", "₹2,500"]),
        (_receipt(outstanding=250_000), ["Ramesh", "₹15,000", "₹2,500", "₹0"]),
        # queued before receipts said what became advance
        ({"name": "Ramesh", "amount": 5, "excess": 2, "outstanding": 0}, ["Ramesh", "₹0.05", "₹0", "₹0"]),
    ],
)  # fmt: skip
def test_receipt_template_variables(variables: dict[str, object], numbered: list[str]) -> None:
    values = content_variables("payment_received", variables, "hi")
    assert list(values.values()) == numbered


UPI = PayOptions(upi_id="sharma@okhdfcbank", payee="Sharma Traders", note="Ramesh 9812345678")


@pytest.mark.parametrize(
    ("options", "amount", "link", "upi", "ask"),
    [
        (None, 500, None, False, False),
        (PayOptions(), 500, None, None, False),
        (UPI, 0, None, None, False),
        (UPI, 500, None, True, False),
        (
            PayOptions(link_url="https://rzp.io/i/a", link_amount=500, gateway=True),
            500,
            "https://rzp.io/i/a",
            False,
            False,
        ),
        (
            PayOptions(link_url="https://rzp.io/i/a", link_amount=400, gateway=True),
            500,
            None,
            None,
            True,
        ),
        (
            PayOptions(
                upi_id="s@ybl", link_url="https://rzp.io/i/a", link_amount=400, gateway=True
            ),
            500,
            None,
            True,
            True,
        ),
    ],
)
def test_pay_vars(
    options: PayOptions | None, amount: int, link: str | None, upi: bool | None, ask: bool
) -> None:
    pay = pay_vars(options, amount)
    if upi is None or (upi is False and link is None):
        assert pay is None
    else:
        assert pay is not None and pay["link"] == link and bool(pay["upi_url"]) is upi
    assert needs_link(options, amount) is ask


def test_a_reminder_refreshed_at_sending_asks_for_what_is_left() -> None:
    pay = pay_vars(
        PayOptions(upi_id="s@ybl", payee="S", note="R", link_url="https://x", link_amount=900),
        900,
    )
    items = [
        {"transaction_id": 1, "order_id": 1, "unpaid": 500, "due_date": "2026-01-10"},
        {"transaction_id": 2, "order_id": 2, "unpaid": 400, "due_date": "2026-01-12"},
    ]
    variables = {"name": "R", "stage": "overdue", "items": items, "total_due": 900, "pay": pay}
    fresh = refresh_reminder(variables, {2: 400}, TODAY)
    assert fresh is not None and fresh["total_due"] == 400
    assert fresh["pay"]["link"] is None  # the link was for ₹9
    assert fresh["pay"]["upi_url"] == upi_url("s@ybl", "S", 400, "R")
    assert refresh_pay(pay, 900) == pay
    assert refresh_pay({"amount": 900, "link": "https://x", "upi_id": None}, 400) is None


def test_upi_note_names_the_shop_and_number() -> None:
    assert upi_note("Ramesh Kirana", "Ramesh", "+919812345678") == "Ramesh Kirana 9812345678"
    assert len(upi_note("A" * 80, "x", "+919812345678")) == 50


# --- settings --------------------------------------------------------------------------------


def test_payment_settings_fail_loudly_at_start() -> None:
    from bot.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="RAZORPAY_KEY_SECRET, RAZORPAY_WEBHOOK_SECRET"):
        load_settings(payment_provider="razorpay", razorpay_key_id="k")
    with pytest.raises(SettingsError, match="UPI_ID: not a UPI address"):
        load_settings(upi_id="sharma traders")
    with pytest.raises(SettingsError, match="PAYMENT_PROVIDER"):
        load_settings(payment_provider="paypal")
    s = load_settings(payment_provider="", upi_id=" Sharma@OKHDFCBANK ")
    assert s.payments is None and s.upi_id == "sharma@okhdfcbank"
    s = load_settings(
        payment_provider="razorpay", razorpay_key_id="k", razorpay_key_secret="s",
        razorpay_webhook_secret="w", razorpay_api_url="https://razorpay.test/",
    )  # fmt: skip
    assert s.payments == Razorpay("k", "s", "w", api_url="https://razorpay.test")
