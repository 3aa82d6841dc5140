"""The transit procedure end to end over HTTP, on every configured database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select, update
from tests.conftest import Backend
from tests.support.builders import (
    BREST,
    KRASNOYE,
    MOSCOW,
    REDKI,
    declaration,
    ok,
    seal,
    world,
)

from tamga.audit import repository as audit_repo
from tamga.audit import service as audit
from tamga.audit.domain import GENESIS_HASH, chain_of, record_hash
from tamga.models import AuditRecord, Movement, Seal
from tamga.transit.mrn import is_valid_mrn


async def test_brest_smolensk_moscow_through_every_state(http: httpx.AsyncClient, backend: Backend) -> None:
    w = await world(http)
    m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
    assert m["status"] == "lodged" and m["mrn"] is None
    assert Decimal(m["amount_at_stake"]) > 0 and m["amount_currency"] == "RUB"
    assert Decimal(m["route_length_km"]) > Decimal(900)  # Brest - Minsk - Smolensk - Moscow is ~1,050 km
    ref = str(m["id"])

    m = ok(await http.post(f"/api/v1/movements/{ref}/accept", headers=w.officer(BREST)))
    assert m["status"] == "accepted" and is_valid_mrn(m["mrn"]) and m["mrn"][2:4] == "BY"
    assert m["registration_number"].startswith(f"{BREST}/")
    mrn = m["mrn"]

    g_before = ok(await http.get(f"/api/v1/guarantees/{w.grn}", headers=w.declarant))
    m = ok(await http.post(f"/api/v1/movements/{mrn}/release", json={}, headers=w.officer(BREST)))
    assert m["status"] == "released"
    assert datetime.fromisoformat(m["time_limit"]) > datetime.now(UTC) + timedelta(days=2)
    assert m["seals"] == [{"serial": w.seals[0], "status": "armed"}]
    g = ok(await http.get(f"/api/v1/guarantees/{w.grn}", headers=w.declarant))
    assert Decimal(g["reserved_amount"]) == Decimal(g_before["reserved_amount"]) + Decimal(
        m["reserved_amount"]
    )

    for office in (REDKI, KRASNOYE):
        m = ok(await http.post(f"/api/v1/movements/{mrn}/crossings", json={}, headers=w.officer(office)))
        assert m["status"] == "en_route"
    m = ok(await http.post(f"/api/v1/movements/{mrn}/arrival", json={}, headers=w.officer(MOSCOW)))
    assert m["status"] == "arrived"
    m = ok(
        await http.post(
            f"/api/v1/movements/{mrn}/unloading-remarks",
            json={"discrepancies": False},
            headers=w.officer(MOSCOW),
        )
    )
    assert m["status"] == "unloaded"
    m = ok(await http.post(f"/api/v1/movements/{mrn}/discharge", json={}, headers=w.officer(MOSCOW)))
    assert m["status"] == "discharged"

    g = ok(await http.get(f"/api/v1/guarantees/{w.grn}", headers=w.declarant))
    assert Decimal(g["reserved_amount"]) == Decimal(g_before["reserved_amount"])
    full = ok(await http.get(f"/api/v1/movements/{mrn}", headers=w.declarant))
    kinds = [e["kind"] for e in full["events"]]
    assert kinds == [
        "lodged",
        "accepted",
        "released",
        "crossing",
        "crossing",
        "arrived",
        "unloading_remarks",
        "discharged",
    ]
    crossing = full["events"][3]
    assert crossing["office_code"] == REDKI and crossing["details"]["border_with"] == "RU"
    seals = ok(await http.get("/api/v1/seals", headers=w.carrier))["items"]
    assert {s["serial"]: s["status"] for s in seals}[w.seals[0]] == "available"

    pdf = await http.get(f"/api/v1/movements/{mrn}/document", headers=w.declarant)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    await assert_audited(backend, ref, mrn, g["grn"])


async def assert_audited(backend: Backend, movement_id: str, mrn: str, grn: str) -> None:
    """Every step is on the movement's audit chain, in order, with what it changed, each record linked to
    the one before it and hashed as `tamga audit verify` recomputes it (the first three steps' records
    are appended by the database on PostgreSQL, riding on the steps' own statements)."""
    async with backend.db.session() as session:
        records = await audit_repo.for_entity(session, "movement", movement_id)
        chain = (
            await session.execute(select(AuditRecord).where(AuditRecord.chain == records[0].chain))
        ).scalars()
        by_seq = {r.seq: r for r in chain}
    assert [r.action.removeprefix("movement.") for r in records] == [
        "lodge",
        "accept",
        "release",
        "notify_crossing",
        "notify_crossing",
        "arrive",
        "record_unloading",
        "discharge",
    ]
    lodge, accept, release = records[:3]
    assert lodge.before is None and lodge.after is not None and lodge.after["status"] == "lodged"
    assert accept.before == {"status": "lodged"} and accept.after is not None
    assert accept.after["status"] == "accepted" and accept.after["mrn"] == mrn
    assert release.after is not None and release.after["status"] == "released"
    assert release.after["mrn"] == mrn and release.after["guarantee"] == grn
    for r in records:
        assert r.chain == chain_of("movement", movement_id)
        assert r.hash == record_hash(audit.entry_of(r), r.prev_hash)
        assert r.prev_hash == (by_seq[r.seq - 1].hash if r.seq > 1 else GENESIS_HASH)


async def test_release_arms_every_declared_seal_or_none(http: httpx.AsyncClient, backend: Backend) -> None:
    """The release reads the declared seals with the movement (in one statement on PostgreSQL) and arms
    them all; a declared seal that is not available refuses the release, naming it by its place in the
    declaration, and arms none."""
    w = await world(http)
    first, second, third = [await seal(http, w.carrier) for _ in range(3)]
    declared = [second, first]  # not in the seals' id order
    m = ok(
        await http.post("/api/v1/movements", json=declaration(w, seals=declared), headers=w.declarant), 201
    )
    ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
    m = ok(await http.post(f"/api/v1/movements/{m['id']}/release", json={}, headers=w.officer(BREST)))
    assert m["seals"] == [{"serial": s, "status": "armed"} for s in declared]

    other = declaration(w, seals=[third, first])  # the first is armed on the movement above now
    o = ok(await http.post("/api/v1/movements", json=other, headers=w.declarant), 201)
    ok(await http.post(f"/api/v1/movements/{o['id']}/accept", headers=w.officer(BREST)))
    r = await http.post(f"/api/v1/movements/{o['id']}/release", json={}, headers=w.officer(BREST))
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [{"field": "seals[1]", "reason": f"seal {first} cannot be armed: armed"}]
    async with backend.db.session() as session:
        rows = (await session.execute(select(Seal.serial, Seal.status, Seal.movement_id))).all()
    states = {serial: (status, movement_id) for serial, status, movement_id in rows}
    assert states[first] == states[second] == ("armed", m["id"])
    assert states[third] == ("available", None)


async def test_illegal_transition_is_409_naming_allowed_states(http: httpx.AsyncClient) -> None:
    w = await world(http)
    m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
    r = await http.post(f"/api/v1/movements/{m['id']}/release", json={}, headers=w.officer(BREST))
    assert r.status_code == 409
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["allowed_from"] == ["accepted"] and "lodged" in problem["detail"]
    r = await http.post(f"/api/v1/movements/{m['id']}/discharge", json={}, headers=w.officer(MOSCOW))
    assert r.status_code == 409 and r.json()["allowed_from"] == ["unloaded", "discrepancies"]
    r = await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(KRASNOYE))
    assert r.status_code == 403  # not the office of departure


