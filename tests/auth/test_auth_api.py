"""Identity and access over HTTP, on every configured database: logins and their throttle, JWTs, API
keys, and the scope rules that decide who sees and does what with a movement."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update
from tests.conftest import Backend
from tests.support.builders import (
    BREST,
    MINSK,
    MOSCOW,
    PASSWORD,
    SMOLENSK,
    World,
    admin,
    declaration,
    ok,
    operator,
    tag,
    token,
    user,
    world,
)

from tamga.models import ApiKey, LoginThrottle, User

PROBLEM = "application/problem+json"


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


async def login(http: httpx.AsyncClient, username: str, password: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    r = await http.post("/api/v1/auth/token", data={"username": username, "password": password})
    return r, time.perf_counter() - started


async def new_login(http: httpx.AsyncClient) -> str:
    """Create a tax officer (no operator needed) and give the username; nobody has logged in as it."""
    name = f"login.{tag()}"
    body = {"username": name, "password": PASSWORD, "role": "tax_officer", "country": "RU"}
    ok(await http.post("/api/v1/users", json=body, headers=await admin(http)), 201)
    return name


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


# --- logging in -----------------------------------------------------------------------------------


async def test_login_gives_a_jwt_that_authenticates(http: httpx.AsyncClient, backend: Backend) -> None:
    name = await new_login(http)
    r, _ = await login(http, name, PASSWORD)
    body = ok(r)
    assert body["token_type"] == "bearer" and body["expires_in"] == backend.settings.jwt_ttl_minutes * 60
    claims = jwt.decode(
        body["access_token"],
        backend.settings.jwt_secret.get_secret_value(),
        algorithms=["HS256"],
        issuer=backend.settings.jwt_issuer,
    )
    assert claims["role"] == "tax_officer" and claims["sub"].startswith("user:")
    assert claims["exp"] > datetime.now(UTC).timestamp()

    me = ok(await http.get("/api/v1/auth/me", headers=bearer(body["access_token"])))
    assert me == {
        "subject": claims["sub"],
        "name": name,
        "role": "tax_officer",
        "country": "RU",
        "office_code": None,
        "operator_id": None,
    }


async def test_missing_forged_and_expired_tokens_are_401(http: httpx.AsyncClient, backend: Backend) -> None:
    r = await http.get("/api/v1/auth/me")
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    name = await new_login(http)
    me = ok(await http.get("/api/v1/auth/me", headers=await token(http, name)))
    settings = backend.settings
    now = datetime.now(UTC)
    good = {"sub": me["subject"], "iss": settings.jwt_issuer, "exp": now + timedelta(minutes=5)}
    secret = settings.jwt_secret.get_secret_value()
    # the same claims signed with the right secret do authenticate (so the refusals below are about the fault)
    ok(await http.get("/api/v1/auth/me", headers=bearer(jwt.encode(good, secret, algorithm="HS256"))))
    forged = [
        "not-a-jwt",
        jwt.encode(good, "another-secret-of-enough-length-123456", algorithm="HS256"),
        jwt.encode({**good, "exp": now - timedelta(minutes=1)}, secret, algorithm="HS256"),
        jwt.encode({**good, "iss": "someone-else"}, secret, algorithm="HS256"),
        jwt.encode({**good, "sub": "user:999999999"}, secret, algorithm="HS256"),
        jwt.encode({**good, "sub": "key:abc"}, secret, algorithm="HS256"),
    ]
    for credential in forged:
        problem(await http.get("/api/v1/auth/me", headers=bearer(credential)), 401)


async def test_wrong_password_is_401_problem(http: httpx.AsyncClient) -> None:
    name = await new_login(http)
    r, _ = await login(http, name, "not-the-password")
    body = problem(r, 401)
    assert body["type"].endswith("/unauthenticated") and "access_token" not in body
    r, _ = await login(http, name, PASSWORD)  # and the account still works
    ok(r)


async def _fail_until_locked(http: httpx.AsyncClient, backend: Backend, username: str) -> None:
    """Six wrong passwords: the first three at full speed, then slower each time, then locked out."""
    s = backend.settings
    assert (s.login_slowdown_after, s.login_lockout_after) == (3, 6)  # what the numbers below assume
    durations = []
    for _ in range(s.login_lockout_after):
        r, took = await login(http, username, "wrong-password-0")
        problem(r, 401)
        durations.append(took)
    waits = [min(s.login_slowdown_cap_s, s.login_slowdown_base_s * 2**n) for n in range(3)]  # .01 .02 .04
    for took, wait in zip(durations[3:], waits, strict=True):
        assert took >= wait * 0.9, (durations, waits)
    fastest_free = min(durations[:3])
    assert durations[5] - fastest_free >= waits[2] * 0.75, durations
    assert sum(durations[3:]) - 3 * fastest_free >= sum(waits) * 0.75, durations

    for password in (PASSWORD, "wrong-password-0"):  # locked: even the right password is refused
        r, _ = await login(http, username, password)
        body = problem(r, 429)
        assert body["type"].endswith("/too-many-attempts") and "access_token" not in body
        retry = int(r.headers["retry-after"])
        assert 0 < retry <= s.login_lockout_minutes * 60 + 1
        assert body["retry_after_s"] == retry


async def test_repeated_failures_are_slowed_then_locked_out(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    name = await new_login(http)
    await _fail_until_locked(http, backend, name)

    async with backend.db.session() as session:  # the lockout ends when its time is up
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.username == name)
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    r, _ = await login(http, name, PASSWORD)
    ok(r)
    async with backend.db.session() as session:  # and a success forgets the failures
        assert await session.get(LoginThrottle, name) is None


async def test_an_unknown_username_is_throttled_the_same_way(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    await _fail_until_locked(http, backend, f"nobody.{tag()}")


async def test_a_success_resets_the_count(http: httpx.AsyncClient) -> None:
    name = await new_login(http)
    for _ in range(5):
        problem((await login(http, name, "wrong-password-0"))[0], 401)
    ok((await login(http, name, PASSWORD))[0])
    for _ in range(5):  # five more: without the reset, the sixth failure in a row would have locked it
        problem((await login(http, name, "wrong-password-0"))[0], 401)
    ok((await login(http, name, PASSWORD))[0])


async def test_failures_of_one_username_do_not_lock_another(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    victim, bystander = await new_login(http), await new_login(http)
    await _fail_until_locked(http, backend, victim)
    ok((await login(http, bystander, PASSWORD))[0])


# --- API keys -------------------------------------------------------------------------------------


async def test_api_key_authenticates_as_a_bearer_token(http: httpx.AsyncClient, backend: Backend) -> None:
    body = {
        "name": f"brest-gateway-{tag()}",
        "role": "customs_officer",
        "country": "BY",
        "office_code": BREST,
    }
    created = ok(await http.post("/api/v1/api-keys", json=body, headers=await admin(http)), 201)
    key = created["key"]
    assert key.startswith(f"tmg_{created['prefix']}_") and created["role"] == "customs_officer"

    me = ok(await http.get("/api/v1/auth/me", headers=bearer(key)))
    assert me["subject"] == f"key:{created['prefix']}" and me["name"] == body["name"]
    assert (me["role"], me["country"], me["office_code"]) == ("customs_officer", "BY", BREST)
    ok(await http.get("/api/v1/movements", headers=bearer(key)))

    async with backend.db.session() as session:  # only the hash is kept
        row = (await session.execute(select(ApiKey).where(ApiKey.prefix == created["prefix"]))).scalar_one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in (row.key_hash, row.prefix, row.name)

    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    garbage = ["tmg_", "tmg_nothing", f"tmg_{created['prefix']}", wrong_secret, f"tmg_{'0' * 12}_{key[-20:]}"]
    for credential in garbage:
        problem(await http.get("/api/v1/auth/me", headers=bearer(credential)), 401)

    async with backend.db.session() as session:  # revoked
        await session.execute(update(ApiKey).where(ApiKey.prefix == created["prefix"]).values(active=False))
        await session.commit()
    problem(await http.get("/api/v1/auth/me", headers=bearer(key)), 401)
    problem(await http.get("/api/v1/movements", headers=bearer(key)), 401)


async def test_api_key_scope_is_checked(http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    cases = [
        ({"role": "declarant"}, "body.operator_id"),
        ({"role": "declarant", "operator_id": 10**12}, "body.operator_id"),  # no such operator
        ({"role": "customs_officer", "country": "RU", "office_code": BREST}, "body.office_code"),
        ({"role": "tax_officer"}, "body.country"),
    ]
    for scope, field in cases:
        r = await http.post("/api/v1/api-keys", json={"name": "k", **scope}, headers=headers)
        body = problem(r, 422)
        assert field in [e["field"] for e in body["errors"]], body


async def test_only_an_administrator_creates_users_and_keys(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    holder = await operator(http)
    callers = [
        await user(http, "declarant", operator_id=holder),
        await user(http, "customs_officer", country="BY", office_code=BREST),
        await user(http, "tax_officer", country="RU"),
    ]
    name = f"intruder.{tag()}"
    for headers in callers:
        body = {"username": name, "password": PASSWORD, "role": "administrator"}
        problem(await http.post("/api/v1/users", json=body, headers=headers), 403)
        key = {"name": name, "role": "administrator"}
        problem(await http.post("/api/v1/api-keys", json=key, headers=headers), 403)
    problem(await http.post("/api/v1/users", json=body), 401)
    async with backend.db.session() as session:
        users = await session.execute(select(func.count()).select_from(User).where(User.username == name))
        keys = await session.execute(select(func.count()).select_from(ApiKey).where(ApiKey.name == name))
        assert users.scalar_one() == 0 and keys.scalar_one() == 0


# --- scope of movements ---------------------------------------------------------------------------


@dataclass
class Scene:
    w: World
    crossing: dict[str, Any]  # Brest (BY) -> Moscow (RU), accepted: it has its MRN
    domestic: dict[str, Any]  # Smolensk -> Moscow, Russia only, lodged
    other_declarant: dict[str, str]
    other_carrier: dict[str, str]
    tax_officer: dict[str, str]


@pytest.fixture(scope="module")
async def scene(base_url: str) -> AsyncIterator[Scene]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        w = await world(http, seals=2)
        m = ok(await http.post("/api/v1/movements", json=declaration(w), headers=w.declarant), 201)
        crossing = ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
        domestic_body = declaration(
            w,
            seals=w.seals[1:2],
            departure_office=SMOLENSK,
            transit_offices=[],
            itinerary=[{"office_code": SMOLENSK}, {"office_code": MOSCOW}],
        )
        domestic = ok(await http.post("/api/v1/movements", json=domestic_body, headers=w.declarant), 201)
        other_declarant = await user(http, "declarant", operator_id=await operator(http, "BY"))
        other_carrier = await user(http, "carrier", operator_id=await operator(http, carrier=True))
        tax_officer = await user(http, "tax_officer", country="RU")
        yield Scene(w, crossing, domestic, other_declarant, other_carrier, tax_officer)


async def visible_ids(http: httpx.AsyncClient, headers: dict[str, str]) -> set[int]:
    """Every movement id the caller's listing gives, across pages."""
    ids: set[int] = set()
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = ok(await http.get("/api/v1/movements", params=params, headers=headers))
        ids |= {m["id"] for m in page["items"]}
        if not page["next_cursor"]:
            return ids
        params["cursor"] = page["next_cursor"]


