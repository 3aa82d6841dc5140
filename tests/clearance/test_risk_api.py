"""/api/v1/risk-profiles over HTTP on each database: create, list, get, version, retire, refusals, audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.clearance.test_risk_facts import facts, item
from tests.conftest import Backend
from tests.support.builders import MINSK, MOSCOW, admin, ok, operator, user

from tamga.clearance import risk_service
from tamga.clearance.screening import Lane
from tamga.models import AuditRecord

URL = "/api/v1/risk-profiles"


def body(code: str | None = None, **overrides: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "name": "Phones from Antarctica at a low value per kg",
        "lane": "yellow",
        "measure": "Documentary check of the customs value",
        "conditions": [
            {"field": "hs_code", "op": "starts_with", "value": ["8517"]},
            # an origin no other test declares: the database is shared with every test of the run
            {"field": "origin", "op": "in", "value": ["AQ"]},
            {"field": "value_per_kg_usd", "op": "<", "value": "40"},
        ],
    }
    if code is not None:
        b["code"] = code
    b.update(overrides)
    return b


def code() -> str:
    return f"API-{uuid.uuid4().hex[:10].upper()}"


async def test_an_administrator_creates_versions_and_retires_a_profile(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    headers = await admin(http)
    c = code()
    created = ok(await http.post(URL, json=body(c), headers=headers), 201)
    assert created["code"] == c and len(created["versions"]) == 1
    assert created["in_force"]["version"] == 1 and created["in_force"]["lane"] == "yellow"
    assert created["in_force"]["conditions"][2] == {"field": "value_per_kg_usd", "op": "<", "value": "40"}

    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    versioned = ok(
        await http.post(f"{URL}/{c}/versions", json=body(lane="red", effective_from=later), headers=headers),
        201,
    )
    assert [v["version"] for v in versioned["versions"]] == [1, 2]
    assert versioned["in_force"]["version"] == 1  # version 2 is not in force yet
    assert versioned["versions"][0]["lane"] == "yellow"  # the old version is unchanged

    got = ok(await http.get(f"{URL}/{c}", headers=headers))
    assert got == versioned
    listed = ok(await http.get(URL, params={"limit": 200}, headers=headers))
    assert c in {p["code"] for p in listed["items"]}

    # a retirement before version 2 takes effect is refused, naming the field
    early = await http.post(f"{URL}/{c}/retire", json={"note": "superseded"}, headers=headers)
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "body.effective_from"
    end = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    retired = ok(
        await http.post(f"{URL}/{c}/retire", json={"note": "gone", "effective_from": end}, headers=headers)
    )
    assert [v["retired"] for v in retired["versions"]] == [False, False, True]
    assert retired["in_force"]["version"] == 1
    again = await http.post(
        f"{URL}/{c}/retire", json={"note": "twice", "effective_from": end}, headers=headers
    )
    assert again.status_code == 409

    async with backend.db.session() as session:
        rows = (
            await session.execute(
                select(AuditRecord.action).where(
                    AuditRecord.entity_type == "risk_profile", AuditRecord.entity_id == c
                )
            )
        ).scalars()
        assert sorted(rows) == ["risk_profile.create", "risk_profile.retire", "risk_profile.version"]


async def test_a_bad_condition_is_a_problem_naming_the_field(http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    bad = body(
        code(),
        lane="purple",
        conditions=[
            {"field": "colour", "op": "eq", "value": "red"},
            {"field": "origin", "op": "like", "value": ["CN"]},
            {"field": "value_per_kg_usd", "op": "<", "value": "cheap"},
            {"field": "origin", "op": "in", "value": ["CHN"]},
        ],
    )
    r = await http.post(URL, json=bad, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert "unknown field 'colour'" in fields["body.conditions[0].field"]
    assert "'like' is not an operator of origin" in fields["body.conditions[1].op"]
    assert fields["body.conditions[2].value"] == "must be a number"
    assert "'CHN' is not an ISO 3166-1 alpha-2 code" in fields["body.conditions[3].value[0]"]
    assert "not a lane" in fields["body.lane"]

    green = await http.post(URL, json=body(code(), lane="green"), headers=headers)
    assert green.status_code == 422 and green.json()["errors"][0]["field"] == "body.lane"
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    backdated = await http.post(URL, json=body(code(), effective_from=past), headers=headers)
    assert backdated.status_code == 422 and backdated.json()["errors"][0]["field"] == "body.effective_from"
    c = code()
    ok(await http.post(URL, json=body(c), headers=headers), 201)
    assert (await http.post(URL, json=body(c), headers=headers)).status_code == 409
    assert (await http.get(f"{URL}/NO-SUCH-PROFILE", headers=headers)).status_code == 404


async def test_officers_manage_only_their_states_profiles_and_declarants_see_none(
    http: httpx.AsyncClient,
) -> None:
    ru = await user(http, "customs_officer", country="RU", office_code=MOSCOW)
    by = await user(http, "customs_officer", country="BY", office_code=MINSK)
    declarant = await user(http, "declarant", operator_id=await operator(http, "RU"))

    union_wide = await http.post(URL, json=body(code()), headers=ru)
    assert union_wide.status_code == 403
    russian = body(code())
    russian["conditions"].append({"field": "state", "op": "in", "value": ["RU"]})
    created = ok(await http.post(URL, json=russian, headers=ru), 201)
    assert created["created_by"].startswith("user:")
    c = created["code"]
    assert (await http.post(f"{URL}/{c}/retire", json={"note": "no"}, headers=by)).status_code == 403
    assert ok(await http.get(f"{URL}/{c}", headers=by))["code"] == c  # officers read every profile
    assert (await http.get(URL, headers=declarant)).status_code == 403
    assert (await http.get(f"{URL}/{c}", headers=declarant)).status_code == 403
    ok(await http.post(f"{URL}/{c}/retire", json={"note": "done"}, headers=ru))


async def test_hostile_inputs_are_refused_not_crashed(http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    for path in ("/A%00B", "/abc", "/" + "A" * 41, "/%F0%9F%98%80", "/A%0A"):
        r = await http.get(URL + path, headers=headers)
        assert r.status_code in (404, 422), (path, r.status_code)
        r = await http.post(URL + path + "/retire", json={"note": "x"}, headers=headers)
        assert r.status_code in (404, 422), (path, r.status_code)
    junk: list[Any] = [
        None,
        [],
        [None],
        [[1, 2]],
        [{"field": ["hs_code"], "op": "starts_with", "value": ["85"]}],
        [{"field": "hs_code", "op": {"x": 1}, "value": ["85"]}],
        [{"field": "transit_alarms", "op": "any_in", "value": [["seal_opened"]]}],
        [{"field": "value_per_kg_usd", "op": "<", "value": "1e999999"}],
        [{"field": "value_per_kg_usd", "op": "<", "value": 1e308}],
        [{"field": "origin", "op": "in", "value": ["C\u0000"]}],
        [{"field": "hs_code", "op": "starts_with", "value": ["８５"]}],  # full-width digits
    ]
    for conditions in junk:
        r = await http.post(URL, json=body(code(), conditions=conditions), headers=headers)
        assert r.status_code == 422, (conditions, r.status_code, r.text)
    nul = await http.post(URL, json=body(code(), name="bad\u0000name"), headers=headers)
    assert nul.status_code == 422


async def test_administrators_set_the_random_selection_rates_from_a_date(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    headers = await admin(http)
    officer = await user(http, "customs_officer", country="RU", office_code=MOSCOW)
    rates_url = "/api/v1/risk-selection-rates"
    before = ok(await http.get(rates_url, headers=officer))
    assert set(before["in_force"]["rates"]) == {"red", "yellow", "blue"}

    # far in the future, so that no other test's declaration is screened under these rates
    start = datetime(2090, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 1000)
    body_ = {
        "rates": {"red": "1"},
        "aeo_rates": {"blue": "0.5"},
        "effective_from": start.isoformat(),
        "note": "everything to inspection",
    }
    assert (await http.post(rates_url, json=body_, headers=officer)).status_code == 403
    too_much = await http.post(
        rates_url, json=body_ | {"rates": {"red": "0.6", "yellow": "0.6"}}, headers=headers
    )
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "body.rates"
    made = ok(await http.post(rates_url, json=body_, headers=headers), 201)
    assert made["rates"] == {"red": "1", "yellow": "0", "blue": "0"}
    earlier = body_ | {"effective_from": (start - timedelta(days=1)).isoformat()}
    assert (await http.post(rates_url, json=earlier, headers=headers)).status_code == 422

    after = ok(await http.get(rates_url, headers=officer))
    assert after["in_force"] == before["in_force"]  # not yet in force
    assert after["history"][-1]["note"] == "everything to inspection"

    f = facts(item(hs_code="4202210000", origin="BV"), aeo=False, registered_at=start + timedelta(hours=1))
    async with backend.db.session() as session:
        decision = await risk_service.screen(session, f)
        await session.rollback()
    assert decision.lane is Lane.RED and decision.random_selected and decision.random_lane is Lane.RED
