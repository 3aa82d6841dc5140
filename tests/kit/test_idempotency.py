"""Idempotency-Key on POST, over HTTP on every configured database: a retry gets the first outcome and
never causes a second effect."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from sqlalchemy import func, select
from tests.conftest import Backend
from tests.support.builders import BREST, admin, ok, tag, user

from tamga.models import Operator
from tamga.parties import synthetic

URL = "/api/v1/operators"
REPLAYED = "idempotent-replayed"


def operator_body() -> dict[str, Any]:
    return {"country": "BY", "name": f"OAO Idem {tag()}", "tax_id": synthetic.unp(random.Random(), 1)}


async def count(backend: Backend, tax_id: str) -> int:
    async with backend.db.session() as session:
        stmt = select(func.count()).select_from(Operator).where(Operator.tax_id == tax_id)
        return int((await session.execute(stmt)).scalar_one())


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def field_errors(r: httpx.Response) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]


async def test_a_retry_is_replayed_and_has_no_second_effect(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    headers = keyed(await admin(http), f"op-{tag()}")
    body = operator_body()
    first = await http.post(URL, json=body, headers=headers)
    ok(first, 201)
    assert REPLAYED not in first.headers
    second = await http.post(URL, json=body, headers=headers)
    assert second.status_code == 201 and second.headers[REPLAYED] == "true"
    assert second.content == first.content and second.headers["content-type"] == first.headers["content-type"]
    third = await http.post(URL, json=body, headers=headers)
    assert third.headers[REPLAYED] == "true" and third.json()["id"] == first.json()["id"]
    assert await count(backend, body["tax_id"]) == 1
    # without the key the same request runs again, and is refused: the key is what made retries safe
    assert (await http.post(URL, json=body, headers=await admin(http))).status_code == 409


async def test_the_key_belongs_to_the_user_not_to_the_token(http: httpx.AsyncClient) -> None:
    key = f"op-{tag()}"
    body = operator_body()
    first = ok(await http.post(URL, json=body, headers=keyed(await admin(http), key)), 201)
    login = await http.post(
        "/api/v1/auth/token", data={"username": "admin", "password": "admin-password-for-tests"}
    )
    fresh = {"Authorization": f"Bearer {ok(login)['access_token']}"}  # another JWT, the same user
    again = await http.post(URL, json=body, headers=keyed(fresh, key))
    assert again.headers.get(REPLAYED) == "true" and again.json()["id"] == first["id"]


async def test_the_same_key_for_a_different_request_is_422(http: httpx.AsyncClient, backend: Backend) -> None:
    headers = keyed(await admin(http), f"op-{tag()}")
    ok(await http.post(URL, json=operator_body(), headers=headers), 201)
    other = operator_body()
    r = await http.post(URL, json=other, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert field_errors(r) == ["header.Idempotency-Key"] and REPLAYED not in r.headers
    assert await count(backend, other["tax_id"]) == 0
    # the same body to another endpoint is a different request too
    r = await http.post("/api/v1/vehicles", json=operator_body(), headers=headers)
    assert r.status_code == 422 and field_errors(r) == ["header.Idempotency-Key"]


async def test_the_same_key_from_another_user_is_independent(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    key = f"shared-{tag()}"
    body = operator_body()
    ok(await http.post(URL, json=body, headers=keyed(await admin(http), key)), 201)
    officer = await user(http, "customs_officer", country="BY", office_code=BREST)

    other = operator_body()
    r = await http.post(URL, json=other, headers=keyed(officer, key))
    assert r.status_code == 201 and REPLAYED not in r.headers  # not "already used for a different request"
    assert await count(backend, other["tax_id"]) == 1
    r = await http.post(URL, json=other, headers=keyed(officer, key))
    assert r.status_code == 201 and r.headers[REPLAYED] == "true"

    # the first user's request under the officer's key runs for real (and finds the tax id taken)
    r = await http.post(URL, json=body, headers=keyed(officer, f"shared2-{tag()}"))
    assert r.status_code == 409 and REPLAYED not in r.headers
    assert await count(backend, body["tax_id"]) == 1


async def test_a_client_error_is_replayed_as_it_was(http: httpx.AsyncClient, backend: Backend) -> None:
    headers = keyed(await admin(http), f"bad-{tag()}")
    body = {**operator_body(), "tax_id": "100000000"}  # a UNP whose check digit is wrong
    first = await http.post(URL, json=body, headers=headers)
    assert first.status_code == 422 and "body.tax_id" in field_errors(first)
    second = await http.post(URL, json=body, headers=headers)
    assert second.status_code == 422 and second.headers[REPLAYED] == "true"
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"] == "application/problem+json"

    schema_error = {"country": "BY"}  # refused by request validation, before the endpoint runs
    headers = keyed(await admin(http), f"bad-{tag()}")
    first = await http.post(URL, json=schema_error, headers=headers)
    assert first.status_code == 422 and "body.name" in field_errors(first)
    second = await http.post(URL, json=schema_error, headers=headers)
    assert (second.status_code, second.content, second.headers[REPLAYED]) == (422, first.content, "true")

    holder = await user(http, "tax_officer", country="RU")  # may not register operators
    headers = keyed(holder, f"forbidden-{tag()}")
    body = operator_body()
    first = await http.post(URL, json=body, headers=headers)
    second = await http.post(URL, json=body, headers=headers)
    assert (first.status_code, second.status_code, second.headers[REPLAYED]) == (403, 403, "true")
    assert await count(backend, body["tax_id"]) == 0


async def test_an_unauthenticated_request_is_not_remembered(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    key = f"anon-{tag()}"
    body = operator_body()
    r = await http.post(URL, json=body, headers={"Authorization": "Bearer nonsense", "Idempotency-Key": key})
    assert r.status_code == 401 and REPLAYED not in r.headers
    r = await http.post(URL, json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 401 and REPLAYED not in r.headers
    ok(await http.post(URL, json=body, headers=keyed(await admin(http), key)), 201)


async def test_key_length_is_limited(http: httpx.AsyncClient, backend: Backend) -> None:
    headers = await admin(http)
    for bad in ("k" * 201, "x" * 1000, ""):
        body = operator_body()
        r = await http.post(URL, json=body, headers=keyed(headers, bad))
        assert r.status_code == 422 and field_errors(r) == ["header.Idempotency-Key"], r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert await count(backend, body["tax_id"]) == 0
    longest = (tag() * 25)[:200]
    body = operator_body()
    first = await http.post(URL, json=body, headers=keyed(headers, longest))
    second = await http.post(URL, json=body, headers=keyed(headers, longest))
    assert (first.status_code, second.status_code, second.headers[REPLAYED]) == (201, 201, "true")


async def test_concurrent_duplicates_have_one_effect(http: httpx.AsyncClient, backend: Backend) -> None:
    headers = keyed(await admin(http), f"race-{tag()}")
    body = operator_body()
    responses = await asyncio.gather(*(http.post(URL, json=body, headers=headers) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    fresh = [r for r in responses if r.status_code == 201 and REPLAYED not in r.headers]
    assert len(fresh) == 1
    for r in responses:
        if r.status_code == 201:
            assert r.json()["id"] == fresh[0].json()["id"]
    assert await count(backend, body["tax_id"]) == 1


async def test_a_retry_right_after_the_response_is_replayed(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    """Once the client has the response, its outcome is stored: a retry is never told "in progress"."""
    headers = await admin(http)
    for _ in range(15):
        key, body = f"quick-{tag()}", operator_body()
        first = await http.post(URL, json=body, headers=keyed(headers, key))
        second = await http.post(URL, json=body, headers=keyed(headers, key))
        assert (first.status_code, second.status_code) == (201, 201), second.text
        assert second.headers[REPLAYED] == "true" and second.content == first.content
