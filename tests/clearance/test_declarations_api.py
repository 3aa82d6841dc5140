"""Goods declarations end to end over HTTP, on every configured database: refusals that persist nothing,
automatic release of a green AEO declaration, the officer queue, payments and concurrent releases."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.clearance.support import (
    LAPTOPS,
    MINSK,
    MOSCOW,
    SMOLENSK,
    counts,
    declarant,
    declaration,
    funded_account,
    item,
    officer,
    prepare,
)
from tests.conftest import Backend
from tests.support.builders import BREST, KRASNOYE, REDKI, ok, world
from tests.support.builders import declaration as transit_declaration

from tamga.models import AuditRecord
from tamga.rates.service import rate_on

D = Decimal
CENT = D("0.01")


@pytest.fixture
async def ready(backend: Backend, http: httpx.AsyncClient) -> Backend:
    await prepare(backend)
    return backend


def _kopecks(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


async def _lodge(http: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return ok(await http.post("/api/v1/declarations", json=body, headers=headers), 201)


# --- refusals -------------------------------------------------------------------------------------


async def _accepted_transit_mrn(http: httpx.AsyncClient) -> tuple[str, Any]:
    """A transit Brest -> Moscow accepted (so it has an MRN) but never discharged."""
    w = await world(http, seals=1)
    m = ok(await http.post("/api/v1/movements", json=transit_declaration(w), headers=w.declarant), 201)
    m = ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
    return str(m["mrn"]), w


async def test_faulty_declarations_name_the_field_and_persist_nothing(
    ready: Backend, http: httpx.AsyncClient
) -> None:
    operator_id, headers = await declarant(http)
    mrn, _ = await _accepted_transit_mrn(http)
    cases: list[tuple[dict[str, Any], str, str]] = [
        (declaration(transit_mrn=mrn), "body.transit_mrn", "not discharged"),
        (declaration(transit_mrn="26RU10013010ZZZZZ0"), "body.transit_mrn", "no transit movement"),
        (declaration(items=[item(hs_code="847130000")]), "body.items[0].hs_code", "10 digits"),
        (
            declaration(items=[item(hs_code="8701209013", quantity="12000", unit="cm3")]),
            "body.items[0].hs_code",
            "no import duty rate in force",
        ),
        (declaration(items=[item(currency="AED")]), "body.items[0].currency", "no CBR exchange rate for AED"),
        (declaration(items=[item(price="-10.00")]), "body.items[0].price", "greater than 0"),
        (
            declaration(costs=[{"kind": "transport", "amount": "100.00", "currency": "AED"}]),
            "body.costs[0].currency",
            "AED",
        ),
        (declaration(office_code=MINSK), "body.office_code", "its own state's offices"),
    ]
    for body, field, reason in cases:
        before = await counts(ready)
        r = await http.post("/api/v1/declarations", json=body, headers=headers)
        assert r.status_code == 422, (field, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        matching = [e for e in problem["errors"] if e["field"] == field]
        assert matching, (field, problem)
        assert reason in matching[0]["reason"], (reason, matching)
        assert await counts(ready) == before, f"a refused declaration ({field}) left rows behind"
    # one refusal names every fault at once
    body = declaration(items=[item(currency="AED"), item(hs_code="8701209013", quantity="12000", unit="cm3")])
    r = await http.post("/api/v1/declarations", json=body, headers=headers)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.items[0].currency", "body.items[1].hs_code"}
    listed = ok(await http.get("/api/v1/declarations", headers=headers))
    assert listed["items"] == [] and operator_id > 0


async def test_import_after_a_discharged_transit_is_accepted(ready: Backend, http: httpx.AsyncClient) -> None:
    mrn, w = await _accepted_transit_mrn(http)
    ok(await http.post(f"/api/v1/movements/{mrn}/release", json={}, headers=w.officer(BREST)))
    for office in (REDKI, KRASNOYE):
        ok(await http.post(f"/api/v1/movements/{mrn}/crossings", json={}, headers=w.officer(office)))
    ok(await http.post(f"/api/v1/movements/{mrn}/arrival", json={}, headers=w.officer(MOSCOW)))
    body = {"discrepancies": False}
    ok(await http.post(f"/api/v1/movements/{mrn}/unloading-remarks", json=body, headers=w.officer(MOSCOW)))
    ok(await http.post(f"/api/v1/movements/{mrn}/discharge", json={}, headers=w.officer(MOSCOW)))
    d = await _lodge(http, declaration(transit_mrn=mrn), w.declarant)
    assert d["transit_mrn"] == mrn and d["status"] in ("registered", "released")
    # the same MRN declared at a Belarusian office: the transit ended in Russia
    _, by_headers = await declarant(http, "BY")
    r = await http.post(
        "/api/v1/declarations",
        json=declaration(MINSK, transit_mrn=mrn, destination_country="BY"),
        headers=by_headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.transit_mrn"


# --- automatic release ----------------------------------------------------------------------------


async def test_green_declaration_of_an_aeo_is_released_in_under_a_second(
    ready: Backend, http: httpx.AsyncClient
) -> None:
    operator_id, headers = await declarant(http, aeo=True)
    account_id = await funded_account(http, operator_id, "5000000.00", await officer(http, MOSCOW))

    started = time.perf_counter()
    d = await _lodge(http, declaration(), headers)
    elapsed = time.perf_counter() - started
    print(f"lodged and released automatically in {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0, f"automatic release took {elapsed:.3f} s"
    assert d["status"] == "released" and d["lane"] in ("green", "blue"), d["risk"]
    assert d["released_at"] is not None and d["declarant_aeo"] is True
    assert [h["action"] for h in d["history"]] == ["register", "auto_release"]
    assert d["registration_number"].startswith(f"{MOSCOW}/")
    msk_day = datetime.now(UTC).astimezone(timezone(timedelta(hours=3)))
    assert d["registration_number"].split("/")[1] == f"{msk_day:%d%m%y}"

    # the customs value, to the kopeck: price and freight in USD, insurance in EUR, at the CBR rate of the day
    async with ready.db.session() as session:
        usd = await rate_on(session, authority="CBR", currency="USD", day=msk_day.date())
        eur = await rate_on(session, authority="CBR", currency="EUR", day=msk_day.date())
    price = _kopecks(D("60000.00") * usd.per_unit)
    freight = _kopecks(D("2500.00") * usd.per_unit)
    insurance = _kopecks(D("150.00") * eur.per_unit)
    (line,) = d["items"]
    assert D(line["price_national"]) == price
    assert [D(s["amount"]) for s in line["shares"]] == [freight, insurance]
    assert D(line["customs_value"]) == price + freight + insurance == D(d["customs_value"])
    assert [a["basis"] for a in d["adjustments"]] == ["gross_mass", "value"]
    assert "weight" in d["adjustments"][0]["why"] and [a["deducted"] for a in d["adjustments"]] == [
        False,
        False,
    ]
    # laptops are free of duty; VAT at 22 % (Russia from 1 Jan 2026) on the customs value
    assert D(line["duty"]) == 0
    assert D(line["vat"]) == _kopecks(D(line["customs_value"]) * D("0.22"))
    assert {c["kind"] for c in line["charges"]} == {"duty", "excise", "vat"}
    assert all(c["trace"] for c in line["charges"])
    total = D(d["duty"]) + D(d["excise"]) + D(d["vat"]) + D(d["fee"])
    assert D(d["total_payable"]) == total

    statement = ok(await http.get(f"/api/v1/accounts/{account_id}/statement", headers=headers))
    kinds = [(e["kind"], D(e["amount"]), D(e["balance_after"])) for e in statement["entries"]]
    assert kinds == [
        ("deposit", D("5000000.00"), D("5000000.00")),
        ("debit", -total, D("5000000.00") - total),
    ]
    assert statement["entries"][1]["declaration_ref"] == d["ref"]
    assert D(statement["account"]["balance"]) == D("5000000.00") - total

    # the declarant sees it; another business and an officer of the other state do not
    ok(await http.get(f"/api/v1/declarations/{d['ref']}", headers=headers))
    _, stranger = await declarant(http)
    assert (await http.get(f"/api/v1/declarations/{d['ref']}", headers=stranger)).status_code == 404
    by_officer = await officer(http, MINSK, "BY")
    assert (await http.get(f"/api/v1/declarations/{d['id']}", headers=by_officer)).status_code == 404


async def test_aeo_without_funds_is_held_then_released_by_the_deposit_that_covers_it(
    ready: Backend, http: httpx.AsyncClient
) -> None:
    operator_id, headers = await declarant(http, aeo=True)
    account_id = await funded_account(http, operator_id, "1.00", await officer(http, MOSCOW))
    held = []
    for _ in range(6):  # random selection may send one to a control lane; AEOs are drawn into blue at most
        d = await _lodge(http, declaration(), headers)
        if d["lane"] in ("green", "blue"):
            held.append(d)
        if len(held) == 2:
            break
    assert len(held) == 2, "random selection kept sending an AEO's declarations to control"
    for d in held:
        assert d["status"] == "registered"
        assert d["hold_reason"] and "lacks" in d["hold_reason"]
    first, second = (D(d["total_payable"]) for d in held)
    moscow = await officer(http, MOSCOW)
    # a deposit that covers the first only releases the first; the second keeps waiting, in order
    ok(
        await http.post(
            f"/api/v1/accounts/{account_id}/deposits",
            json={"amount": str(first), "reference": "PP-1"},
            headers=moscow,
        ),
        201,
    )
    got = [ok(await http.get(f"/api/v1/declarations/{d['ref']}", headers=headers)) for d in held]
    assert [g["status"] for g in got] == ["released", "registered"]
    assert got[0]["hold_reason"] is None and [h["action"] for h in got[0]["history"]][-1] == "auto_release"
    ok(
        await http.post(
            f"/api/v1/accounts/{account_id}/deposits",
            json={"amount": str(second), "reference": "PP-2"},
            headers=moscow,
        ),
        201,
    )
    got = ok(await http.get(f"/api/v1/declarations/{held[1]['ref']}", headers=headers))
    assert got["status"] == "released"
    account = ok(await http.get(f"/api/v1/accounts/{account_id}", headers=headers))
    assert D(account["balance"]) == D("1.00")


# --- the officer queue ----------------------------------------------------------------------------


async def test_red_declaration_waits_in_the_queue_then_is_inspected_and_released(
    ready: Backend, http: httpx.AsyncClient
) -> None:
    operator_id, headers = await declarant(http)
    inspector = await officer(http, SMOLENSK)
    account_id = await funded_account(http, operator_id, "5000000.00", inspector)
    d = await _lodge(http, declaration(SMOLENSK), headers)
    assert d["status"] == "registered" and d["lane"] == "red"
    hits = {h["profile_code"]: h for h in d["risk"]["hits"]}
    assert "RP-TEST-SMOLENSK-RED" in hits and hits["RP-TEST-SMOLENSK-RED"]["lane"] == "red"

    queue = ok(await http.get("/api/v1/declarations/queue", headers=inspector))["items"]
    mine = [q for q in queue if q["ref"] == d["ref"]]
    assert mine and "RP-TEST-SMOLENSK-RED" in mine[0]["hits"]
    # another office's officer has another queue and may not act on it
    moscow = await officer(http, MOSCOW)
    assert d["ref"] not in {
        q["ref"] for q in ok(await http.get("/api/v1/declarations/queue", headers=moscow))["items"]
    }
    assert (await http.post(f"/api/v1/declarations/{d['ref']}/take", headers=moscow)).status_code == 403
    # the declarant cannot release its own declaration
    assert (await http.post(f"/api/v1/declarations/{d['ref']}/release", headers=headers)).status_code == 403

    ref = d["ref"]
    r = await http.post(f"/api/v1/declarations/{ref}/release", headers=inspector)
    assert r.status_code == 409 and r.json()["allowed_from"] == ["checked"]
    assert r.json()["current_status"] == "registered"
    d = ok(await http.post(f"/api/v1/declarations/{ref}/take", headers=inspector))
    assert d["status"] == "in_control" and d["assigned_to"]
    r = await http.post(f"/api/v1/declarations/{ref}/release", headers=inspector)
    assert r.status_code == 409 and r.json()["allowed_from"] == ["checked"]
    result = {"kind": "inspection", "outcome": "compliant", "note": "100 laptops counted, as declared"}
    d = ok(await http.post(f"/api/v1/declarations/{ref}/results", json=result, headers=inspector))
    assert d["status"] == "checked" and d["results"][0]["outcome"] == "compliant"
    d = ok(await http.post(f"/api/v1/declarations/{ref}/release", headers=inspector))
    assert d["status"] == "released" and d["released_at"]
    assert [h["action"] for h in d["history"]] == ["register", "take", "record_results", "release"]
    r = await http.post(f"/api/v1/declarations/{ref}/refuse", json={"reason": "late"}, headers=inspector)
    assert r.status_code == 409 and r.json()["current_status"] == "released"

    account = ok(await http.get(f"/api/v1/accounts/{account_id}", headers=headers))
    assert D(account["balance"]) == D("5000000.00") - D(d["total_payable"])
    async with ready.db.session() as session:
        rows = await session.execute(
            select(AuditRecord.action)
            .where(AuditRecord.entity_type == "goods_declaration", AuditRecord.entity_id == str(d["id"]))
            .order_by(AuditRecord.id)
        )
        assert list(rows.scalars()) == [
            "goods_declaration.register",
            "goods_declaration.take",
            "goods_declaration.record_results",
            "goods_declaration.release",
        ]
    queue = ok(await http.get("/api/v1/declarations/queue", headers=inspector))["items"]
    assert ref not in {q["ref"] for q in queue}


async def test_officer_refuses_with_a_reason(ready: Backend, http: httpx.AsyncClient) -> None:
    _, headers = await declarant(http)
    inspector = await officer(http, SMOLENSK)
    d = await _lodge(http, declaration(SMOLENSK), headers)
    ref = d["ref"]
    ok(await http.post(f"/api/v1/declarations/{ref}/take", headers=inspector))
    other = await officer(http, SMOLENSK)
    result = {"kind": "inspection", "outcome": "irregularities", "note": "120 laptops found, 100 declared"}
    assert (
        await http.post(f"/api/v1/declarations/{ref}/results", json=result, headers=other)
    ).status_code == 403
    ok(await http.post(f"/api/v1/declarations/{ref}/results", json=result, headers=inspector))
    r = await http.post(f"/api/v1/declarations/{ref}/refuse", json={"reason": ""}, headers=inspector)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reason"
    reason = "Quantity found at inspection differs from the declaration (EAEU Customs Code art. 125)"
    d = ok(await http.post(f"/api/v1/declarations/{ref}/refuse", json={"reason": reason}, headers=inspector))
    assert d["status"] == "refused" and d["refusal_reason"] == reason and d["refused_at"]
    assert d["history"][-1]["note"] == reason
    listed = ok(await http.get("/api/v1/declarations?status=refused", headers=headers))["items"]
    assert [x["ref"] for x in listed] == [ref]


async def test_export_owes_only_the_fee(ready: Backend, http: httpx.AsyncClient) -> None:
    _, headers = await declarant(http)
    body = declaration(
        SMOLENSK,
        direction="export",
        consignor={"name": "OOO Exporter", "country": "RU"},
        consignee={"name": "TOO Almaty Trade", "country": "KZ"},
        dispatch_country="RU",
        destination_country="KZ",
        costs=[],
        items=[item(origin="RU")],
    )
    d = await _lodge(http, body, headers)
    assert d["direction"] == "export" and d["status"] == "registered"
    assert D(d["duty"]) == D(d["excise"]) == D(d["vat"]) == 0
    assert D(d["fee"]) > 0 and D(d["total_payable"]) == D(d["fee"])
    r = await http.post("/api/v1/declarations", json={**body, "dispatch_country": "CN"}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.dispatch_country"


# --- payments -------------------------------------------------------------------------------------


async def _checked(
    http: httpx.AsyncClient, headers: dict[str, str], inspector: dict[str, str]
) -> dict[str, Any]:
    d = await _lodge(http, declaration(SMOLENSK), headers)
    ok(await http.post(f"/api/v1/declarations/{d['ref']}/take", headers=inspector))
    result = {"kind": "inspection", "outcome": "compliant"}
    return ok(await http.post(f"/api/v1/declarations/{d['ref']}/results", json=result, headers=inspector))


async def test_release_is_refused_when_funds_are_short(ready: Backend, http: httpx.AsyncClient) -> None:
    operator_id, headers = await declarant(http)
    inspector = await officer(http, SMOLENSK)
    d = await _checked(http, headers, inspector)
    r = await http.post(f"/api/v1/declarations/{d['ref']}/release", headers=inspector)
    assert r.status_code == 409 and D(r.json()["shortfall"]) == D(d["total_payable"])  # no account at all
    account_id = await funded_account(http, operator_id, "1000.00", inspector)
    r = await http.post(f"/api/v1/declarations/{d['ref']}/release", headers=inspector)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["type"].endswith("/insufficient-funds")
    assert D(problem["shortfall"]) == D(d["total_payable"]) - D("1000.00") and problem["currency"] == "RUB"
    still = ok(await http.get(f"/api/v1/declarations/{d['ref']}", headers=inspector))
    assert still["status"] == "checked"
    statement = ok(await http.get(f"/api/v1/accounts/{account_id}/statement", headers=headers))
    assert [e["kind"] for e in statement["entries"]] == ["deposit"]
    assert D(statement["account"]["balance"]) == D("1000.00")
    # deposits are for officers (and administrators), not for the declarant itself
    r = await http.post(
        f"/api/v1/accounts/{account_id}/deposits", json={"amount": "10.00", "reference": "x"}, headers=headers
    )
    assert r.status_code == 403


async def test_concurrent_releases_cannot_overdraw_the_account(
    ready: Backend, http: httpx.AsyncClient
) -> None:
    operator_id, headers = await declarant(http)
    inspector = await officer(http, SMOLENSK)
    first = await _checked(http, headers, inspector)
    second = await _checked(http, headers, inspector)
    total = D(first["total_payable"])
    assert D(second["total_payable"]) == total
    # enough for one of them and a half
    funded = total + _kopecks(total / 2)
    account_id = await funded_account(http, operator_id, str(funded), inspector)

    responses = await asyncio.gather(
        *(http.post(f"/api/v1/declarations/{d['ref']}/release", headers=inspector) for d in (first, second))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.text for r in responses]
    statement = ok(await http.get(f"/api/v1/accounts/{account_id}/statement", headers=headers))
    assert [e["kind"] for e in statement["entries"]] == ["deposit", "debit"]
    balance = D(statement["account"]["balance"])
    assert balance == funded - total and balance >= 0
    assert D(statement["entries"][-1]["balance_after"]) == balance
    released = [
        ok(await http.get(f"/api/v1/declarations/{d['ref']}", headers=headers))["status"]
        for d in (first, second)
    ]
    assert sorted(released) == ["checked", "released"]


async def test_accounts_are_one_per_declarant_and_state(ready: Backend, http: httpx.AsyncClient) -> None:
    operator_id, headers = await declarant(http)
    mine = ok(await http.post("/api/v1/accounts", json={"country": "RU"}, headers=headers), 201)
    assert mine["currency"] == "RUB" and D(mine["balance"]) == 0
    by = ok(await http.post("/api/v1/accounts", json={"country": "BY"}, headers=headers), 201)
    assert by["currency"] == "BYN"
    r = await http.post("/api/v1/accounts", json={"country": "RU"}, headers=headers)
    assert r.status_code == 409 and r.json()["account_id"] == mine["id"]
    listed = ok(await http.get("/api/v1/accounts", headers=headers))["items"]
    assert {a["id"] for a in listed} == {mine["id"], by["id"]}
    _, stranger = await declarant(http)
    assert (await http.get(f"/api/v1/accounts/{mine['id']}/statement", headers=stranger)).status_code == 404
    minsk = await officer(http, MINSK, "BY")
    r = await http.post(
        f"/api/v1/accounts/{mine['id']}/deposits", json={"amount": "10.00", "reference": "x"}, headers=minsk
    )
    assert r.status_code == 404  # a Belarusian officer does not see a Russian account
    entry = ok(
        await http.post(
            f"/api/v1/accounts/{by['id']}/deposits",
            json={"amount": "250.50", "reference": "PP-1"},
            headers=minsk,
        ),
        201,
    )
    assert D(entry["balance_after"]) == D("250.50") and operator_id > 0
    assert LAPTOPS  # the suite's goods