def refs(m: dict[str, Any]) -> list[str]:
    """Every way to name a movement in a URL: its id, and its MRN (as issued and lower case)."""
    out = [str(m["id"])]
    if m.get("mrn"):
        out += [m["mrn"], m["mrn"].lower()]
    return out


async def assert_hidden(http: httpx.AsyncClient, headers: dict[str, str], m: dict[str, Any]) -> None:
    assert m["id"] not in await visible_ids(http, headers)
    for ref in refs(m):
        for path in (f"/api/v1/movements/{ref}", f"/api/v1/movements/{ref}/document"):
            body = problem(await http.get(path, headers=headers), 404)
            assert body["detail"] == f"no movement {ref}"


async def assert_visible(http: httpx.AsyncClient, headers: dict[str, str], m: dict[str, Any]) -> None:
    assert m["id"] in await visible_ids(http, headers)
    for ref in refs(m):
        assert ok(await http.get(f"/api/v1/movements/{ref}", headers=headers))["id"] == m["id"]


async def test_scene_is_what_the_scope_tests_assume(http: httpx.AsyncClient, scene: Scene) -> None:
    assert scene.crossing["status"] == "accepted" and scene.crossing["mrn"]
    assert scene.domestic["status"] == "lodged" and scene.domestic["mrn"] is None
    assert (scene.domestic["departure_office"], scene.domestic["destination_office"]) == (SMOLENSK, MOSCOW)
    assert scene.domestic["transit_offices"] == []


