"""/api/v1/alarms over the live server, on each database: scope like movements, the acknowledge/resolve
lifecycle, the one-open-alarm-per-rule index, and the live stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from tests.conftest import Backend
from tests.support.builders import BREST, KRASNOYE, admin, declaration, ok, operator, user, world

from tamga.kit.clock import utcnow
from tamga.kit.db import commit
from tamga.models import Alarm


async def released(http: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """A released movement; give it, its declarant's and the office of departure's headers."""
    w = await world(http, seals=1)
    m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
    ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
    m = ok(await http.post(f"/api/v1/movements/{m['id']}/release", json={}, headers=w.officer(BREST)))
    return m, w.declarant, w.officer(BREST)


def new_alarm(movement_id: int, rule: str = "seal_opened") -> Alarm:
    return Alarm(
        movement_id=movement_id,
        rule=rule,
        severity="critical",
        status="open",
        opened_at=utcnow(),
        evidence=[{"time": utcnow().isoformat(), "lat": 52.1, "lon": 23.8}],
        details={},
    )


async def add_alarm(backend: Backend, movement_id: int, rule: str = "seal_opened") -> int:
    async with backend.db.session() as session:
        alarm = new_alarm(movement_id, rule)
        session.add(alarm)
        await session.flush()
        await commit(session)
        return alarm.id


async def test_alarms_are_scoped_like_their_movements(http: httpx.AsyncClient, backend: Backend) -> None:
    m, declarant, officer = await released(http)
    alarm_id = await add_alarm(backend, m["id"])
    assert ok(await http.get(f"/api/v1/alarms/{alarm_id}", headers=declarant))["movement_id"] == m["id"]
    mine = ok(await http.get("/api/v1/alarms", params={"movement_id": m["id"]}, headers=declarant))["items"]
    assert [a["id"] for a in mine] == [alarm_id]
    assert ok(await http.get(f"/api/v1/alarms/{alarm_id}", headers=officer))["rule"] == "seal_opened"

    stranger = await user(http, "declarant", operator_id=await operator(http, "RU"))
    r = await http.get(f"/api/v1/alarms/{alarm_id}", headers=stranger)
    assert r.status_code == 404, r.text
    assert ok(await http.get("/api/v1/alarms", headers=stranger))["items"] == []
    tax = await user(http, "tax_officer", country="RU")
    assert (await http.get(f"/api/v1/alarms/{alarm_id}", headers=tax)).status_code == 404
    russian = await user(http, "monitoring_operator", country="RU")
    listed = ok(
        await http.get("/api/v1/alarms", params={"severity": "critical", "status": "open"}, headers=russian)
    )
    assert alarm_id in [a["id"] for a in listed["items"]]


async def test_acknowledge_then_resolve_with_a_comment(http: httpx.AsyncClient, backend: Backend) -> None:
    m, declarant, officer = await released(http)
    alarm_id = await add_alarm(backend, m["id"])
    base = f"/api/v1/alarms/{alarm_id}"

    assert (await http.post(f"{base}/acknowledge", headers=declarant)).status_code == 403
    acked = ok(await http.post(f"{base}/acknowledge", headers=officer))
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] and acked["acknowledged_at"]
    again = await http.post(f"{base}/acknowledge", headers=officer)
    assert again.status_code == 409 and again.json()["allowed_from"] == ["open"]

    for body in ({}, {"comment": ""}):
        r = await http.post(f"{base}/resolve", json=body, headers=officer)
        assert r.status_code == 422, r.text
    resolved = ok(
        await http.post(f"{base}/resolve", json={"comment": "seal checked at Redki: intact"}, headers=officer)
    )
    assert (resolved["status"], resolved["comment"]) == ("resolved", "seal checked at Redki: intact")
    assert (await http.post(f"{base}/resolve", json={"comment": "again"}, headers=officer)).status_code == 409

    listed = ok(
        await http.get(
            "/api/v1/alarms", params={"movement_id": m["id"], "status": "resolved"}, headers=declarant
        )
    )
    assert [a["id"] for a in listed["items"]] == [alarm_id]
    full = ok(await http.get(f"/api/v1/movements/{m['id']}", headers=declarant))
    handled = [e["details"]["action"] for e in full["events"] if e["kind"] == "alarm"]
    assert handled == ["acknowledged", "resolved"]

    # Resolved, the rule may open again: the unique index only covers alarms not resolved.
    assert await add_alarm(backend, m["id"]) != alarm_id


async def test_one_alarm_not_resolved_per_movement_and_rule(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    m, _, _ = await released(http)
    await add_alarm(backend, m["id"], "late")
    with pytest.raises(IntegrityError):
        await add_alarm(backend, m["id"], "late")


async def test_the_stream_sends_changes_the_caller_may_see(http: httpx.AsyncClient, backend: Backend) -> None:
    m, declarant, officer = await released(http)
    alarm_id = await add_alarm(backend, m["id"])
    async with (
        httpx.AsyncClient(base_url=str(http.base_url), timeout=30) as streaming,
        streaming.stream(
            "GET", "/api/v1/alarms/stream", headers={**declarant, "Accept": "text/event-stream"}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert await anext(lines) == ": connected"
        ok(await http.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=officer))

        async def first_event() -> dict[str, Any]:
            event = None
            async for line in lines:
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "alarm":
                    data: dict[str, Any] = json.loads(line.removeprefix("data: "))
                    return data
            raise AssertionError("the stream ended")

        data = await asyncio.wait_for(first_event(), 10)
    plain = await http.get("/api/v1/alarms/stream", headers=declarant)
    assert plain.status_code == 406, plain.text
    assert data["action"] == "acknowledged"
    assert (data["alarm"]["id"], data["alarm"]["status"]) == (alarm_id, "acknowledged")


async def test_unknown_alarm_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/v1/alarms/999999999", headers=await admin(http))).status_code == 404
    assert KRASNOYE  # the corridor's offices are set up by `world`
