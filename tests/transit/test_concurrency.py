"""Races over HTTP, on every configured database: requests fired at the same time by real concurrent
clients against the live server, and the invariants that must hold whoever wins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import Backend
from tests.support.builders import (
    BREST,
    World,
    declaration,
    guarantee,
    ok,
    seal,
    world,
)

from tamga.audit import repository as audit_repo
from tamga.audit import service as audit
from tamga.audit.domain import record_hash
from tamga.models import Movement
from tamga.transit import repository
from tamga.transit.mrn import is_valid_mrn

PROBLEM = "application/problem+json"
ROUNDS = 5

Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@pytest.fixture(scope="module")
async def w(base_url: str) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        yield await world(client, seals=0)


async def race(base_url: str, shared: httpx.AsyncClient | None, *sends: Send) -> list[httpx.Response]:
    """Fire the requests at once: over one shared client (a connection each from its pool) or, when
    `shared` is None, each from its own client."""
    if shared is not None:
        return list(await asyncio.gather(*(send(shared) for send in sends)))
    clients = [httpx.AsyncClient(base_url=base_url, timeout=60) for _ in sends]
    try:
        return list(await asyncio.gather(*(send(c) for send, c in zip(sends, clients, strict=True))))
    finally:
        for c in clients:
            await c.aclose()


def post(path: str, headers: dict[str, str], body: Any = None) -> Send:
    def send(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
        return client.post(path, json=body, headers=headers)

    return send


async def accepted_movement(
    http: httpx.AsyncClient, w: World, grn: str, access_code: str, seals: list[str] | None = None
) -> dict[str, Any]:
    """A movement with its own fresh seal (or the given ones), drawing on the given guarantee, lodged and
    accepted."""
    seals = seals or [await seal(http, w.carrier)]
    body = declaration(w, seals=seals, guarantee={"grn": grn, "access_code": access_code})
    m = ok(await http.post("/api/v1/movements", json=body, headers=w.declarant), 201)
    return ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))


async def stake_of_one(http: httpx.AsyncClient, w: World) -> Decimal:
    """What one standard declaration draws on a RUB guarantee today (lodged, never released)."""
    body = declaration(w, seals=[await seal(http, w.carrier)])
    m = ok(await http.post("/api/v1/movements", json=body, headers=w.declarant), 201)
    amount = Decimal(m["reserved_amount"])
    assert amount > 0
    return amount


async def race_releases(
    base_url: str, shared: httpx.AsyncClient | None, w: World, *movements: dict[str, Any]
) -> list[httpx.Response]:
    """Release the movements at once (`race`), as the office of departure."""
    return await race(
        base_url,
        shared,
        *(post(f"/api/v1/movements/{m['mrn']}/release", w.officer(BREST), {}) for m in movements),
    )


def assert_one_winner(
    responses: list[httpx.Response], loser_type: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [f"{r.status_code}: {r.text}" for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.headers["content-type"].startswith(PROBLEM)
    problem = loser.json()
    assert problem["type"].endswith(f"/{loser_type}"), problem
    return winner.json(), problem


# --- two releases, one guarantee ------------------------------------------------------------------


@pytest.mark.parametrize("clients", ["shared", "separate"])
async def test_concurrent_releases_on_a_guarantee_that_covers_one(
    http: httpx.AsyncClient, base_url: str, w: World, clients: str
) -> None:
    stake = await stake_of_one(http, w)
    for _ in range(ROUNDS):
        reference = (stake * 3 / 2).quantize(Decimal("0.01"))  # covers one movement, not two
        grn, code = await guarantee(http, w.holder_id, str(reference))
        a = await accepted_movement(http, w, grn, code)
        b = await accepted_movement(http, w, grn, code)
        assert Decimal(a["reserved_amount"]) == Decimal(b["reserved_amount"]) == stake

        responses = await race_releases(base_url, http if clients == "shared" else None, w, a, b)
        won, problem = assert_one_winner(responses, "guarantee-balance")
        assert won["status"] == "released" and won["seals"][0]["status"] == "armed"
        assert Decimal(problem["needed"]) == stake
        assert Decimal(problem["balance"]) == reference - stake

        g = ok(await http.get(f"/api/v1/guarantees/{grn}", headers=w.declarant))
        assert Decimal(g["reserved_amount"]) == stake
        assert Decimal(g["balance"]) == reference - stake
        lost_ref = b["mrn"] if won["mrn"] == a["mrn"] else a["mrn"]
        lost = ok(await http.get(f"/api/v1/movements/{lost_ref}", headers=w.declarant))
        assert lost["status"] == "accepted" and lost["released_at"] is None and lost["time_limit"] is None
        assert lost["seals"][0]["status"] != "armed"
        assert [e["kind"] for e in lost["events"]] == ["lodged", "accepted"]


async def test_concurrent_releases_on_an_individual_guarantee(
    http: httpx.AsyncClient, base_url: str, w: World
) -> None:
    """An individual guarantee serves one movement, however large its amount."""
    stake = await stake_of_one(http, w)
    for _ in range(2):
        grn, code = await guarantee(http, w.holder_id, str(stake * 10), kind="individual")
        a = await accepted_movement(http, w, grn, code)
        b = await accepted_movement(http, w, grn, code)
        responses = await race_releases(base_url, None, w, a, b)
        assert_one_winner(responses, "guarantee-balance")
        g = ok(await http.get(f"/api/v1/guarantees/{grn}", headers=w.declarant))
        assert Decimal(g["reserved_amount"]) == stake


# --- two accepts, one movement; MRNs never repeat -------------------------------------------------


async def test_concurrent_accepts(http: httpx.AsyncClient, base_url: str, backend: Backend, w: World) -> None:
    for _ in range(3):
        lodged = []
        for _ in range(5):
            body = declaration(w, seals=[await seal(http, w.carrier)])
            lodged.append(ok(await http.post("/api/v1/movements", json=body, headers=w.declarant), 201))
        twice = lodged[0]["id"]
        sends = [post(f"/api/v1/movements/{twice}/accept", w.officer(BREST)) for _ in range(2)]
        sends += [post(f"/api/v1/movements/{m['id']}/accept", w.officer(BREST)) for m in lodged[1:]]
        responses = await race(base_url, None, *sends)

        won, problem = assert_one_winner(responses[:2], "illegal-transition")
        assert problem["allowed_from"] == ["lodged"] and problem["current_status"] == "accepted"
        others = [ok(r) for r in responses[2:]]
        mrns = [won["mrn"], *(m["mrn"] for m in others)]
        assert all(is_valid_mrn(mrn) for mrn in mrns)
        assert len(set(mrns)) == len(mrns) == 5
        assert len({int(mrn[12:17], 36) for mrn in mrns}) == 5  # serials, not just check digits, differ
        registrations = [won["registration_number"], *(m["registration_number"] for m in others)]
        assert len(set(registrations)) == 5

        again = ok(await http.get(f"/api/v1/movements/{twice}", headers=w.declarant))
        assert again["mrn"] == won["mrn"]
        assert [e["kind"] for e in again["events"]] == ["lodged", "accepted"]

    async with backend.db.session() as session:
        total, distinct = (
            await session.execute(select(func.count(Movement.mrn), func.count(func.distinct(Movement.mrn))))
        ).one()
    assert total == distinct > 0


async def production_tokens(
    http: httpx.AsyncClient, backend: Backend, w: World, mp: pytest.MonkeyPatch
) -> None:
    """Resolve tokens from the principal cache, as in production, so that no query (and no transaction)
    comes before a step's own: on PostgreSQL a lodging, an acceptance and a release then each write in one
    statement, alone (the tests' default is no cache, which makes every request read its user first)."""
    mp.setattr(backend.settings, "principal_cache_seconds", 60.0)
    for headers in (w.declarant, w.officer(BREST)):
        ok(await http.get("/api/v1/movements?limit=1", headers=headers))


def assert_hashed(records: list[Any]) -> None:
    """Each record's hash is what `tamga audit verify` recomputes from its fields and link."""
    for r in records:
        assert r.hash == record_hash(audit.entry_of(r), r.prev_hash)


async def test_an_acceptance_that_loses_the_race_writes_nothing(
    http: httpx.AsyncClient, backend: Backend, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL an acceptance locks nothing and begins no transaction: another acceptance can win
    between its read and its write. Made to happen here (the other runs while the first draws its
    serials): the loser is refused as the movement now stands, and writes no event, MRN or audit record.
    The lodging before it is one statement without a transaction too, with its audit record."""
    if backend.kind == "sqlite":
        pytest.skip("SQLite's acceptance holds the one writer's lock from its read: no other can win")
    body = declaration(w, seals=[await seal(http, w.carrier)])
    await production_tokens(http, backend, w, monkeypatch)
    ref = str(ok(await http.post("/api/v1/movements", json=body, headers=w.declarant), 201)["id"])
    draw = repository.allocate_counters
    won: list[dict[str, Any]] = []

    async def overtaken(session: AsyncSession, *names: str) -> dict[str, int]:
        monkeypatch.setattr(repository, "allocate_counters", draw)  # the winner draws as usual
        won.append(ok(await http.post(f"/api/v1/movements/{ref}/accept", headers=w.officer(BREST))))
        return await draw(session, *names)

    monkeypatch.setattr(repository, "allocate_counters", overtaken)
    lost = await http.post(f"/api/v1/movements/{ref}/accept", headers=w.officer(BREST))
    assert lost.status_code == 409 and lost.headers["content-type"].startswith(PROBLEM), lost.text
    problem = lost.json()
    assert problem["type"].endswith("/illegal-transition") and problem["current_status"] == "accepted"
    movement = ok(await http.get(f"/api/v1/movements/{ref}", headers=w.declarant))
    assert movement["mrn"] == won[0]["mrn"]
    assert [e["kind"] for e in movement["events"]] == ["lodged", "accepted"]
    async with backend.db.session() as session:
        records = await audit_repo.for_entity(session, "movement", ref)
    assert [r.action for r in records] == ["movement.lodge", "movement.accept"]
    assert records[1].after is not None and records[1].after["mrn"] == won[0]["mrn"]
    assert_hashed(records)


async def test_concurrent_releases_without_a_transaction(
    http: httpx.AsyncClient, base_url: str, backend: Backend, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race above as production runs it: each release reads and writes without a transaction, and
    its one statement finds the guarantee's balance as the other left it."""
    await production_tokens(http, backend, w, monkeypatch)
    stake = await stake_of_one(http, w)
    for _ in range(ROUNDS):
        reference = (stake * 3 / 2).quantize(Decimal("0.01"))
        grn, code = await guarantee(http, w.holder_id, str(reference))
        a = await accepted_movement(http, w, grn, code)
        b = await accepted_movement(http, w, grn, code)
        responses = await race_releases(base_url, None, w, a, b)
        won, problem = assert_one_winner(responses, "guarantee-balance")
        assert Decimal(problem["balance"]) == reference - stake
        g = ok(await http.get(f"/api/v1/guarantees/{grn}", headers=w.declarant))
        assert Decimal(g["reserved_amount"]) == stake
        lost_ref = b["mrn"] if won["mrn"] == a["mrn"] else a["mrn"]
        await assert_release_left_nothing(http, backend, w, lost_ref)


async def assert_release_left_nothing(http: httpx.AsyncClient, backend: Backend, w: World, ref: str) -> None:
    """The movement is as accepted: no release columns, event, armed seal or audit record."""
    lost = ok(await http.get(f"/api/v1/movements/{ref}", headers=w.declarant))
    assert lost["status"] == "accepted" and lost["released_at"] is None and lost["time_limit"] is None
    assert all(s["status"] != "armed" for s in lost["seals"])
    assert [e["kind"] for e in lost["events"]] == ["lodged", "accepted"]
    async with backend.db.session() as session:
        records = await audit_repo.for_entity(session, "movement", str(lost["id"]))
    assert [r.action for r in records] == ["movement.lodge", "movement.accept"]


@pytest.mark.parametrize("overtaker", ["same movement", "same seal", "same guarantee"])
async def test_a_release_overtaken_between_its_read_and_its_write(
    http: httpx.AsyncClient, backend: Backend, w: World, monkeypatch: pytest.MonkeyPatch, overtaker: str
) -> None:
    """On PostgreSQL a release locks nothing and begins no transaction: between its read and its one
    write, another release can win. Made to happen here (the other runs as the first comes to write):
    the release of the same movement, of another movement declaring the same seal, or of another
    movement on a guarantee that covers one. The loser is refused (as the movement now stands, naming the
    seal, or the balance) and writes nothing; the winner's records hash right."""
    if backend.kind == "sqlite":
        pytest.skip("SQLite's release holds the one writer's lock from its read: no other can win")
    await production_tokens(http, backend, w, monkeypatch)
    stake = await stake_of_one(http, w)
    grn, code = await guarantee(http, w.holder_id, str((stake * 3 / 2).quantize(Decimal("0.01"))))
    shared_seal = await seal(http, w.carrier)
    first = await accepted_movement(http, w, grn, code, seals=[shared_seal])
    if overtaker == "same movement":
        other = first
    else:
        seals = [shared_seal] if overtaker == "same seal" else [await seal(http, w.carrier)]
        other = await accepted_movement(http, w, grn, code, seals=seals)
    write = repository.write_movement
    won: list[dict[str, Any]] = []

    async def overtaken(*args: Any, **kw: Any) -> None:
        monkeypatch.setattr(repository, "write_movement", write)  # the winner writes as usual
        release = f"/api/v1/movements/{other['mrn']}/release"
        won.append(ok(await http.post(release, json={}, headers=w.officer(BREST))))
        await write(*args, **kw)

    monkeypatch.setattr(repository, "write_movement", overtaken)
    lost = await http.post(f"/api/v1/movements/{first['mrn']}/release", json={}, headers=w.officer(BREST))
    assert lost.status_code == 409 and lost.headers["content-type"].startswith(PROBLEM), lost.text
    problem = lost.json()
    if overtaker == "same movement":
        assert problem["type"].endswith("/illegal-transition") and problem["current_status"] == "released"
        movement = ok(await http.get(f"/api/v1/movements/{first['mrn']}", headers=w.declarant))
        assert [e["kind"] for e in movement["events"]] == ["lodged", "accepted", "released"]
        async with backend.db.session() as session:
            records = await audit_repo.for_entity(session, "movement", str(first["id"]))
        assert [r.action for r in records] == ["movement.lodge", "movement.accept", "movement.release"]
        assert_hashed(records)
    else:
        if overtaker == "same seal":
            assert problem["type"].endswith("/conflict"), problem
            assert problem["errors"] == [
                {"field": "seals[0]", "reason": f"seal {shared_seal} cannot be armed: armed"}
            ]
        else:
            assert problem["type"].endswith("/guarantee-balance"), problem
            assert Decimal(problem["needed"]) == stake
        await assert_release_left_nothing(http, backend, w, first["mrn"])
    g = ok(await http.get(f"/api/v1/guarantees/{grn}", headers=w.declarant))
    assert Decimal(g["reserved_amount"]) == stake  # the winner's, once
    assert won[0]["status"] == "released"


# --- lodging twice at once ------------------------------------------------------------------------


async def movements_with_lrn(backend: Backend, holder_id: int, lrn: str) -> int:
    async with backend.db.session() as session:
        stmt = (
            select(func.count())
            .select_from(Movement)
            .where(Movement.holder_id == holder_id, Movement.lrn == lrn)
        )
        return int(await session.scalar(stmt) or 0)


async def test_concurrent_lodging_with_one_idempotency_key(
    http: httpx.AsyncClient, base_url: str, backend: Backend, w: World
) -> None:
    body = declaration(w, seals=[await seal(http, w.carrier)])
    for round_ in range(3):
        body = {**body, "lrn": f"IDEM-{uuid.uuid4().hex[:10]}"}
        headers = {**w.declarant, "Idempotency-Key": f"lodge-{uuid.uuid4()}"}
        responses = await race(
            base_url,
            http if round_ == 0 else None,
            *[post("/api/v1/movements", headers, body) for _ in range(4)],
        )
        fresh = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
        assert len(fresh) == 1, [f"{r.status_code} {dict(r.headers)}: {r.text}" for r in responses]
        original = fresh[0]
        for r in responses:
            if r is original:
                continue
            if r.status_code == 201:  # the first had finished: its outcome, replayed
                assert r.headers["idempotent-replayed"] == "true" and r.content == original.content
            else:  # still in flight
                assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM), r.text
        assert await movements_with_lrn(backend, w.holder_id, body["lrn"]) == 1

        retry = await http.post("/api/v1/movements", json=body, headers=headers)
        assert retry.status_code == 201
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.content == original.content
        assert retry.json()["id"] == original.json()["id"]

        different = {**body, "lrn": body["lrn"] + "X"}
        r = await http.post("/api/v1/movements", json=different, headers=headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
        assert [e["field"] for e in r.json()["errors"]] == ["header.Idempotency-Key"]
        assert await movements_with_lrn(backend, w.holder_id, different["lrn"]) == 0
        assert await movements_with_lrn(backend, w.holder_id, body["lrn"]) == 1


async def test_concurrent_lodging_of_one_lrn_without_a_key(
    http: httpx.AsyncClient, base_url: str, backend: Backend, w: World
) -> None:
    """Without an Idempotency-Key the LRN still decides: one movement, the other told 409, never a 500."""
    body = declaration(w, seals=[await seal(http, w.carrier)])
    for _ in range(ROUNDS):
        body = {**body, "lrn": f"DUP-{uuid.uuid4().hex[:10]}"}
        responses = await race(
            base_url, None, *[post("/api/v1/movements", w.declarant, body) for _ in range(2)]
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409], [f"{r.status_code}: {r.text}" for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.headers["content-type"].startswith(PROBLEM)
        assert [e["field"] for e in loser.json()["errors"]] == ["body.lrn"]
        assert await movements_with_lrn(backend, w.holder_id, body["lrn"]) == 1
