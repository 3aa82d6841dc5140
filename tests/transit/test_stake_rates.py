"""A lodging's amount at stake is estimated at the central bank's rates in force as imported into the
rates store (not at rates shipped with the code), and a newly imported or corrected rate applies at once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.conftest import Backend
from tests.rates.fixtures import cbr_xml
from tests.support.builders import declaration, item, ok, world

from tamga.kit.db import commit
from tamga.rates.service import import_document
from tamga.reference.catalog import load_catalog
from tamga.transit import service as transit_service
from tamga.transit.domain import GoodsLine, amount_at_stake

DAY = date(2033, 3, 15)  # far from the bundled samples and from the other tests' documents
HS = "8471300000"


async def _import_cbr(backend: Backend, day: date, usd: str, *, replace: bool = False) -> None:
    async with backend.db.session() as session:
        await import_document(
            session, cbr_xml(day, usd=usd), actor="user:test", source="test", replace=replace
        )
        await commit(session)


def _expected(value: str, usd_per_unit: str) -> Decimal:
    catalog = load_catalog()
    total, _ = amount_at_stake(
        [GoodsLine(HS, Decimal(value), "USD")],
        "RU",
        DAY,
        catalog.duty_estimate_percent,
        catalog.vat_percent("RU", DAY),
        lambda *_: Decimal(usd_per_unit),
    )
    return total


async def test_the_stake_follows_the_rates_store(
    http: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transit_service, "utcnow", lambda: datetime(2033, 3, 15, 9, 30, tzinfo=UTC))
    w = await world(http, seals=3)

    def body(n: int) -> dict[str, Any]:
        return declaration(
            w, seals=[w.seals[n]], items=[item(1, hs_code=HS, value="1000.00", currency="USD")]
        )

    # no CBR rate in force that day: refused, naming the item's currency, and nothing is kept
    first = body(0)
    r = await http.post("/api/v1/movements", json=first, headers=w.declarant)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["body.items[0].currency"]
    assert "no CBR exchange rate for USD in force on 2033-03-15" in errors[0]["reason"]
    two = declaration(
        w,
        seals=[w.seals[2]],
        items=[item(1, currency="USD"), item(2, currency="RUB"), item(3, currency="EUR")],
    )
    r = await http.post("/api/v1/movements", json=two, headers=w.declarant)
    assert r.status_code == 422  # every item without a rate is named in the one refusal
    assert [e["field"] for e in r.json()["errors"]] == ["body.items[0].currency", "body.items[2].currency"]

    # the bank's document of the day before is imported: the same declaration is accepted at its rate
    await _import_cbr(backend, date(2033, 3, 14), "90,5000")
    m = ok(await http.post("/api/v1/movements", json=first, headers=w.declarant), 201)
    assert Decimal(m["amount_at_stake"]) == _expected("1000.00", "90.5") > 0
    assert Decimal(m["reserved_amount"]) == Decimal(m["amount_at_stake"])  # a RUB guarantee

    # a correction of that day's rate, committed, applies to the next lodging at once
    await _import_cbr(backend, date(2033, 3, 14), "91,2500", replace=True)
    m = ok(await http.post("/api/v1/movements", json=body(1), headers=w.declarant), 201)
    assert Decimal(m["amount_at_stake"]) == _expected("1000.00", "91.25")
