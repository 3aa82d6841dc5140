"""Property-based fuzzing of the whole HTTP API with schemathesis, from the live OpenAPI of the running
test server, as an administrator, a declarant and a customs officer: no request may make it fail (5xx).

Runs on every configured database (PostgreSQL refuses inputs SQLite takes, such as NUL characters).
The run is bounded (examples per operation) and seeded; set TAMGA_FUZZ_SEED to another number, or to
`random`, to explore further, and TAMGA_FUZZ_EXAMPLES to go deeper.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from tests.support.builders import BREST, KRASNOYE, MOSCOW, REDKI, World, admin, declaration, ok, tag, world

from tamga.parties import synthetic

SEED_ENV = os.environ.get("TAMGA_FUZZ_SEED", "20250301")
SEED = random.randrange(2**32) if SEED_ENV == "random" else int(SEED_ENV)
EXAMPLES = int(os.environ.get("TAMGA_FUZZ_EXAMPLES", "12"))


@dataclass
class Outcome:
    """What one schemathesis run saw: operations exercised, cases sent, failures and engine errors."""

    tested: set[str] = field(default_factory=set)
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def report(self) -> str:
        return "\n\n".join([*self.failures, *self.errors])


def fuzz(
    base_url: str,
    headers: dict[str, str],
    *,
    examples: int,
    phases: list[str],
    dictionaries: dict[str, list[Any]] | None = None,
    bindings: dict[str, str] | None = None,
    schema_url: str | None = None,
) -> Outcome:
    """Run schemathesis (blocking: call it off the event loop that serves the API) with the 5xx check."""
    dictionaries = {name: values for name, values in (dictionaries or {}).items() if values}
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "workers": 1,
            "base-url": base_url,
            "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
            "generation": {"max-examples": examples, "database": "none", "allow-x00": True},
            "phases": {
                name: {"enabled": name in phases} for name in ("examples", "coverage", "fuzzing", "stateful")
            },
            "dictionaries": {name: {"values": values} for name, values in dictionaries.items()},
            "parameters": {
                key: {"dictionary": name, "probability": 0.4}
                for key, name in (bindings or {}).items()
                if name in dictionaries
            },
            "request-timeout": 30,
        }
    )
    schema = schemathesis.openapi.from_url(schema_url or f"{base_url}/openapi.json", config=config)
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            outcome.cases += len(event.recorder.cases)
            if event.label and event.status in (Status.SUCCESS, Status.FAILURE):
                outcome.tested.add(event.label)
            if event.status is Status.FAILURE:
                for case_id, checks in event.recorder.checks.items():
                    interaction = event.recorder.interactions.get(case_id)
                    response = interaction.response if interaction else None
                    status = response.status_code if response else "no response"
                    for check in checks:
                        if check.failure_info is not None:
                            failure = check.failure_info.failure
                            outcome.failures.append(
                                f"[{event.phase.value}] {event.label}: {failure.title} ({status})\n"
                                f"{failure.message}\n{check.failure_info.code_sample}"
                            )
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"[error] {event.label}: {event.value!r}\n{event.info.code_sample or ''}")
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"[fatal] {event.exception!r}")
    return outcome


# --- the harness reports a server error (so the real run below can fail) ---------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_harness_reports_a_server_error() -> None:
    broken = FastAPI()

    @broken.get("/things/{n}")
    async def thing(n: int) -> dict[str, int]:
        if n > 10:
            raise RuntimeError("boom")
        return {"n": n}

    @broken.get("/fine")
    async def fine() -> dict[str, str]:
        return {"ok": "yes"}

    async with serve(broken) as url:
        outcome = await asyncio.to_thread(fuzz, url, {}, examples=20, phases=["coverage", "fuzzing"])
    assert outcome.tested == {"GET /things/{n}", "GET /fine"}
    assert any("GET /things/{n}: Server error (500)" in f for f in outcome.failures), outcome.report()
    assert not any("GET /fine" in f for f in outcome.failures)


# --- the platform ---------------------------------------------------------------------------------


@dataclass
class Callers:
    admin: dict[str, str]
    declarant: dict[str, str]
    officer: dict[str, str]  # at Brest, the office of departure
    world: World
    released: dict[str, Any]  # a movement under way
    declaration: dict[str, Any]  # one the declarant could lodge
    dictionaries: dict[str, list[Any]]


BINDINGS = {
    "path.ref": "refs",
    "path.grn": "grns",
    "path.operator_id": "operators",
    "path.code": "hs",
    "body.holder_id": "operators",
    "body.carrier_id": "carriers",
    "body.operator_id": "operators",
    "body.office_code": "offices",
    "body.departure_office": "offices",
    "body.destination_office": "offices",
    "body.transit_offices[*]": "offices",
    "body.seals[*]": "seals",
    "body.new_seals[*]": "seals",
    "body.seal_serial": "seals",
    "body.guarantee.grn": "grns",
    "body.items[*].hs_code": "hs",
}


@pytest.fixture(scope="module")
async def callers(base_url: str) -> AsyncIterator[Callers]:
    """Who fuzzes, movements in several states, and real identifiers to mix into what is generated."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        w = await world(http, seals=5)
        post = http.post
        lodged = ok(
            await post("/api/v1/movements", json=declaration(w, seals=w.seals[0:1]), headers=w.declarant), 201
        )
        m = ok(
            await post("/api/v1/movements", json=declaration(w, seals=w.seals[1:2]), headers=w.declarant), 201
        )
        accepted = ok(await post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
        m = ok(
            await post("/api/v1/movements", json=declaration(w, seals=w.seals[2:3]), headers=w.declarant), 201
        )
        ok(await post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
        released = ok(await post(f"/api/v1/movements/{m['id']}/release", json={}, headers=w.officer(BREST)))
        dictionaries: dict[str, list[Any]] = {
            "refs": [str(lodged["id"]), str(accepted["id"]), accepted["mrn"], released["mrn"]],
            "grns": [w.grn],
            "operators": [w.holder_id, w.carrier_id],
            "carriers": [w.carrier_id],
            "offices": [BREST, MOSCOW, REDKI, KRASNOYE],
            "seals": w.seals,
            "hs": ["8471300000", "080810"],
        }
        lodgeable = declaration(w, seals=w.seals[3:4])
        yield Callers(await admin(http), w.declarant, w.officer(BREST), w, released, lodgeable, dictionaries)


async def test_no_request_makes_the_server_fail(base_url: str, callers: Callers) -> None:
    runs = [  # the administrator last: its run may deactivate the others' accounts (POST /users/{id}/...)
        ("declarant", callers.declarant, max(1, EXAMPLES // 2), ["coverage", "fuzzing"]),
        ("customs officer", callers.officer, max(1, EXAMPLES // 2), ["coverage", "fuzzing"]),
        ("administrator", callers.admin, EXAMPLES, ["coverage", "fuzzing", "stateful"]),
    ]
    problems: list[str] = []
    async with httpx.AsyncClient(base_url=base_url) as http:
        operations = {
            f"{method.upper()} {path}"
            for path, ops in ok(await http.get("/openapi.json"))["paths"].items()
            for method in ops
        }
    assert len(operations) >= 30
    for who, headers, examples, phases in runs:
        started = time.perf_counter()
        outcome = await asyncio.to_thread(
            fuzz,
            base_url,
            headers,
            examples=examples,
            phases=phases,
            dictionaries=callers.dictionaries,
            bindings=BINDINGS,
        )
        print(f"{who}: {outcome.cases} cases in {time.perf_counter() - started:.1f}s")
        assert outcome.tested == operations, (who, operations - outcome.tested)
        assert outcome.cases >= len(operations) * 3, (who, outcome.cases)
        if outcome.failures or outcome.errors:
            problems.append(f"=== as {who} (seed {SEED}) ===\n{outcome.report()}")
    assert not problems, "\n\n".join(problems)


# --- inputs that once reached the databases unchecked ---------------------------------------------

HUGE = 10**20  # beyond a 64-bit integer
NUL = "ab\x00c"
SURROGATE = "ab\ud800c"
FORM = "application/x-www-form-urlencoded"
Hostile = tuple[str, str, dict[str, Any], dict[str, str], bool]


def hostile_requests(c: Callers) -> list[Hostile]:
    """(method, path, httpx arguments, headers, refused): each valid but for one hostile value, which
    must be refused with a 4xx unless `refused` is False (a secret that is only hashed may hold anything)."""
    a, d, o, w = c.admin, c.declarant, c.officer, c.world
    under_way = c.released["mrn"]
    out: list[Hostile] = []

    def add(
        method: str, path: str, kwargs: dict[str, Any], headers: dict[str, str], refused: bool = True
    ) -> None:
        out.append((method, path, kwargs, headers, refused))

    for name in ("a" * 101, "a" * 5000, NUL, "\x00"):
        add("POST", "/api/v1/auth/token", {"data": {"username": name, "password": "x"}}, {})
    form = {"content": b"username=ab%ED%A0%80c&password=x"}  # not UTF-8
    add("POST", "/api/v1/auth/token", {**form, "headers": {"content-type": FORM}}, {})

    for ref in ("%00", "ab%00c", "%C2%B2", "%EF%BC%91%EF%BC%92", "%D9%A1", str(HUGE), "9" * 17, "-1", "0x10"):
        add("GET", f"/api/v1/movements/{ref}", {}, a)
        add("GET", f"/api/v1/movements/{ref}/document", {}, a)
        add("POST", f"/api/v1/movements/{ref}/accept", {}, o)
        add("POST", f"/api/v1/movements/{ref}/invalidate", {"json": {}}, d)
    for bad in ("%00", "ab%00c", "%C2%B2", "a" * 300):
        add("GET", f"/api/v1/guarantees/{bad}", {}, a)
        add("GET", f"/api/v1/reference/hs/{bad}", {}, a)
    for bad_id in (str(HUGE), str(2**63), str(2**63 - 1), "-1", "0", str(-HUGE), str(-(2**63) - 1)):
        add("GET", f"/api/v1/operators/{bad_id}", {}, a)
    huge_cursor = base64.urlsafe_b64encode(f"id:{HUGE}".encode()).decode()
    for listing in ("movements", "operators", "vehicles", "seals"):
        for cursor in (huge_cursor, NUL):
            add("GET", f"/api/v1/{listing}", {"params": {"cursor": cursor}}, a)

    def unique() -> str:
        return tag() + tag()

    for change in (
        {"operator_id": HUGE, "role": "declarant"},
        {"operator_id": 2**63, "role": "carrier"},
        {"full_name": NUL},
        {"full_name": SURROGATE},
        {"password": SURROGATE * 4},
        {"office_code": NUL, "role": "customs_officer", "country": "RU"},
    ):
        body = {
            "username": f"u{unique()}",
            "password": "password-for-tests",
            "role": "tax_officer",
            "country": "RU",
        }
        add("POST", "/api/v1/users", {"json": {**body, **change}}, a)
    for change in (
        {"operator_id": HUGE, "role": "declarant"},
        {"name": NUL},
        {"name": SURROGATE},
        {"office_code": NUL, "role": "customs_officer", "country": "RU"},
    ):
        add("POST", "/api/v1/api-keys", {"json": {"name": "k", "role": "administrator", **change}}, a)
    for change in (
        {"name": NUL},
        {"name": SURROGATE},
        {"tax_id": "10000000\x00"},
        {"kpp": NUL},
        {"ogrn": NUL},
        {"address": NUL},
        {"aeo_certificate": NUL, "aeo_status": "aeo_c"},
    ):
        body = {"country": "BY", "name": "OAO X", "tax_id": synthetic.unp(random.Random(), 1), **change}
        add("POST", "/api/v1/operators", {"json": body}, a)
    for change in ({"carrier_id": HUGE}, {"carrier_id": 2**63}, {"plate": NUL}, {"plate": SURROGATE}):
        body = {"plate": f"P{tag()}", "country": "RU", "carrier_id": w.carrier_id, **change}
        add("POST", "/api/v1/vehicles", {"json": body}, a)
    for change in (
        {"carrier_id": HUGE},
        {"device_id": NUL},
        {"device_id": SURROGATE},
        {"device_secret": SURROGATE * 4},
        {"model": NUL},
    ):
        body = {
            "serial": f"ENS-{tag()}",
            "national_operator": "RU",
            "protocol": "egts",
            "device_id": unique(),
            "device_secret": "secret-123",
            "carrier_id": w.carrier_id,
            **change,
        }
        add("POST", "/api/v1/seals", {"json": body}, a)
    for change in ({"holder_id": HUGE}, {"access_code": NUL}, {"access_code": SURROGATE}):
        body = {
            "holder_id": w.holder_id,
            "kind": "individual",
            "currency": "RUB",
            "reference_amount": "1000",
            "valid_from": "2025-01-01",
            "access_code": "AB12",
            **change,
        }
        add("POST", "/api/v1/guarantees", {"json": body}, a)
    for change in (
        {"seals": [NUL]},
        {"seals": [SURROGATE]},
        {"carrier_id": HUGE},
        {"holder_id": HUGE},
        {"guarantee": {"grn": w.grn, "access_code": NUL}},
        {"guarantee": {"grn": w.grn, "access_code": SURROGATE}},
        {"vehicles": [{"plate": "A 1", "country": "RU"}, {"plate": "a1", "country": "RU"}]},
    ):
        add("POST", "/api/v1/movements", {"json": {**c.declaration, "lrn": f"L{tag()}", **change}}, d)
    for at in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        add("POST", f"/api/v1/movements/{under_way}/crossings", {"json": {"at": at}}, w.officer(REDKI))
        body = {"kind": "other", "description": "x", "at": at}
        add("POST", f"/api/v1/movements/{under_way}/incidents", {"json": body}, o)
        add(
            "POST",
            f"/api/v1/movements/{c.dictionaries['refs'][1]}/release",
            {"json": {"time_limit": at}},
            o,
        )
    for change in (
        {"seal_serial": NUL},
        {"seal_serial": SURROGATE},
        {"new_seals": [NUL]},
        {"new_seals": [SURROGATE]},
    ):
        body = {"kind": "seal_broken", "description": "x", **change}
        add("POST", f"/api/v1/movements/{under_way}/incidents", {"json": body}, o)
    # a password or a device secret is only ever hashed: NUL in it is the owner's business
    user = {"username": f"u{unique()}", "password": NUL * 4, "role": "tax_officer", "country": "RU"}
    add("POST", "/api/v1/users", {"json": user}, a, refused=False)
    seal = {"serial": f"ENS-{tag()}", "national_operator": "BY", "protocol": "egts", "device_id": unique()}
    add(
        "POST",
        "/api/v1/seals",
        {"json": {**seal, "device_secret": NUL * 4, "carrier_id": w.carrier_id}},
        a,
        False,
    )
    return out


async def test_hostile_inputs_are_refused_not_crashed(base_url: str, callers: Callers) -> None:
    failures = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        for method, path, kwargs, headers, refused in hostile_requests(callers):
            extra = kwargs.pop("headers", {})
            if "json" in kwargs:  # lone surrogates cannot be UTF-8 encoded: send them \\u-escaped
                kwargs["content"] = json.dumps(kwargs.pop("json")).encode()
                extra = {**extra, "content-type": "application/json"}
            r = await http.request(method, path, headers={**headers, **extra}, **kwargs)
            if r.status_code >= 500 or (refused and not 400 <= r.status_code < 500):
                failures.append(f"{method} {path} {kwargs!r}: {r.status_code} {r.text}")
    assert not failures, "\n".join(failures)
