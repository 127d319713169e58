"""Bank statement import end to end (API and CLI): each recognised layout, matches by UTR, UPI
address, phone and unique amount, the ambiguous line left for an operator, the same file twice,
a bad row, an overpayment kept as advance, and what operators do with what is left."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from db import ledger
from tests.ledger_support import (
    NOW,
    TZ,
    check_invariants,
    credit_order,
    days,
    make_product,
    make_retailer,
)

A = "/api/v1/admin"
DATA = Path(__file__).parent / "data" / "bank"
RAMESH, SUNITA, MOHAN = "+919812345678", "+919812300001", "+919876500005"
LAYOUTS = ["generic.csv", "hdfc.csv", "icici.csv", "sbi.csv", "axis.csv", "drcr.csv"]


@pytest.fixture
async def api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    client.headers.update(admin_headers)
    yield client


@pytest.fixture
async def world(db: asyncpg.Pool) -> dict[str, int]:
    """Ramesh (UPI ramesh.kirana@okhdfcbank) owes ₹12,500 and paid ₹1,000 by hand with UTR
    412345678901; Mohan owes ₹8,000; Sunita alone owes ₹4,000; two shops owe ₹2,750 each."""
    async with db.acquire() as conn:
        pid = await make_product(conn)
        ids: dict[str, int] = {}
        for name, phone, owes in [
            ("Ramesh", RAMESH, 1_350_000),
            ("Sunita", SUNITA, 400_000),
            ("Mohan", MOHAN, 800_000),
            ("Sharma", "+919812300002", 275_000),
            ("Verma", "+919812300003", 275_000),
        ]:
            ids[name] = await make_retailer(conn, phone, name=name)
            await credit_order(conn, ids[name], pid, owes, now=NOW - days(10))
        await conn.execute(
            "UPDATE retailers SET vpa = 'ramesh.kirana@okhdfcbank' WHERE id = $1", ids["Ramesh"]
        )
        await ledger.record_payment(
            conn, retailer_id=ids["Ramesh"], amount=100_000, reference="412345678901",
            performed_by="+919900000000", now=NOW, tz=TZ,
        )  # fmt: skip
    return ids


async def _import(api: httpx.AsyncClient, file: str, **params: str) -> httpx.Response:
    return await api.post(
        f"{A}/bank/import",
        content=(DATA / file).read_bytes(),
        params={"fileName": file, **params},
        headers={"Content-Type": "text/csv"},
    )


def _statuses(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (line["amount"], line["status"], line["retailerId"], line["matchedBy"])
        for line in answer["lines"]
    ]


async def _outstanding(db: asyncpg.Pool, rid: int) -> int:
    value: int = await db.fetchval(
        "SELECT outstanding FROM credit_accounts WHERE retailer_id = $1", rid
    )
    return value


@pytest.mark.parametrize("file", LAYOUTS)
async def test_each_layout_matches_by_utr_vpa_phone_and_unique_amount(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int], file: str
) -> None:
    r = await _import(api, file)
    assert r.status_code == 201, r.text
    answer = r.json()
    ramesh, sunita, mohan = world["Ramesh"], world["Sunita"], world["Mohan"]
    assert _statuses(answer) == [
        ("5000.00", "RECORDED", ramesh, "vpa"),
        ("3000.00", "RECORDED", mohan, "phone"),
        ("4000.00", "RECORDED", sunita, "amount"),
        ("2750.00", "UNMATCHED", None, None),
        ("1000.00", "DUPLICATE", ramesh, "utr"),
        ("-2000.00", "DEBIT", None, None),
    ]
    assert answer["lines"][3]["reason"] == "2 retailers owe exactly ₹2,750"
    assert answer["counts"] | {"rows_skipped": 0} == {
        "rows_skipped": 0, "credits": 5, "debits": 1, "recorded": 3, "excess": 0,
        "duplicates": 1, "unmatched": 1, "already_imported": 0,
    }  # fmt: skip
    payments = await db.fetch(
        """SELECT retailer_id, amount, reference, performed_by, payment_source(id) AS source
           FROM credit_transactions WHERE type = 'PAYMENT' ORDER BY id"""
    )
    assert [tuple(p) for p in payments] == [
        (ramesh, 100_000, "412345678901", "+919900000000", "operator"),
        (ramesh, 500_000, "512345678901", "api", "bank"),
        (mohan, 300_000, "612345678902", "api", "bank"),
        (sunita, 400_000, "HDFCN52026011512345", "api", "bank"),
    ]
    assert await _outstanding(db, ramesh) == 750_000
    assert await _outstanding(db, sunita) == 0
    receipts = await db.fetchval(
        "SELECT count(*) FROM outbox_messages WHERE kind = 'payment_received'"
    )
    assert receipts == 3
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_the_same_file_imported_twice_records_nothing_twice(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int]
) -> None:
    first = await _import(api, "hdfc.csv")
    assert first.json()["counts"]["recorded"] == 3
    # The same transactions again, in another bank's export (an overlapping statement).
    for file in ("hdfc.csv", "generic.csv"):
        again = await _import(api, file)
        assert again.status_code == 201
        assert [line["status"] for line in again.json()["lines"]] == ["ALREADY_IMPORTED"] * 5 + [
            "DEBIT"
        ]
    assert await db.fetchval("SELECT count(*) FROM credit_transactions WHERE type = 'PAYMENT'") == 4
    assert await db.fetchval("SELECT count(*) FROM received_payments") == 5


async def test_a_file_with_a_bad_row_reports_every_problem_and_imports_nothing(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int]
) -> None:
    r = await _import(api, "bad_line.csv")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "INVALID_STATEMENT"
    assert error["problems"] == [
        {
            "line": 3,
            "problems": [
                "date '31/02/2026' is not a date like 31/01/2026",
                "amount '12,34x' is not an amount like 1,25,000.50",
            ],
        }
    ]
    for table in ("bank_imports", "received_payments"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_an_unknown_layout_is_mapped_by_naming_its_columns(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int]
) -> None:
    r = await _import(api, "mapped.csv")
    assert r.status_code == 422 and "no header row" in r.json()["error"]["message"]
    r = await _import(
        api, "mapped.csv", dateCol="Posted On", amountCol="Amt", narrationCol="Info",
        referenceCol="UTR No",
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["layout"] == "mapped"
    assert _statuses(r.json()) == [
        ("5000.00", "RECORDED", world["Ramesh"], "vpa"),
        ("-2000.00", "DEBIT", None, None),
    ]


async def test_an_operator_assigns_what_is_left_and_the_upi_address_is_learned(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int]
) -> None:
    text = (
        "date,amount,narration,reference\n"
        "2026-01-15,2750,UPI/SHARMA AND SONS/sharma.sons@ybl,712345678901\n"
    )
    r = await api.post(f"{A}/bank/import", content=text.encode())
    assert r.json()["lines"][0]["status"] == "UNMATCHED"
    listed = (await api.get(f"{A}/bank/unmatched")).json()["items"]
    assert [(i["amount"], i["source"], i["note"]) for i in listed] == [
        ("2750.00", "bank", "2 retailers owe exactly ₹2,750")
    ]
    r = await api.post(
        f"{A}/bank/unmatched/{listed[0]['id']}/assign", json={"retailer": "+919812300002"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["outstanding"], r.json()["vpaLearned"]) == (
        "RECORDED",
        "0.00",
        "sharma.sons@ybl",
    )
    audit = await db.fetchrow(
        "SELECT performed_by, new_value FROM audit_log WHERE action = 'RECEIVED_PAYMENT_ASSIGNED'"
    )
    assert audit["performed_by"] == "api" and audit["new_value"]["recorded"] == 275_000
    assert (await api.get(f"{A}/bank/unmatched")).json()["items"] == []
    again = await api.post(
        f"{A}/bank/unmatched/{listed[0]['id']}/assign", json={"retailer": "+919812300002"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "NOT_UNMATCHED"
    # The next transfer from that UPI address matches by itself.
    async with db.acquire() as conn:
        pid = await conn.fetchval("SELECT id FROM products")
        await credit_order(conn, world["Sharma"], pid, 100_000, now=NOW)
    text = "date,amount,narration,reference\n2026-01-16,1000,UPI/sharma.sons@ybl,812345678901\n"
    r = await api.post(f"{A}/bank/import", content=text.encode())
    assert _statuses(r.json()) == [("1000.00", "RECORDED", world["Sharma"], "vpa")]
    profile = (await api.get(f"{A}/credit/+919812300002")).json()
    assert [(p["source"], p["amount"]) for p in profile["recentPayments"]] == [
        ("bank", "1000.00"),
        ("bank", "2750.00"),
    ]


async def test_an_operator_dismisses_a_line_that_is_no_retailers(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int]
) -> None:
    text = "date,amount,narration,reference\n2026-01-15,99999,RAZORPAY SETTLEMENT,SETL0001\n"
    await api.post(f"{A}/bank/import", content=text.encode())
    [item] = (await api.get(f"{A}/bank/unmatched")).json()["items"]
    r = await api.post(f"{A}/bank/unmatched/{item['id']}/dismiss", json={"reason": "settlement"})
    assert r.status_code == 200 and r.json()["status"] == "DISMISSED"
    assert (await api.get(f"{A}/bank/unmatched")).json()["items"] == []
    dismissed = (await api.get(f"{A}/bank/unmatched?status=DISMISSED")).json()["items"]
    assert [(d["note"], d["resolvedBy"]) for d in dismissed] == [("settlement", "api")]


async def test_a_bank_overpayment_becomes_advance(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int]
) -> None:
    text = "date,amount,narration,reference\n2026-01-15,9000,IMPS 9876500005,912345678901\n"
    r = await api.post(f"{A}/bank/import", content=text.encode())
    assert _statuses(r.json()) == [("9000.00", "RECORDED", world["Mohan"], "phone")]
    assert r.json()["lines"][0]["toAdvance"] == "1000.00"
    assert r.json()["counts"]["excess"] == 0
    row = await db.fetchrow("SELECT status, recorded_amount, excess FROM received_payments")
    assert tuple(row) == ("RECORDED", 900_000, 0)
    assert await _outstanding(db, world["Mohan"]) == 0
    advance = await db.fetchval(
        "SELECT advance FROM credit_accounts WHERE retailer_id = $1", world["Mohan"]
    )
    assert advance == 100_000
    body = await db.fetchval("SELECT body FROM outbox_messages WHERE kind = 'payment_received'")
    assert "₹8,000 of it cleared what you owed; ₹1,000 kept as advance for your next orders." in (
        body
    )
    # No EXCESS row is left for an operator; the filter still answers (for rows stored before).
    assert (await api.get(f"{A}/bank/unmatched?status=EXCESS")).json()["items"] == []
    async with db.acquire() as conn:
        await check_invariants(conn)


async def test_an_assigned_overpayment_becomes_advance(
    api: httpx.AsyncClient, db: asyncpg.Pool, world: dict[str, int]
) -> None:
    text = "date,amount,narration,reference\n2026-01-15,9999,NEFT CR KIRANA,HDFCN52026011599999\n"
    r = await api.post(f"{A}/bank/import", content=text.encode())
    assert r.json()["lines"][0]["status"] == "UNMATCHED"
    received_id = r.json()["lines"][0]["receivedPaymentId"]
    r = await api.post(f"{A}/bank/unmatched/{received_id}/assign", json={"retailer": SUNITA})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["status"], answer["recordedAmount"], answer["excess"]) == (
        "RECORDED", "9999.00", "0.00",
    )  # fmt: skip
    assert (answer["outstanding"], answer["toAdvance"]) == ("0.00", "5999.00")
    audit = await db.fetchval(
        "SELECT new_value FROM audit_log WHERE action = 'RECEIVED_PAYMENT_ASSIGNED'"
    )
    assert (audit["recorded"], audit["toAdvance"]) == (999_900, 599_900)


async def test_vpa_of_a_retailer(api: httpx.AsyncClient, world: dict[str, int]) -> None:
    r = await api.put(f"{A}/retailers/{SUNITA}/vpa", json={"vpa": "Sunita.Store@OKSBI"})
    assert r.status_code == 200 and r.json()["vpa"] == "sunita.store@oksbi"
    r = await api.put(f"{A}/retailers/{MOHAN}/vpa", json={"vpa": "sunita.store@oksbi"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "VPA_TAKEN"
    r = await api.put(f"{A}/retailers/{MOHAN}/vpa", json={"vpa": "not a vpa"})
    assert r.status_code == 422
    r = await api.put(f"{A}/retailers/{SUNITA}/vpa", json={"vpa": None})
    assert r.status_code == 200 and r.json()["vpa"] is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{A}/bank/import", b""),
        ("POST", f"{A}/bank/import", b"\x00"),
        ("GET", f"{A}/bank/unmatched?source=cash", None),
        ("GET", f"{A}/bank/unmatched?status=PAID", None),
        ("POST", f"{A}/bank/unmatched/abc/assign", b"{}"),
        ("POST", f"{A}/bank/unmatched/99/assign", b'{"retailer": "+919812345678"}'),
        ("POST", f"{A}/bank/unmatched/99/dismiss", b'{"reason": ""}'),
    ],
)
async def test_bad_requests_are_4xx(
    api: httpx.AsyncClient, world: dict[str, int], method: str, path: str, body: bytes | None
) -> None:
    r = await api.request(method, path, content=body)
    assert 400 <= r.status_code < 500, r.text


async def test_the_routes_need_the_admin_token(client: httpx.AsyncClient) -> None:
    for method, path in [("POST", f"{A}/bank/import"), ("GET", f"{A}/bank/unmatched")]:
        r = await client.request(method, path)
        assert r.status_code == 401


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADMIN_", "TWILIO_"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "bot", "bank", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


async def test_cli_bank_import(db: asyncpg.Pool, world: dict[str, int], database_url: str) -> None:
    run = _cli(database_url, "import", str(DATA / "bad_line.csv"))
    assert run.returncode == 1
    assert f"{DATA / 'bad_line.csv'}:3: date '31/02/2026' is not a date like 31/01/2026" in (
        run.stderr
    )
    assert "amount '12,34x' is not an amount" in run.stderr
    assert "nothing imported: 1 bad row(s)" in run.stderr
    run = _cli(database_url, "import", str(DATA / "sbi.csv"))
    assert run.returncode == 0, run.stderr
    assert f"line 6: ₹5,000 RECORDED retailer {world['Ramesh']} by vpa" in run.stdout
    assert "line 9: ₹2,750 UNMATCHED (2 retailers owe exactly ₹2,750)" in run.stdout
    assert "(SBI): rows_skipped 2, credits 5, debits 1, recorded 3" in run.stdout
    run = _cli(database_url, "import", str(DATA / "sbi.csv"))
    assert run.returncode == 0 and "already_imported 5" in run.stdout
    run = _cli(database_url, "unmatched")
    assert run.returncode == 0 and "₹2,750" in run.stdout and "1 unmatched" in run.stdout
    run = _cli(database_url, "import", str(DATA / "mapped.csv"), "--date-col", "Posted On",
               "--amount-col", "Amt", "--narration-col", "Info", "--reference-col", "UTR No")  # fmt: skip
    assert run.returncode == 0 and "(mapped)" in run.stdout, run.stderr
    assert await db.fetchval("SELECT count(*) FROM credit_transactions WHERE type = 'PAYMENT'") == 4
