"""Bodies and parties for the taxation tests, built the way a business would send them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from tests.support.builders import admin, ok, operator, tag, user

from tamga.parties import synthetic


@dataclass
class Business:
    """A registered operator, its identifiers, and a declarant acting for it."""

    id: int
    country: str
    tax_id: str
    name: str
    region: str
    headers: dict[str, str]

    def party(self) -> dict[str, str]:
        return {"country": self.country, "tax_id": self.tax_id, "name": self.name, "region": self.region}


async def business(http: httpx.AsyncClient, country: str, rng: random.Random | None = None) -> Business:
    operator_id = await operator(http, country, rng=rng)
    op = ok(await http.get(f"/api/v1/operators/{operator_id}", headers=await admin(http)))
    headers = await user(http, "declarant", operator_id=operator_id)
    return Business(operator_id, country, op["tax_id"], op["name"], op["region"], headers)


async def tax_officer(http: httpx.AsyncClient, country: str) -> dict[str, str]:
    return await user(http, "tax_officer", country=country)


def outside_party(country: str, rng: random.Random | None = None) -> dict[str, str]:
    """A counterparty not registered in tamga, with a valid identifier of its state."""
    rng = rng or random.Random()
    tax_id = synthetic.inn_legal(rng, 67) if country == "RU" else synthetic.unp(rng, 2)
    return {"country": country, "tax_id": tax_id, "name": f"Counterparty {tag()}"}


def line(value: str, currency: str, *, hs_code: str = "851713", **extra: Any) -> dict[str, Any]:
    return {
        "hs_code": hs_code,
        "description": "goods",
        "quantity": "10",
        "unit": "PCE",
        "value": value,
        "currency": currency,
        **extra,
    }


def application(
    seller: dict[str, str],
    registered_on: date,
    lines: list[dict[str, Any]],
    *,
    invoices: list[tuple[str, date]] | None = None,
    importer: dict[str, str] | None = None,
) -> dict[str, Any]:
    invoices = invoices or [(f"INV-{tag()}", registered_on)]
    body: dict[str, Any] = {
        "seller": seller,
        "contract": {"number": f"C-{tag()}", "date": date(2025, 6, 1).isoformat()},
        "invoices": [{"number": n, "date": d.isoformat()} for n, d in invoices],
        "transport_documents": [{"number": f"CMR-{tag()}", "date": registered_on.isoformat()}],
        "lines": lines,
        "registered_on": registered_on.isoformat(),
    }
    if importer is not None:
        body["importer"] = importer
    return body


def claim(
    buyer: dict[str, str], shipped_on: date, invoices: list[tuple[str, date, str, str]]
) -> dict[str, Any]:
    return {
        "buyer": buyer,
        "invoices": [
            {"number": n, "date": d.isoformat(), "amount": amount, "currency": cur}
            for n, d, amount, cur in invoices
        ],
        "shipped_on": shipped_on.isoformat(),
    }
