"""The tax gap over HTTP: a state's 0 % claims reconciled against the confirmations received, by region
pair, month and HS section, with the drill-down to the documents; scope of the tax authorities.

The database is shared with the other tests of the session, so each check compares the gap before and
after this test's own documents.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.conftest import Backend
from tests.support.builders import admin, ok
from tests.taxation.support import Business, application, business, claim, line, tax_officer

from tamga.kit.db import commit
from tamga.rates.service import load_samples
from tamga.taxation.service import local_today

API = "/api/v1/tax"
D = Decimal


@pytest.fixture(scope="module")
async def rates(backend: Backend) -> None:
    async with backend.db.session() as session:
        await load_samples(session)
        await commit(session)


@pytest.fixture
async def officers(http: httpx.AsyncClient) -> AsyncIterator[dict[str, dict[str, str]]]:
    yield {"RU": await tax_officer(http, "RU"), "BY": await tax_officer(http, "BY")}


def _cell(gap: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    zero = {"matched_count": 0, "mismatched_count": 0, "unconfirmed_count": 0, "unclaimed_count": 0}
    return next((row for row in gap["rows"] if row["key"] == key), zero)


async def _confirm(
    http: httpx.AsyncClient, importer: Business, officer: dict[str, str], body: dict[str, Any]
) -> None:
    a = ok(await http.post(f"{API}/applications", json=body, headers=importer.headers), 201)
    url = f"{API}/applications/{a['number']}"
    payment = {"amount": a["total_due"], "paid_on": body["registered_on"], "reference": "P"}
    ok(await http.post(f"{url}/payments", json=payment, headers=importer.headers))
    ok(await http.post(f"{url}/confirm", headers=officer))


async def test_gap_by_region_pair_with_drill_down(
    http: httpx.AsyncClient, rates: None, officers: dict[str, dict[str, str]]
) -> None:
    exporter, importer = await business(http, "RU"), await business(http, "BY")
    key = {"seller_region": exporter.region, "buyer_region": importer.region}
    before = ok(await http.get(f"{API}/gap", headers=officers["RU"]))
    assert before["state"] == "RU" and before["by"] == "region_pair"

    shipped = local_today() - timedelta(days=30)
    n = f"GAP-{exporter.id}"
    invoices = {
        "matched": (f"{n}-1", shipped, "100000.00", "RUB"),
        "mismatched": (f"{n}-2", shipped, "200000.00", "RUB"),
        "unconfirmed": (f"{n}-3", shipped, "300000.00", "RUB"),
    }
    numbers = {}
    for kind, invoice in invoices.items():
        body = claim(importer.party(), shipped, [invoice])
        body["invoices"][0]["hs_code"] = "851713"
        c = ok(await http.post(f"{API}/claims", json=body, headers=exporter.headers), 201)
        numbers[kind] = c["number"]
    registered = shipped + timedelta(days=2)
    # the importer confirms the first at its amount, the second 10 % short, and one invoice never claimed
    await _confirm(
        http,
        importer,
        officers["BY"],
        application(exporter.party(), registered, [line("100000.00", "RUB")], invoices=[(f"{n}-1", shipped)]),
    )
    await _confirm(
        http,
        importer,
        officers["BY"],
        application(exporter.party(), registered, [line("180000.00", "RUB")], invoices=[(f"{n}-2", shipped)]),
    )
    await _confirm(
        http,
        importer,
        officers["BY"],
        application(exporter.party(), registered, [line("50000.00", "RUB")], invoices=[(f"{n}-4", shipped)]),
    )

    after = ok(await http.get(f"{API}/gap", headers=officers["RU"]))
    was, now = _cell(before, key), _cell(after, key)
    for category in ("matched", "mismatched", "unconfirmed", "unclaimed"):
        assert now[f"{category}_count"] - was[f"{category}_count"] == 1, category
    for category in ("matched", "mismatched", "unconfirmed", "unclaimed"):
        assert after["counts"][category] - before["counts"][category] == 1, category
    # unsupported: the unconfirmed claim and the part of the mismatched one above the confirmed amount
    assert D(now["unsupported_amount"]) - D(was.get("unsupported_amount", "0")) == D("320000.00")

    docs = {
        category: ok(
            await http.get(
                f"{API}/gap/documents",
                params={"key": f"{exporter.region},{importer.region}", "category": category},
                headers=officers["RU"],
            )
        )
        for category in ("matched", "mismatched", "unconfirmed", "unclaimed")
    }
    assert numbers["matched"] in {d["claim"] for d in docs["matched"]}
    mismatch = next(d for d in docs["mismatched"] if d["claim"] == numbers["mismatched"])
    assert (D(mismatch["claimed"]), D(mismatch["confirmed"])) == (D("200000.00"), D("180000.00"))
    assert numbers["unconfirmed"] in {d["claim"] for d in docs["unconfirmed"]}
    assert any(d["claim"] is None and D(d["confirmed"]) == D("50000.00") for d in docs["unclaimed"])

    by_section = ok(await http.get(f"{API}/gap", params={"by": "hs_section"}, headers=officers["RU"]))
    assert any(row["key"] == {"hs_section": "XVI"} for row in by_section["rows"])  # 8517: machinery
    by_month = ok(await http.get(f"{API}/gap", params={"by": "month"}, headers=officers["RU"]))
    assert any(row["key"] == {"month": f"{shipped:%Y-%m}"} for row in by_month["rows"])


async def test_gap_scope_and_bad_keys(
    http: httpx.AsyncClient, rates: None, officers: dict[str, dict[str, str]]
) -> None:
    assert (await http.get(f"{API}/gap", params={"state": "BY"}, headers=officers["RU"])).status_code == 403
    exporter = await business(http, "RU")
    assert (await http.get(f"{API}/gap", headers=exporter.headers)).status_code == 403
    r = await http.get(f"{API}/gap", headers=await admin(http))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert (
        ok(await http.get(f"{API}/gap", params={"state": "BY"}, headers=await admin(http)))["state"] == "BY"
    )
    r = await http.get(
        f"{API}/gap/documents",
        params={"key": "2026-13", "category": "matched", "by": "month"},
        headers=officers["RU"],
    )
    assert r.status_code == 422 and "query.key" in r.text
    r = await http.get(
        f"{API}/gap/documents", params={"key": "XX-YY,ZZ", "category": "matched"}, headers=officers["RU"]
    )
    assert r.status_code == 422