async def test_rejection_and_invalidation(http: httpx.AsyncClient) -> None:
    w = await world(http)
    m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
    m = ok(
        await http.post(
            f"/api/v1/movements/{m['id']}/reject", json={"reasons": ["CMR missing"]}, headers=w.officer(BREST)
        )
    )
    assert m["status"] == "rejected" and m["rejection"] == [{"reason": "CMR missing"}]
    r = await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST))
    assert r.status_code == 409

    m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
    m = ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
    m = ok(
        await http.post(
            f"/api/v1/movements/{m['mrn']}/invalidate", json={"note": "wrong truck"}, headers=w.declarant
        )
    )
    assert m["status"] == "invalidated"
    r = await http.post(f"/api/v1/movements/{m['mrn']}/release", json={}, headers=w.officer(BREST))
    assert r.status_code == 409


async def test_incidents_and_discrepancies(http: httpx.AsyncClient) -> None:
    w = await world(http, seals=3)
    m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
    mrn = ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))["mrn"]
    ok(await http.post(f"/api/v1/movements/{mrn}/release", json={}, headers=w.officer(BREST)))
    incident = {
        "kind": "seal_broken",
        "description": "seal found cut at Redki",
        "seal_serial": w.seals[0],
        "new_seals": [w.seals[1]],
    }
    m = ok(await http.post(f"/api/v1/movements/{mrn}/incidents", json=incident, headers=w.officer(REDKI)))
    assert {s["serial"]: s["status"] for s in m["seals"]} == {w.seals[0]: "broken", w.seals[1]: "armed"}
    tranship = {
        "kind": "transhipment",
        "description": "tractor broke down",
        "new_vehicle": {"plate": "B777OP67", "country": "RU"},
    }
    m = ok(await http.post(f"/api/v1/movements/{mrn}/incidents", json=tranship, headers=w.officer(KRASNOYE)))
    assert m["vehicles"] == [{"plate": "B777OP67", "country": "RU"}]
    r = await http.post(
        f"/api/v1/movements/{mrn}/incidents",
        json={"kind": "transhipment", "description": "x"},
        headers=w.officer(KRASNOYE),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.new_vehicle"

    ok(await http.post(f"/api/v1/movements/{mrn}/arrival", json={}, headers=w.officer(MOSCOW)))
    remarks = {
        "discrepancies": True,
        "remarks": [{"item_number": 2, "kind": "missing", "description": "2 pallets short"}],
    }
    m = ok(
        await http.post(f"/api/v1/movements/{mrn}/unloading-remarks", json=remarks, headers=w.officer(MOSCOW))
    )
    assert m["status"] == "discrepancies"
    r = await http.post(f"/api/v1/movements/{mrn}/discharge", json={}, headers=w.officer(MOSCOW))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.resolution"
    m = ok(
        await http.post(
            f"/api/v1/movements/{mrn}/discharge",
            json={"resolution": "duties paid on shortfall"},
            headers=w.officer(MOSCOW),
        )
    )
    assert m["status"] == "discharged"


async def test_non_arrival_enquiry_and_recovery(http: httpx.AsyncClient, backend: Backend) -> None:
    w = await world(http, guarantee_amount="5000000")
    m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
    mrn = ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))["mrn"]
    m = ok(await http.post(f"/api/v1/movements/{mrn}/release", json={}, headers=w.officer(BREST)))
    reserved = Decimal(m["reserved_amount"])
    r = await http.post(f"/api/v1/movements/{mrn}/enquiry", json={}, headers=w.officer(BREST))
    assert r.status_code == 409  # the time limit has not passed

    async with backend.db.session() as session:  # time passes: the limit is now behind us
        await session.execute(
            update(Movement)
            .where(Movement.mrn == mrn)
            .values(time_limit=datetime.now(UTC) - timedelta(hours=1))
        )
        await session.commit()
    m = ok(
        await http.post(
            f"/api/v1/movements/{mrn}/enquiry", json={"note": "no arrival"}, headers=w.officer(BREST)
        )
    )
    assert m["status"] == "enquiry"
    m = ok(await http.post(f"/api/v1/movements/{mrn}/recovery", json={}, headers=w.officer(BREST)))
    assert m["status"] == "recovered"
    g = ok(await http.get(f"/api/v1/guarantees/{w.grn}", headers=w.declarant))
    assert Decimal(g["recovered_amount"]) == reserved and Decimal(g["reserved_amount"]) == 0
    assert Decimal(g["balance"]) == Decimal("5000000") - reserved
