"""The monitoring pipeline end to end on each database: fixes of a released movement sent through
POST /api/v1/telemetry reach the bus, the consumer and the engine, and alarms are persisted once."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.conftest import Backend
from tests.ingest.devices import api_key
from tests.support.builders import BREST, declaration, ok, seal, world

from tamga.auth.domain import Role
from tamga.parties import repository as parties

Point = tuple[float, float]


async def released(http: httpx.AsyncClient, backend: Backend) -> tuple[dict[str, Any], str, str]:
    """A released movement Brest -> Moscow with one seal; give it, its device id and a device key."""
    w = await world(http, seals=0)
    serial = await seal(http, w.carrier)
    m = ok(
        await http.post("/api/v1/movements", json=declaration(w, seals=[serial]), headers=w.declarant), 201
    )
    ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
    m = ok(await http.post(f"/api/v1/movements/{m['id']}/release", json={}, headers=w.officer(BREST)))
    async with backend.db.session() as session:
        row = await parties.seal_by_serial(session, serial)
        assert row is not None
        seal_id, device_id = row.id, row.device_id
    return m, device_id, await api_key(backend.db, Role.DEVICE, seal_id)


def on_and_off(m: dict[str, Any]) -> tuple[Point, Point]:
    """A point on the first leg (2% from Brest towards Minsk, away from the office) and one ~1.3 km off
    it, across the leg (the corridor follows the geodesic, so further along a straight lat/lon line drifts)."""
    (a, b) = m["itinerary"][0], m["itinerary"][1]
    on = (a["lat"] + 0.02 * (b["lat"] - a["lat"]), a["lon"] + 0.02 * (b["lon"] - a["lon"]))
    return on, (on[0] + 0.01, on[1] - 0.01)


def fix(device_id: str, n: int, at: datetime, where: Point, *, opened: bool = False) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "record_id": n,
        "time": at.isoformat(),
        "lat": where[0],
        "lon": where[1],
        "speed": 60.0,
        "valid": True,
        "seal": {"opened": opened, "tampered": False, "armed": True},
        "battery_v": 3.9,
    }


async def send(http: httpx.AsyncClient, key: str, fixes: list[dict[str, Any]]) -> None:
    body = ok(
        await http.post(
            "/api/v1/telemetry", json={"fixes": fixes}, headers={"Authorization": f"Bearer {key}"}
        )
    )
    assert body["stored"] == len(fixes)


async def alarms_until(
    http: httpx.AsyncClient, movement_id: int, done: Any, timeout_s: float = 15.0
) -> list[dict[str, Any]]:
    """Poll the movement's alarms (as the administrator) until `done(alarms)` holds."""
    from tests.support.builders import admin

    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        page = ok(
            await http.get("/api/v1/alarms", params={"movement_id": movement_id}, headers=await admin(http))
        )
        items: list[dict[str, Any]] = page["items"]
        if done(items) or asyncio.get_running_loop().time() > deadline:
            return items
        await asyncio.sleep(0.1)


def of_rule(alarms: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [a for a in alarms if a["rule"] == rule]


async def test_leaving_the_corridor_opens_one_alarm_and_coming_back_clears_it(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    m, device_id, key = await released(http, backend)
    t0 = datetime.fromisoformat(m["released_at"])
    on, off = on_and_off(m)
    await send(http, key, [fix(device_id, 0, t0 + timedelta(seconds=10), on)])
    outside = [fix(device_id, i, t0 + timedelta(seconds=40 + 60 * (i - 1)), off) for i in range(1, 5)]
    await send(http, key, outside[:2])  # 60 s outside: not yet
    await send(http, key, outside[2:])  # 180 s and 4 fixes outside: an alarm
    alarms = await alarms_until(http, m["id"], lambda a: of_rule(a, "corridor_deviation"))
    deviations = of_rule(alarms, "corridor_deviation")
    assert len(deviations) == 1
    alarm = deviations[0]
    assert (alarm["status"], alarm["severity"]) == ("open", "high")
    assert alarm["evidence"] and {"time", "lat", "lon"} <= set(alarm["evidence"][0])

    await send(http, key, [fix(device_id, 5, t0 + timedelta(seconds=280), on)])
    alarms = await alarms_until(
        http, m["id"], lambda a: all(x["status"] == "resolved" for x in of_rule(a, "corridor_deviation"))
    )
    deviations = of_rule(alarms, "corridor_deviation")
    assert [(a["id"], a["status"], a["resolved_by"]) for a in deviations] == [
        (alarm["id"], "resolved", "system:monitoring")
    ]
    full = ok(await http.get(f"/api/v1/movements/{m['id']}", headers=await _admin(http)))
    actions = [
        (e["details"].get("rule"), e["details"].get("action")) for e in full["events"] if e["kind"] == "alarm"
    ]
    assert actions == [("corridor_deviation", "opened"), ("corridor_deviation", "cleared")]


async def test_a_seal_opened_away_from_an_authorised_place_opens_a_critical_alarm(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    m, device_id, key = await released(http, backend)
    t0 = datetime.fromisoformat(m["released_at"])
    on, _ = on_and_off(m)
    await send(http, key, [fix(device_id, 0, t0 + timedelta(seconds=10), on, opened=True)])
    alarms = await alarms_until(http, m["id"], lambda a: of_rule(a, "seal_opened"))
    opened = of_rule(alarms, "seal_opened")
    assert len(opened) == 1 and opened[0]["severity"] == "critical" and opened[0]["status"] == "open"
    # Still open on the next fix: not opened twice.
    await send(http, key, [fix(device_id, 1, t0 + timedelta(seconds=40), on, opened=True)])
    await asyncio.sleep(1.0)
    alarms = await alarms_until(http, m["id"], lambda a: True)
    assert len(of_rule(alarms, "seal_opened")) == 1


async def _admin(http: httpx.AsyncClient) -> dict[str, str]:
    from tests.support.builders import admin

    return await admin(http)


async def test_a_large_batch_goes_through_the_engine_off_the_event_loop_with_the_same_result(
    http: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tamga.monitoring import engine
    from tamga.monitoring.service import OFF_LOOP_MIN_FIXES

    calls: list[tuple[int, bool]] = []  # (fixes, in the event loop's thread)
    real = engine.process_batch

    def spy(plans: Any, states: Any, fixes: Any, now: datetime) -> Any:
        calls.append((len(fixes), threading.current_thread() is threading.main_thread()))
        return real(plans, states, fixes, now)

    monkeypatch.setattr(engine, "process_batch", spy)
    m, device_id, key = await released(http, backend)
    t0 = datetime.fromisoformat(m["released_at"])
    on, off = on_and_off(m)
    count = OFF_LOOP_MIN_FIXES + 44  # one request, one bus batch
    spacing_s = 270 / count  # all within the five minutes the engine takes ahead of its clock
    fixes = [fix(device_id, 0, t0 + timedelta(seconds=10), on)] + [
        fix(device_id, i, t0 + timedelta(seconds=10 + spacing_s * i), off) for i in range(1, count)
    ]
    await send(http, key, fixes)
    alarms = await alarms_until(http, m["id"], lambda a: of_rule(a, "corridor_deviation"))
    deviations = of_rule(alarms, "corridor_deviation")
    assert [(a["status"], a["severity"]) for a in deviations] == [("open", "high")]
    assert (count, False) in calls  # the batch ran in a worker thread, not on the event loop