async def test_a_declarant_sees_only_its_own_movements(http: httpx.AsyncClient, scene: Scene) -> None:
    mine = await visible_ids(http, scene.w.declarant)
    assert {scene.crossing["id"], scene.domestic["id"]} <= mine
    await assert_visible(http, scene.w.declarant, scene.crossing)
    assert await visible_ids(http, scene.other_declarant) == set()  # it has lodged nothing
    for m in (scene.crossing, scene.domestic):
        await assert_hidden(http, scene.other_declarant, m)


async def test_someone_elses_movement_reads_exactly_as_one_that_does_not_exist(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    other = scene.other_declarant
    real = await http.get(f"/api/v1/movements/{scene.crossing['id']}", headers=other)
    guessed_id = str(scene.crossing["id"] + 10**9)
    mrn = scene.crossing["mrn"]
    never_issued = mrn[:-1] + str((int(mrn[-1]) + 1) % 10)
    for guess in (guessed_id, "0", "1", never_issued, "not-a-reference"):
        r = await http.get(f"/api/v1/movements/{guess}", headers=other)
        body = problem(r, 404)
        assert body.keys() == real.json().keys() and body["detail"] == f"no movement {guess}"
    assert real.json()["detail"] == f"no movement {scene.crossing['id']}"
    # acting on it reads as not found too (not 403, which would tell it exists)
    for ref in refs(scene.crossing):
        note = {"note": "not mine"}
        problem(await http.post(f"/api/v1/movements/{ref}/invalidate", json=note, headers=other), 404)
        problem(await http.post(f"/api/v1/movements/{ref}/accept", headers=other), 404)
    # and its guarantee as well
    problem(await http.get(f"/api/v1/guarantees/{scene.w.grn}", headers=other), 404)
    ok(await http.get(f"/api/v1/guarantees/{scene.w.grn}", headers=scene.w.declarant))


async def test_a_carrier_sees_the_movements_it_carries(http: httpx.AsyncClient, scene: Scene) -> None:
    await assert_visible(http, scene.w.carrier, scene.crossing)
    await assert_visible(http, scene.w.carrier, scene.domestic)
    for m in (scene.crossing, scene.domestic):
        await assert_hidden(http, scene.other_carrier, m)


async def test_customs_officers_see_movements_touching_their_state(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    minsk = scene.w.officer(MINSK)  # Belarus, but on neither route
    await assert_visible(http, minsk, scene.crossing)  # Brest and Redki are in Belarus
    await assert_hidden(http, minsk, scene.domestic)  # Smolensk -> Moscow never enters Belarus
    await assert_visible(http, scene.w.officer(SMOLENSK), scene.domestic)
    await assert_visible(http, scene.w.officer(MOSCOW), scene.crossing)
    # an officer who cannot see a movement cannot act on it either, and is told it does not exist
    problem(await http.post(f"/api/v1/movements/{scene.domestic['id']}/accept", headers=minsk), 404)


async def test_a_tax_officer_sees_no_movements(http: httpx.AsyncClient, scene: Scene) -> None:
    assert await visible_ids(http, scene.tax_officer) == set()
    for m in (scene.crossing, scene.domestic):
        await assert_hidden(http, scene.tax_officer, m)


async def test_seeing_a_movement_is_not_leave_to_act_on_it(http: httpx.AsyncClient, scene: Scene) -> None:
    w, ref = scene.w, str(scene.domestic["id"])
    for headers in (w.declarant, w.carrier):  # businesses may not accept
        body = problem(await http.post(f"/api/v1/movements/{ref}/accept", headers=headers), 403)
        assert body["type"].endswith("/forbidden")
    mrn = scene.crossing["mrn"]
    for office in (MOSCOW, MINSK):  # officers who see it, but not at the office of departure
        r = await http.post(f"/api/v1/movements/{mrn}/release", json={}, headers=w.officer(office))
        assert BREST in problem(r, 403)["detail"]
    problem(await http.post(f"/api/v1/movements/{mrn}/release", json={}, headers=w.declarant), 403)
    assert ok(await http.get(f"/api/v1/movements/{mrn}", headers=w.declarant))["status"] == "accepted"
    assert ok(await http.get(f"/api/v1/movements/{ref}", headers=w.declarant))["status"] == "lodged"
