"""Bad input over HTTP, on every configured database: a 4xx problem+json naming each field at fault, and
nothing persisted (row counts of the affected tables are the same before and after)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from stdnum.by import unp
from stdnum.ru import inn
from tests.conftest import Backend
from tests.support.builders import (
    BREST,
    REDKI,
    World,
    admin,
    declaration,
    item,
    ok,
    operator,
    seal,
    world,
)

from tamga.models import (
    AuditRecord,
    Guarantee,
    IdempotencyRecord,
    Movement,
    MovementEvent,
    MovementItem,
    Operator,
    User,
)
from tamga.parties import synthetic

COUNTED = (
    Movement,
    MovementItem,
    MovementEvent,
    AuditRecord,
    Operator,
    Guarantee,
    User,
    IdempotencyRecord,
)
PROBLEM = "application/problem+json"
BAD_INN = "7707083894"  # 7707083893 with a wrong check digit


def bad_unp() -> str:
    valid = synthetic.unp(random.Random(), 1)
    wrong = next(valid[:-1] + d for d in "0123456789" if not unp.is_valid(valid[:-1] + d))
    assert unp.is_valid(valid) and not unp.is_valid(wrong)
    return wrong


async def row_counts(backend: Backend) -> dict[str, int]:
    async with backend.db.session() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in COUNTED
        }


async def refused(
    backend: Backend, request: Awaitable[httpx.Response], status: int, *fields: str
) -> dict[str, Any]:
    """Send the request; check it is refused with `status` naming every one of `fields`, and that no
    row was written anywhere."""
    before = await row_counts(backend)
    r = await request
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = r.json()
    assert problem["status"] == status
    named = {e["field"] for e in problem.get("errors", [])}
    missing = set(fields) - named
    assert not missing, f"{missing} not named in {problem}"
    assert await row_counts(backend) == before
    return problem


@pytest.fixture(scope="module")
async def w(base_url: str) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        yield await world(client, seals=1)


async def lodged(http: httpx.AsyncClient, w: World) -> dict[str, Any]:
    """A movement with its own fresh seal, lodged and accepted."""
    body = declaration(w, seals=[await seal(http, w.carrier)])
    m = ok(await http.post("/api/v1/movements", json=body, headers=w.declarant), 201)
    return ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))


def lodge(http: httpx.AsyncClient, w: World, body: dict[str, Any]) -> Awaitable[httpx.Response]:
    return http.post("/api/v1/movements", json=body, headers=w.declarant)


# --- parties --------------------------------------------------------------------------------------


async def test_invalid_consignee_inn(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    assert not inn.is_valid(BAD_INN)
    consignee = {"name": "OOO Bad", "country": "RU", "identifier": BAD_INN}
    problem = await refused(
        backend, lodge(http, w, declaration(w, consignee=consignee)), 422, "body.consignee.identifier"
    )
    assert problem["type"].endswith("/validation")
    missing = {"name": "OOO Nameless", "country": "RU"}
    await refused(
        backend, lodge(http, w, declaration(w, consignee=missing)), 422, "body.consignee.identifier"
    )


async def test_invalid_unp_at_operator_registration(http: httpx.AsyncClient, backend: Backend) -> None:
    body = {"country": "BY", "name": "OAO Bad UNP", "tax_id": bad_unp(), "region": "BY-HM"}
    await refused(
        backend, http.post("/api/v1/operators", json=body, headers=await admin(http)), 422, "body.tax_id"
    )


async def test_invalid_unp_in_a_declaration_party(
    http: httpx.AsyncClient, backend: Backend, w: World
) -> None:
    party = {"name": "OAO Bad UNP", "country": "BY", "identifier": bad_unp(), "address": "Minsk"}
    await refused(backend, lodge(http, w, declaration(w, consignor=party)), 422, "body.consignor.identifier")
    await refused(backend, lodge(http, w, declaration(w, consignee=party)), 422, "body.consignee.identifier")


# --- goods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["9999999999", "999999", "847199"])
async def test_unknown_hs_code(http: httpx.AsyncClient, backend: Backend, w: World, code: str) -> None:
    body = declaration(w, items=[item(1), item(2, hs_code=code)])
    await refused(backend, lodge(http, w, body), 422, "body.items[1].hs_code")


async def test_unknown_office_code(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = declaration(w, departure_office="99999", itinerary=[])
    await refused(backend, lodge(http, w, body), 422, "body.departure_office")
    body = declaration(w, destination_office="99999999", itinerary=[])
    await refused(backend, lodge(http, w, body), 422, "body.destination_office")
    body = declaration(w, transit_offices=[REDKI, "88888"], itinerary=[])
    await refused(backend, lodge(http, w, body), 422, "body.transit_offices[1]")


async def test_negative_mass(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = declaration(w, items=[item(1, gross_mass_kg="-1", net_mass_kg="-2")])
    await refused(
        backend, lodge(http, w, body), 422, "body.items[0].gross_mass_kg", "body.items[0].net_mass_kg"
    )


async def test_net_mass_over_gross(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = declaration(w, items=[item(1), item(2, gross_mass_kg="120.500", net_mass_kg="120.501")])
    await refused(backend, lodge(http, w, body), 422, "body.items[1].net_mass_kg")


async def test_2000_items_are_refused_and_1999_accepted(
    http: httpx.AsyncClient, backend: Backend, w: World
) -> None:
    items = [item(n, description=f"lot {n}", value="10.00") for n in range(1, 2001)]
    await refused(backend, lodge(http, w, declaration(w, items=items)), 422, "body.items")

    before = await row_counts(backend)
    m = ok(await lodge(http, w, declaration(w, items=items[:1999])), 201)
    assert m["item_count"] == 1999
    after = await row_counts(backend)
    assert after["movements"] == before["movements"] + 1
    assert after["movement_items"] == before["movement_items"] + 1999
    full = ok(await http.get(f"/api/v1/movements/{m['id']}", headers=w.declarant))
    assert [i["number"] for i in full["items"]] == list(range(1, 2000))


# --- enumerations ---------------------------------------------------------------------------------


async def test_unknown_guarantee_kind(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = {
        "holder_id": w.holder_id,
        "kind": "surety",
        "currency": "RUB",
        "reference_amount": "1000",
        "valid_from": "2025-01-01",
        "access_code": "AB12",
    }
    await refused(
        backend, http.post("/api/v1/guarantees", json=body, headers=await admin(http)), 422, "body.kind"
    )


async def test_unknown_role(http: httpx.AsyncClient, backend: Backend) -> None:
    body = {"username": "emperor.x", "password": "password-for-tests", "role": "emperor"}
    await refused(backend, http.post("/api/v1/users", json=body, headers=await admin(http)), 422, "body.role")


async def test_unknown_incident_kind(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    m = await lodged(http, w)
    ok(await http.post(f"/api/v1/movements/{m['mrn']}/release", json={}, headers=w.officer(BREST)))
    incident = {"kind": "alien_abduction", "description": "lights in the sky"}
    send = http.post(f"/api/v1/movements/{m['mrn']}/incidents", json=incident, headers=w.officer(REDKI))
    await refused(backend, send, 422, "body.kind")
    after = ok(await http.get(f"/api/v1/movements/{m['mrn']}", headers=w.declarant))
    assert after["status"] == "released"


# --- release --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "time_limit",
    [
        "2020-01-01T00:00:00Z",  # in the past
        "2030-01-01T00:00:00",  # no time zone
        "2999-01-01T00:00:00Z",  # beyond 2,000 km a month
        "tomorrow",
    ],
)
async def test_bad_time_limit_at_release(
    http: httpx.AsyncClient, backend: Backend, w: World, time_limit: str
) -> None:
    m = await lodged(http, w)
    g_before = ok(await http.get(f"/api/v1/guarantees/{w.grn}", headers=w.declarant))
    send = http.post(
        f"/api/v1/movements/{m['mrn']}/release", json={"time_limit": time_limit}, headers=w.officer(BREST)
    )
    await refused(backend, send, 422, "body.time_limit")
    after = ok(await http.get(f"/api/v1/movements/{m['mrn']}", headers=w.declarant))
    assert after["status"] == "accepted" and after["time_limit"] is None
    assert after["seals"] == m["seals"] and m["seals"][0]["status"] != "armed"
    g_after = ok(await http.get(f"/api/v1/guarantees/{w.grn}", headers=w.declarant))
    assert g_after["reserved_amount"] == g_before["reserved_amount"]


# --- the request itself ---------------------------------------------------------------------------


async def test_body_of_10_mb_is_413(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    big = declaration(w)
    big["consignee"]["address"] = "x" * (10 * 1024 * 1024)
    await refused(backend, lodge(http, w, big), 413, "body")


async def test_streamed_body_of_10_mb_without_length_is_413(
    http: httpx.AsyncClient, backend: Backend, w: World
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10 * 16):
            yield b" " * 65536

    headers = {**w.declarant, "content-type": "application/json"}
    send = http.post("/api/v1/movements", content=chunks(), headers=headers)  # chunked, no length
    await refused(backend, send, 413, "body")


async def test_duplicate_lrn_is_409(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = declaration(w)
    ok(await lodge(http, w, body), 201)
    again = declaration(w, lrn=body["lrn"])
    problem = await refused(backend, lodge(http, w, again), 409, "body.lrn")
    assert problem["type"].endswith("/conflict")


async def test_unknown_fields_are_422(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = declaration(w, colour="red")
    body["items"][0]["secret"] = 1
    body["consignee"]["kpp"] = "770701001"
    await refused(
        backend,
        lodge(http, w, body),
        422,
        "body.colour",
        "body.items[0].secret",
        "body.consignee.kpp",
    )
    m = await lodged(http, w)
    send = http.post(f"/api/v1/movements/{m['mrn']}/release", json={"hurry": True}, headers=w.officer(BREST))
    await refused(backend, send, 422, "body.hurry")


async def test_nul_characters_in_free_text(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = declaration(w, items=[item(1, description="Portable\x00computers")])
    body["consignee"]["name"] = "OOO \x00"
    body["consignor"]["address"] = "Shenzhen\x00"
    await refused(
        backend,
        lodge(http, w, body),
        422,
        "body.items[0].description",
        "body.consignee.name",
        "body.consignor.address",
    )
    m = await lodged(http, w)
    send = http.post(
        f"/api/v1/movements/{m['id']}/reject", json={"reasons": ["bad\x00"]}, headers=w.officer(BREST)
    )
    await refused(backend, send, 422, "body.reasons[0]")


async def test_nul_characters_in_party_and_user_free_text(
    http: httpx.AsyncClient, backend: Backend, w: World
) -> None:
    """PostgreSQL cannot store NUL in text (it failed with a 500); SQLite stored it silently."""
    rng = random.Random()
    tax_id = synthetic.inn_legal(rng, 67)
    body = {
        "country": "RU",
        "name": "OOO \x00 Null",
        "tax_id": tax_id,
        "kpp": synthetic.kpp(tax_id),
        "address": "Smolensk\x00",
        "aeo_status": "type1",
        "aeo_certificate": "RU/\x00",
    }
    admin_headers = await admin(http)
    await refused(
        backend,
        http.post("/api/v1/operators", json=body, headers=admin_headers),
        422,
        "body.name",
        "body.address",
        "body.aeo_certificate",
    )
    vehicle = {"plate": "A1\x0023", "country": "RU"}
    await refused(backend, http.post("/api/v1/vehicles", json=vehicle, headers=w.carrier), 422, "body.plate")
    device = {
        "serial": "ENS-nul-test",
        "national_operator": "RU",
        "protocol": "egts",
        "device_id": "35\x00",
        "device_secret": "device-secret-1",
        "model": "\x00",
    }
    await refused(
        backend,
        http.post("/api/v1/seals", json=device, headers=w.carrier),
        422,
        "body.device_id",
        "body.model",
    )
    account = {
        "username": "nul.user",
        "password": "password-for-tests",
        "role": "declarant",
        "full_name": "\x00",
    }
    await refused(
        backend, http.post("/api/v1/users", json=account, headers=admin_headers), 422, "body.full_name"
    )


# --- all at once ----------------------------------------------------------------------------------


async def test_every_fault_of_a_declaration_is_listed(
    http: httpx.AsyncClient, backend: Backend, w: World
) -> None:
    body = declaration(
        w,
        carrier_id=w.holder_id,  # not a carrier
        consignee={"name": "OOO Bad", "country": "RU", "identifier": BAD_INN},
        transit_offices=[REDKI, "88888"],
        itinerary=[],
        seals=["ENS-never-registered"],
        guarantee={"grn": w.grn, "access_code": "WRONG"},
        items=[
            item(1, hs_code="999999"),
            item(2, gross_mass_kg="10", net_mass_kg="11"),
            item(3, origin="QQ", currency="QQQ"),
        ],
    )
    problem = await refused(
        backend,
        lodge(http, w, body),
        422,
        "body.carrier_id",
        "body.consignee.identifier",
        "body.transit_offices[1]",
        "body.seals[0]",
        "body.guarantee",
        "body.items[0].hs_code",
        "body.items[1].net_mass_kg",
        "body.items[2].origin",
        "body.items[2].currency",
    )
    assert len(problem["errors"]) >= 9


async def test_seals_of_another_carrier_and_parties_that_do_not_exist_are_named(
    http: httpx.AsyncClient, backend: Backend, w: World
) -> None:
    """A lodging reads its operators, guarantee and seals together (one statement on PostgreSQL):
    whatever is missing, each fault is still named, down to none of the operators existing at all."""
    other = await operator(http, "RU", carrier=True)
    body = declaration(w, carrier_id=other, seals=[w.seals[0], "ENS-never-registered"])
    problem = await refused(backend, lodge(http, w, body), 422, "body.seals[0]", "body.seals[1]")
    reasons = {e["field"]: e["reason"] for e in problem["errors"]}
    assert "another carrier" in reasons["body.seals[0]"]
    assert "no registered seal" in reasons["body.seals[1]"]

    nobody = 10**12
    body = declaration(w, holder_id=nobody, carrier_id=nobody + 1, seals=[w.seals[0]])
    problem = await refused(
        backend,
        http.post("/api/v1/movements", json=body, headers=await admin(http)),
        422,
        "body.holder_id",
        "body.carrier_id",
        "body.guarantee",
        "body.seals[0]",
    )


async def test_every_schema_fault_is_listed(http: httpx.AsyncClient, backend: Backend, w: World) -> None:
    body = declaration(w, departure_office="BREST", vehicles=[], extra=1)
    body["items"][0].update(gross_mass_kg="-5", description="\x00")
    body["items"][1].update(hs_code="0808", packages=-1)
    del body["consignor"]["name"]
    await refused(
        backend,
        lodge(http, w, body),
        422,
        "body.departure_office",
        "body.vehicles",
        "body.extra",
        "body.items[0].gross_mass_kg",
        "body.items[0].description",
        "body.items[1].hs_code",
        "body.items[1].packages",
        "body.consignor.name",
    )


async def test_destination_abroad_and_same_offices(
    http: httpx.AsyncClient, backend: Backend, w: World
) -> None:
    body = declaration(w, destination_office=BREST, transit_offices=[], itinerary=[])
    await refused(backend, lodge(http, w, body), 422, "body.destination_office")
