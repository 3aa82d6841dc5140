"""Import applications over HTTP on one node serving both authorities: worked cases, the lifecycle with its
history, scope, 0 % claims matched locally, deadlines, and refusals that persist nothing.

Rates: the checked central-bank values listed in `tests/taxation/test_domain.py` (sources in
`tamga/rates/samples/manifest.json`); VAT: RU Tax Code art. 164, BY Tax Code art. 122.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.conftest import Backend
from tests.support.builders import admin, ok
from tests.taxation.support import Business, application, business, claim, line, outside_party, tax_officer

from tamga.kit.db import commit
from tamga.rates.service import load_samples, rate_on
from tamga.taxation.service import apply_deadlines, local_today

D = Decimal
API = "/api/v1/tax"


@pytest.fixture(scope="module")
async def rates(backend: Backend) -> None:
    async with backend.db.session() as session:
        await load_samples(session)
        await commit(session)


@pytest.fixture
async def by_importer(http: httpx.AsyncClient, rates: None) -> Business:
    return await business(http, "BY")


@pytest.fixture
async def ru_importer(http: httpx.AsyncClient, rates: None) -> Business:
    return await business(http, "RU")


@pytest.fixture
async def officers(http: httpx.AsyncClient) -> AsyncIterator[dict[str, dict[str, str]]]:
    yield {"RU": await tax_officer(http, "RU"), "BY": await tax_officer(http, "BY")}


async def file(
    http: httpx.AsyncClient, who: Business, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    return ok(await http.post(f"{API}/applications", json=body, headers=who.headers), status)


async def test_belarusian_importer_at_20_percent_with_the_rouble_per_100(
    http: httpx.AsyncClient, by_importer: Business
) -> None:
    # NBRB 14.01.2026: 3.7085 BYN per 100 RUB. RUB 1,000,000.00 -> 37,085.00 BYN; VAT 20 % = 7,417.00
    seller = {**outside_party("RU"), "region": "RU-SMO"}
    a = await file(http, by_importer, application(seller, date(2026, 1, 14), [line("1000000.00", "RUB")]))
    assert (a["importer"]["region"], a["seller"]["region"]) == (
        "BY-HM",
        "RU-SMO",
    )  # the importer's from its record
    assert a["state"] == "BY" and a["currency"] == "BYN" and a["status"] == "filed"
    assert (a["lines"][0]["rate"], a["lines"][0]["nominal"]) == ("3.7085", 100)
    assert (D(a["tax_base"]), D(a["vat"]), D(a["total_due"])) == (D("37085.00"), D("7417.00"), D("7417.00"))
    assert a["due_on"] == "2026-02-20"


async def test_russian_importer_before_and_after_1_january_2026(
    http: httpx.AsyncClient, ru_importer: Business
) -> None:
    # CBR USD 78.5850 on 24.12.2025 (20 %, due 20.01.2026 across the year end) and 78.8527 on 14.01.2026 (22 %)
    before = await file(
        http, ru_importer, application(outside_party("BY"), date(2025, 12, 24), [line("10000.00", "USD")])
    )
    assert (D(before["tax_base"]), D(before["vat"]), before["due_on"]) == (
        D("785850.00"),
        D("157170.00"),
        "2026-01-20",
    )
    assert before["lines"][0]["vat_percent"] == "20"
    after = await file(
        http, ru_importer, application(outside_party("BY"), date(2026, 1, 14), [line("10000.00", "USD")])
    )
    assert (D(after["tax_base"]), D(after["vat"]), after["due_on"]) == (
        D("788527.00"),
        D("173475.94"),
        "2026-02-20",
    )
    assert after["lines"][0]["vat_percent"] == "22"


async def test_a_10_percent_good_and_an_excisable_good(
    http: httpx.AsyncClient, ru_importer: Business
) -> None:
    # Milk (HS 040120) at the reduced rate: EUR 5,000.00 at CBR 92.1964 (15.01.2026) -> VAT 46,098.20.
    # Wine (HS 220421) with its excise: EUR 2,000.00 at CBR 92.3973 (14.01.2026) = 184,794.60 + excise
    # 25,000.00 -> base 209,794.60, VAT 22 % 46,154.81, due 46,154.81 + 25,000.00.
    milk = line("5000.00", "EUR", hs_code="040120", reduced_rate=True)
    a = await file(http, ru_importer, application(outside_party("BY"), date(2026, 1, 15), [milk]))
    assert (a["lines"][0]["vat_percent"], D(a["vat"])) == ("10", D("46098.20"))
    wine = line("2000.00", "EUR", hs_code="220421", excise="25000.00")
    b = await file(http, ru_importer, application(outside_party("BY"), date(2026, 1, 14), [wine]))
    assert (D(b["tax_base"]), D(b["excise"]), D(b["vat"]), D(b["total_due"])) == (
        D("209794.60"),
        D("25000.00"),
        D("46154.81"),
        D("71154.81"),
    )


async def test_a_currency_quoted_per_100_at_the_cbr(
    http: httpx.AsyncClient, backend: Backend, ru_importer: Business
) -> None:
    day = date(2026, 2, 10)
    async with backend.db.session() as session:
        kzt = await rate_on(session, authority="CBR", currency="KZT", day=day)
    assert kzt.nominal == 100
    a = await file(http, ru_importer, application(outside_party("BY"), day, [line("1234567.89", "KZT")]))
    expected = (D("1234567.89") * kzt.rate / 100).quantize(D("0.01"))  # half-up of an exact product here
    assert D(a["tax_base"]) == expected
    assert D(a["vat"]) == (expected * D("0.22")).quantize(D("0.01"))
    assert (a["lines"][0]["nominal"], D(a["lines"][0]["rate"])) == (100, kzt.rate)


async def test_lifecycle_payment_confirmation_correction_withdrawal_with_history(
    http: httpx.AsyncClient, by_importer: Business, officers: dict[str, dict[str, str]]
) -> None:
    a = await file(
        http, by_importer, application(outside_party("RU"), date(2026, 1, 14), [line("1000000.00", "RUB")])
    )
    url = f"{API}/applications/{a['number']}"
    r = await http.post(f"{url}/confirm", headers=officers["BY"])
    assert r.status_code == 409 and "not paid" in r.json()["detail"]
    pay = {"amount": "7000.00", "paid_on": "2026-02-01", "reference": "PP-1"}
    ok(await http.post(f"{url}/payments", json=pay, headers=by_importer.headers))
    too_much = {"amount": "418.00", "paid_on": "2026-02-01", "reference": "PP-2"}
    r = await http.post(f"{url}/payments", json=too_much, headers=by_importer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.amount"
    paid = ok(
        await http.post(f"{url}/payments", json={**too_much, "amount": "417.00"}, headers=officers["BY"])
    )
    assert D(paid["paid"]) == D("7417.00")
    # the importer may not decide, nor may the other state's authority (it does not even see it)
    assert (await http.post(f"{url}/confirm", headers=by_importer.headers)).status_code == 403
    assert (await http.post(f"{url}/confirm", headers=officers["RU"])).status_code == 404
    confirmed = ok(await http.post(f"{url}/confirm", headers=officers["BY"]))
    assert confirmed["status"] == "confirmed" and confirmed["decided_at"]
    r = await http.post(f"{url}/confirm", headers=officers["BY"])
    assert r.status_code == 409 and r.json()["allowed_from"] == ["filed"]

    body = application(outside_party("RU"), date(2026, 1, 14), [line("1000000.00", "RUB")])
    body["seller"] = a["seller"]
    body["lines"] = [line("1100000.00", "RUB")]
    corrected = ok(
        await http.post(
            f"{url}/corrections",
            json={"application": body, "reason": "price revised"},
            headers=by_importer.headers,
        )
    )
    assert (corrected["version"], corrected["status"], D(corrected["vat"])) == (2, "filed", D("8158.70"))
    withdrawn = ok(
        await http.post(f"{url}/withdraw", json={"reason": "goods returned"}, headers=by_importer.headers)
    )
    assert withdrawn["status"] == "withdrawn"
    history = ok(await http.get(f"{url}/versions", headers=by_importer.headers))
    assert [(v["version"], v["event"]) for v in history] == [
        (1, "filed"),
        (1, "confirmed"),
        (2, "corrected"),
        (2, "withdrawn"),
    ]
    assert D(history[0]["snapshot"]["vat"]) == D("7417.00") and history[2]["reason"] == "price revised"
    payments = ok(await http.get(f"{url}/payments", headers=officers["BY"]))
    assert [p["amount"] for p in payments] == ["7000.00", "417.00"]
    r = await http.post(f"{url}/withdraw", json={"reason": "again"}, headers=by_importer.headers)
    assert r.status_code == 409


async def test_a_business_sees_its_own_and_an_officer_its_state(
    http: httpx.AsyncClient, by_importer: Business, ru_importer: Business, officers: dict[str, dict[str, str]]
) -> None:
    mine = await file(
        http, by_importer, application(outside_party("RU"), date(2026, 1, 14), [line("10.00", "RUB")])
    )
    theirs = await file(
        http, ru_importer, application(outside_party("BY"), date(2026, 1, 14), [line("10.00", "USD")])
    )
    assert (
        await http.get(f"{API}/applications/{theirs['number']}", headers=by_importer.headers)
    ).status_code == 404
    listed = ok(await http.get(f"{API}/applications", params={"limit": 200}, headers=by_importer.headers))
    assert {i["number"] for i in listed["items"]} == {mine["number"]}
    by_list = ok(await http.get(f"{API}/applications", params={"limit": 200}, headers=officers["BY"]))
    assert {i["state"] for i in by_list["items"]} == {"BY"}
    assert (await http.get(f"{API}/applications/{mine['number']}", headers=officers["RU"])).status_code == 404


async def _count(http: httpx.AsyncClient) -> int:
    page = ok(await http.get(f"{API}/applications", params={"limit": 200}, headers=await admin(http)))
    return len(page["items"])


async def test_bad_input_is_refused_whole_and_nothing_is_persisted(
    http: httpx.AsyncClient, by_importer: Business
) -> None:
    before = await _count(http)
    good = application(outside_party("RU"), date(2026, 1, 14), [line("100.00", "RUB")])

    bad_id = {**good, "seller": {**good["seller"], "tax_id": "7707083894"}}  # INN check digit wrong
    r = await http.post(f"{API}/applications", json=bad_id, headers=by_importer.headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in r.json()["errors"]} == {"body.seller.tax_id"}

    wrong_region = {**good, "seller": {**good["seller"], "region": "BY-HM"}}
    r = await http.post(f"{API}/applications", json=wrong_region, headers=by_importer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.seller.region"

    same_state = {**good, "seller": outside_party("BY")}
    r = await http.post(f"{API}/applications", json=same_state, headers=by_importer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.seller.country"

    tomorrow = local_today() + timedelta(days=1)
    future = {**good, "registered_on": tomorrow.isoformat()}
    r = await http.post(f"{API}/applications", json=future, headers=by_importer.headers)
    assert r.status_code == 422 and "body.registered_on" in {e["field"] for e in r.json()["errors"]}

    unknown_hs = {**good, "lines": [line("1.00", "RUB", hs_code="999999")]}
    r = await http.post(f"{API}/applications", json=unknown_hs, headers=by_importer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.lines[0].hs_code"

    no_invoice = {**good, "lines": [line("1.00", "RUB", invoice=1)]}
    r = await http.post(f"{API}/applications", json=no_invoice, headers=by_importer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.lines[0].invoice"

    no_rate = {**good, "registered_on": "2020-01-15", "contract": {"number": "C-1", "date": "2019-01-01"}}
    r = await http.post(f"{API}/applications", json=no_rate, headers=by_importer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.lines[0].currency"
    assert await _count(http) == before

    first = await file(http, by_importer, good)
    r = await http.post(f"{API}/applications", json=good, headers=by_importer.headers)
    assert r.status_code == 409 and r.json()["existing"] == first["number"]
    assert await _count(http) == before + 1


async def test_a_tax_officer_or_carrier_may_not_file(
    http: httpx.AsyncClient, officers: dict[str, dict[str, str]], rates: None
) -> None:
    body = application(
        outside_party("RU"), date(2026, 1, 14), [line("100.00", "RUB")], importer=outside_party("BY")
    )
    assert (await http.post(f"{API}/applications", json=body, headers=officers["BY"])).status_code == 403


async def test_an_administrator_files_for_an_importer_by_its_identifier(
    http: httpx.AsyncClient, rates: None
) -> None:
    body = application(
        outside_party("RU"), date(2026, 1, 14), [line("100.00", "RUB")], importer=outside_party("BY")
    )
    a = ok(await http.post(f"{API}/applications", json=body, headers=await admin(http)), 201)
    assert a["importer"]["tax_id"] == body["importer"]["tax_id"] and a["state"] == "BY"
    body = application(outside_party("RU"), date(2026, 1, 14), [line("100.00", "RUB")])
    r = await http.post(
        f"{API}/applications",
        json={**body, "importer": {**outside_party("BY"), "tax_id": "12345678"}},
        headers=await admin(http),
    )
    assert r.status_code == 422


async def test_claim_confirmed_by_an_application_of_the_other_state_on_one_node(
    http: httpx.AsyncClient, by_importer: Business, officers: dict[str, dict[str, str]]
) -> None:
    exporter = await business(http, "RU")
    shipped = local_today() - timedelta(days=20)
    invoices = [
        (f"INV-{exporter.id}-1", shipped, "500000.00", "RUB"),
        (f"INV-{exporter.id}-2", shipped, "250000.00", "RUB"),
    ]
    c = ok(
        await http.post(
            f"{API}/claims", json=claim(by_importer.party(), shipped, invoices), headers=exporter.headers
        ),
        201,
    )
    assert (c["status"], c["day"], c["last_day"]) == (
        "pending",
        21,
        (shipped + timedelta(days=179)).isoformat(),
    )
    assert D(c["base"]) == D("750000.00") and c["currency"] == "RUB"
    r = await http.post(
        f"{API}/claims", json=claim(by_importer.party(), shipped, invoices), headers=exporter.headers
    )
    assert r.status_code == 409

    registered = shipped + timedelta(days=3)
    body = application(
        exporter.party(),
        registered,
        [line("500000.00", "RUB"), line("250000.50", "RUB")],  # 0.50 off: within the tolerance
        invoices=[(n, d) for n, d, _, _ in invoices],
    )
    a = await file(http, by_importer, body)
    url = f"{API}/applications/{a['number']}"
    ok(
        await http.post(
            f"{url}/payments",
            json={"amount": a["total_due"], "paid_on": registered.isoformat(), "reference": "P"},
            headers=by_importer.headers,
        )
    )
    ok(await http.post(f"{url}/confirm", headers=officers["BY"]))
    c = ok(await http.get(f"{API}/claims/{c['number']}", headers=exporter.headers))
    assert (c["status"], c["confirmation"]) == ("confirmed", a["number"])
    # the exporter's own tax authority sees it; the importer's business does not
    assert ok(await http.get(f"{API}/claims/{c['number']}", headers=officers["RU"]))["status"] == "confirmed"
    assert (await http.get(f"{API}/claims/{c['number']}", headers=by_importer.headers)).status_code == 404
    # withdrawing the application takes the confirmation away
    ok(await http.post(f"{url}/withdraw", json={"reason": "error"}, headers=by_importer.headers))
    c = ok(await http.get(f"{API}/claims/{c['number']}", headers=exporter.headers))
    assert (c["status"], c["confirmation"]) == ("pending", None)


async def test_claim_refusals(http: httpx.AsyncClient, rates: None) -> None:
    exporter = await business(http, "RU")
    today = local_today()
    same = claim(outside_party("RU"), today, [("I-1", today, "10.00", "RUB")])
    r = await http.post(f"{API}/claims", json=same, headers=exporter.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.buyer.country"
    future = claim(outside_party("BY"), today + timedelta(days=1), [("I-1", today, "10.00", "RUB")])
    r = await http.post(f"{API}/claims", json=future, headers=exporter.headers)
    assert r.status_code == 422 and "body.shipped_on" in {e["field"] for e in r.json()["errors"]}
    listed = ok(await http.get(f"{API}/claims", headers=exporter.headers))
    assert listed["items"] == []


async def test_deadlines_warn_at_150_and_170_and_lapse_at_181(
    http: httpx.AsyncClient, backend: Backend, rates: None
) -> None:
    exporter = await business(http, "RU")
    shipped = local_today() - timedelta(days=5)
    c = ok(
        await http.post(
            f"{API}/claims",
            json=claim(outside_party("BY"), shipped, [("I-9", shipped, "1000.00", "USD")]),
            headers=exporter.headers,
        ),
        201,
    )
    number = c["number"]
    async with backend.db.session() as session:
        rate = await rate_on(session, authority="CBR", currency="USD", day=shipped)
    base = (D("1000.00") * rate.per_unit).quantize(D("0.01"))
    assert D(c["base"]) == base

    async def run(day_number: int) -> dict[str, list[str]]:
        async with backend.db.session() as session:
            result = await apply_deadlines(session, shipped + timedelta(days=day_number - 1))
            await commit(session)
        return {k: [n for n in v if n == number] for k, v in result.model_dump().items()}

    assert await run(149) == {"warned_150": [], "warned_170": [], "lapsed": []}
    assert await run(150) == {"warned_150": [number], "warned_170": [], "lapsed": []}
    assert await run(150) == {"warned_150": [], "warned_170": [], "lapsed": []}  # warned once
    assert await run(169) == {"warned_150": [], "warned_170": [], "lapsed": []}
    assert await run(170) == {"warned_150": [], "warned_170": [number], "lapsed": []}
    assert await run(180) == {"warned_150": [], "warned_170": [], "lapsed": []}
    assert await run(181) == {"warned_150": [], "warned_170": [], "lapsed": [number]}
    c = ok(await http.get(f"{API}/claims/{number}", headers=exporter.headers))
    percent = D(22) if shipped.year >= 2026 else D(20)
    assert (c["status"], c["warnings"], D(c["vat_percent"])) == ("lapsed", [150, 170], percent)
    assert D(c["vat_due"]) == (base * percent / 100).quantize(D("0.01"))
