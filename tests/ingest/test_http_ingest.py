"""POST /api/v1/telemetry over the live server, on each database: batches stored once, device keys bound
to their seal, problem+json naming the fix at fault, nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.conftest import Backend
from tests.ingest.devices import api_key, register_seal
from tests.support.builders import BREST, admin, declaration, ok, seal, user, world

from tamga.auth.domain import Role
from tamga.ingest import store
from tamga.parties import repository as parties

T0 = datetime(2026, 3, 20, 7, 0, tzinfo=UTC)


def fixes(device_id: str, count: int, *, start: datetime = T0) -> list[dict[str, Any]]:
    return [
        {
            "device_id": device_id,
            "record_id": i,
            "time": (start + timedelta(seconds=60 * i)).isoformat(),
            "lat": 53.9 + i * 1e-3,
            "lon": 27.56 + i * 1e-3,
            "speed": 70.5,
            "course": 91,
            "valid": True,
            "seal": {"opened": i == count - 1, "tampered": False, "armed": True},
            "battery_v": 3.2,
            "attributes": {"satellites": 10, "hdop": 0.9, "firmware": "2.1.7", "moving": True},
        }
        for i in range(count)
    ]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def count(backend: Backend, device_id: str) -> int:
    async with backend.db.session() as session:
        return await store.count_fixes(session, device_id)


async def test_a_device_batch_is_stored_once_with_its_movement(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    w = await world(http, seals=0)
    serial = await seal(http, w.carrier)
    body = declaration(w, seals=[serial])
    m = ok(await http.post("/api/v1/movements", json=body, headers=w.declarant), 201)
    ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
    ok(await http.post(f"/api/v1/movements/{m['id']}/release", json={}, headers=w.officer(BREST)))
    async with backend.db.session() as session:
        row = await parties.seal_by_serial(session, serial)
        assert row is not None and row.movement_id == m["id"]
        seal_id, device_id = row.id, row.device_id
    key = await api_key(backend.db, Role.DEVICE, seal_id)

    batch = {"fixes": fixes(device_id, 5)}
    assert ok(await http.post("/api/v1/telemetry", json=batch, headers=bearer(key))) == {
        "received": 5,
        "stored": 5,
        "duplicates": 0,
    }
    # The same batch replayed (a retry after a lost answer): nothing new.
    replay = ok(await http.post("/api/v1/telemetry", json=batch, headers=bearer(key)))
    assert replay == {"received": 5, "stored": 0, "duplicates": 5}
    async with backend.db.session() as session:
        rows = await store.fixes_of_device(session, device_id)
    assert len(rows) == 5
    assert {r.movement_id for r in rows} == {m["id"]}
    last = rows[-1]
    assert (last.opened, last.tampered, last.armed) == (True, False, True)
    assert last.battery_v == 3.2 and last.low_battery is True  # under the generic EGTS seal's 3.5 V
    assert last.speed_kmh == 70.5 and last.course == 91 and last.protocol == "http"
    assert last.attributes == {"satellites": 10, "hdop": 0.9, "firmware": "2.1.7", "moving": True}
    assert rows[0].time == T0


async def test_a_device_key_reports_only_for_its_own_seal(http: httpx.AsyncClient, backend: Backend) -> None:
    mine, theirs = await register_seal(backend.db), await register_seal(backend.db)
    key = await api_key(backend.db, Role.DEVICE, mine.seal_id)
    batch = fixes(mine.device_id, 3)
    batch[1]["device_id"] = theirs.device_id
    r = await http.post("/api/v1/telemetry", json={"fixes": batch}, headers=bearer(key))
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["body.fixes[1].device_id"]
    assert await count(backend, mine.device_id) == 0 and await count(backend, theirs.device_id) == 0


async def test_a_system_key_reports_for_any_seal_but_not_unknown_ones(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    a, b = await register_seal(backend.db), await register_seal(backend.db, protocol="mqtt", model="generic")
    key = await api_key(backend.db, Role.ADMINISTRATOR)
    batch = fixes(a.device_id, 2) + fixes(b.device_id, 2)
    assert ok(await http.post("/api/v1/telemetry", json={"fixes": batch}, headers=bearer(key)))["stored"] == 4
    async with backend.db.session() as session:
        b_rows = await store.fixes_of_device(session, b.device_id)
    assert b_rows[0].low_battery is None  # no device profile for this model: the level is not judged

    unknown = fixes(a.device_id, 3, start=T0 + timedelta(days=1))
    unknown[2]["device_id"] = "no-such-device"
    r = await http.post("/api/v1/telemetry", json={"fixes": unknown}, headers=bearer(key))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["body.fixes[2].device_id"]
    assert await count(backend, a.device_id) == 2


async def test_bad_fixes_are_named_and_nothing_is_written(http: httpx.AsyncClient, backend: Backend) -> None:
    dev = await register_seal(backend.db)
    key = await api_key(backend.db, Role.DEVICE, dev.seal_id)
    batch = fixes(dev.device_id, 5)
    batch[2]["lat"] = 91.5
    batch[3]["time"] = "2026-03-20T07:00:00"  # no zone
    batch[4]["attributes"] = {"bad name!": 1}
    del batch[0]["lon"]
    r = await http.post("/api/v1/telemetry", json={"fixes": batch}, headers=bearer(key))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"body.fixes[2].lat", "body.fixes[3].time", "body.fixes[0].lon"} <= fields
    assert any(f.startswith("body.fixes[4].attributes") for f in fields)
    assert await count(backend, dev.device_id) == 0

    for bad in ({"fixes": []}, {"fixes": fixes(dev.device_id, 1), "extra": 1}, {}):
        r = await http.post("/api/v1/telemetry", json=bad, headers=bearer(key))
        assert r.status_code == 422, r.text
    assert await count(backend, dev.device_id) == 0


async def test_only_devices_and_systems_report(http: httpx.AsyncClient, backend: Backend) -> None:
    dev = await register_seal(backend.db)
    batch = {"fixes": fixes(dev.device_id, 1)}
    assert (await http.post("/api/v1/telemetry", json=batch)).status_code == 401
    officer = await user(http, "customs_officer", country="BY", office_code=BREST)
    assert (await http.post("/api/v1/telemetry", json=batch, headers=officer)).status_code == 403
    unbound = await api_key(backend.db, Role.DEVICE)
    assert (await http.post("/api/v1/telemetry", json=batch, headers=bearer(unbound))).status_code == 403
    # An administrator logged in as a person may relay too.
    assert ok(await http.post("/api/v1/telemetry", json=batch, headers=await admin(http)))["stored"] == 1
