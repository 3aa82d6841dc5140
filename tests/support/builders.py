"""Builders that make test data through the public API, as its users would."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tamga.parties import synthetic

ADMIN_PASSWORD = "admin-password-for-tests"
PASSWORD = "password-for-tests"

BREST = "09131"  # Kozlovichi, departure on the Polish border
REDKI = "07290"  # Belarus side of the Russia–Belarus line on M1
KRASNOYE = "10113090"  # Russian side of that line
SMOLENSK = "10113110"
MOSCOW = "10013010"  # Noginsk, Moscow region
MINSK = "06611"
KAMENNY_LOG = "16133"


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def token(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await http.post("/api/v1/auth/token", data={"username": username, "password": password})
    return {"Authorization": f"Bearer {ok(r)['access_token']}"}


_admin_tokens: dict[str, dict[str, str]] = {}


async def admin(http: httpx.AsyncClient) -> dict[str, str]:
    """The administrator's headers (one login per server)."""
    key = str(http.base_url)
    if key not in _admin_tokens:
        _admin_tokens[key] = await token(http, "admin", ADMIN_PASSWORD)
    return _admin_tokens[key]


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def user(http: httpx.AsyncClient, role: str, **scope: Any) -> dict[str, str]:
    """Create a user with a role and scope; give their auth headers."""
    name = f"{role}.{tag()}"
    body = {"username": name, "password": PASSWORD, "role": role, **scope}
    ok(await http.post("/api/v1/users", json=body, headers=await admin(http)), 201)
    return await token(http, name)


async def operator(
    http: httpx.AsyncClient, country: str = "RU", *, carrier: bool = False, rng: random.Random | None = None
) -> int:
    rng = rng or random.Random()
    if country == "RU":
        inn = synthetic.inn_legal(rng, 67)
        body = {
            "country": "RU",
            "name": f"OOO Test {tag()}",
            "tax_id": inn,
            "kpp": synthetic.kpp(inn),
            "ogrn": synthetic.ogrn(rng, 67),
            "region": "RU-SMO",
        }
    else:
        body = {
            "country": "BY",
            "name": f"OAO Test {tag()}",
            "tax_id": synthetic.unp(rng, 1),
            "region": "BY-HM",
        }
    body["is_carrier"] = carrier
    return int(ok(await http.post("/api/v1/operators", json=body, headers=await admin(http)), 201)["id"])


@dataclass
class World:
    """A holder, a carrier with seals, a guarantee, and officers at the offices of the M1 corridor."""

    holder_id: int
    declarant: dict[str, str]
    carrier_id: int
    carrier: dict[str, str]
    grn: str
    access_code: str
    officers: dict[str, dict[str, str]] = field(default_factory=dict)
    seals: list[str] = field(default_factory=list)

    def officer(self, office: str) -> dict[str, str]:
        return self.officers[office]


async def seal(http: httpx.AsyncClient, carrier: dict[str, str]) -> str:
    serial = f"ENS-{tag()}"
    body = {
        "serial": serial,
        "national_operator": "BY",
        "protocol": "egts",
        "device_id": tag() + tag(),
        "device_secret": "device-secret-1",
    }
    ok(await http.post("/api/v1/seals", json=body, headers=carrier), 201)
    return serial


async def guarantee(
    http: httpx.AsyncClient,
    holder_id: int,
    amount: str,
    *,
    kind: str = "comprehensive",
    currency: str = "RUB",
    officer: dict[str, str] | None = None,
) -> tuple[str, str]:
    code = "AB12"
    body = {
        "holder_id": holder_id,
        "kind": kind,
        "currency": currency,
        "reference_amount": amount,
        "valid_from": "2025-01-01",
        "access_code": code,
    }
    g = ok(await http.post("/api/v1/guarantees", json=body, headers=officer or await admin(http)), 201)
    return str(g["grn"]), code


async def world(
    http: httpx.AsyncClient,
    *,
    guarantee_amount: str = "100000000",
    seals: int = 2,
    holder_country: str = "RU",
) -> World:
    holder_id = await operator(http, holder_country)
    carrier_id = await operator(http, "RU", carrier=True)
    declarant = await user(http, "declarant", operator_id=holder_id)
    carrier = await user(http, "carrier", operator_id=carrier_id)
    grn, code = await guarantee(http, holder_id, guarantee_amount)
    w = World(holder_id, declarant, carrier_id, carrier, grn, code)
    for office, country in (
        (BREST, "BY"),
        (REDKI, "BY"),
        (KRASNOYE, "RU"),
        (SMOLENSK, "RU"),
        (MOSCOW, "RU"),
        (MINSK, "BY"),
        (KAMENNY_LOG, "BY"),
    ):
        w.officers[office] = await user(http, "customs_officer", country=country, office_code=office)
    for _ in range(seals):
        w.seals.append(await seal(http, carrier))
    return w


def item(n: int = 1, **overrides: Any) -> dict[str, Any]:
    base = {
        "hs_code": "8471300000",
        "description": f"Portable computers lot {n}",
        "packages": 10,
        "gross_mass_kg": "120.500",
        "net_mass_kg": "100.000",
        "value": "25000.00",
        "currency": "EUR",
        "origin": "CN",
    }
    return {**base, **overrides}


def declaration(w: World, *, seals: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """A transit declaration Brest (Kozlovichi) -> Smolensk -> Moscow region along M1."""
    body = {
        "lrn": f"LRN-{tag()}",
        "carrier_id": w.carrier_id,
        "consignor": {"name": "Shenzhen Export Co. Ltd", "country": "CN", "address": "Shenzhen"},
        "consignee": {"name": "OOO Test consignee", "country": "RU", "identifier": "7707083893"},
        "departure_office": BREST,
        "destination_office": MOSCOW,
        "transit_offices": [REDKI, KRASNOYE],
        "itinerary": [
            {"office_code": BREST},
            {"name": "Minsk ring road", "lat": 53.85, "lon": 27.70},
            {"office_code": REDKI},
            {"office_code": KRASNOYE},
            {"office_code": SMOLENSK},
            {"office_code": MOSCOW},
        ],
        "vehicles": [{"plate": "A123BC67", "country": "RU"}],
        "seals": seals if seals is not None else w.seals[:1],
        "guarantee": {"grn": w.grn, "access_code": w.access_code},
        "items": [
            item(1),
            item(
                2,
                hs_code="0808108000",
                description="Fresh apples",
                value="3000.00",
                currency="USD",
                origin="PL",
                gross_mass_kg="20000",
                net_mass_kg="19000",
            ),
        ],
    }
    body.update(overrides)
    return body
