"""Deactivating accounts and revoking API keys, over HTTP on each database: what is refused from then on,
who may do it, what the audit record keeps; and the principal cache forgetting a subject at once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from tests.conftest import Backend
from tests.support.builders import PASSWORD, admin, ok, tag, token, user

from tamga.auth import service as auth_service
from tamga.auth.domain import Role
from tamga.config import Settings
from tamga.kit.db import Database
from tamga.models import AuditRecord


async def new_user(http: httpx.AsyncClient) -> tuple[int, str, dict[str, str]]:
    """A tax officer (no operator needed): their id, username and headers."""
    name = f"leaver.{tag()}"
    body = {"username": name, "password": PASSWORD, "role": "tax_officer", "country": "BY"}
    created = ok(await http.post("/api/v1/users", json=body, headers=await admin(http)), 201)
    return created["id"], name, await token(http, name)


async def audit_of(backend: Backend, entity_type: str, entity_id: str) -> list[tuple[str, Any, Any]]:
    async with backend.db.session() as session:
        stmt = (
            select(AuditRecord.action, AuditRecord.before, AuditRecord.after)
            .where(AuditRecord.entity_type == entity_type, AuditRecord.entity_id == entity_id)
            .order_by(AuditRecord.id)
        )
        return [tuple(r) for r in (await session.execute(stmt)).all()]


async def test_a_deactivated_account_is_refused_until_reactivated(
    http: httpx.AsyncClient, backend: Backend
) -> None:
    user_id, name, headers = await new_user(http)
    assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 200
    a = await admin(http)

    done = ok(await http.post(f"/api/v1/users/{user_id}/deactivate", headers=a))
    assert (done["id"], done["active"]) == (user_id, False)
    assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 401  # its token, at once
    login = {"username": name, "password": PASSWORD}
    assert (await http.post("/api/v1/auth/token", data=login)).status_code == 401
    ok(await http.post(f"/api/v1/users/{user_id}/deactivate", headers=a))  # again: nothing changes

    assert ok(await http.post(f"/api/v1/users/{user_id}/reactivate", headers=a))["active"] is True
    assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert await audit_of(backend, "user", str(user_id)) == [
        ("user.create", None, {"username": name, "role": "tax_officer", "country": "BY", "office": None}),
        ("user.deactivate", {"active": True}, {"active": False}),
        ("user.reactivate", {"active": False}, {"active": True}),
    ]


async def test_only_an_administrator_deactivates_and_not_themself(http: httpx.AsyncClient) -> None:
    user_id, _, headers = await new_user(http)
    other = await user(http, "tax_officer", country="RU")
    assert (await http.post(f"/api/v1/users/{user_id}/deactivate", headers=other)).status_code == 403
    assert (await http.post(f"/api/v1/users/{user_id}/deactivate", headers=headers)).status_code == 403
    me = ok(await http.get("/api/v1/auth/me", headers=await admin(http)))
    own_id = int(me["subject"].removeprefix("user:"))
    refused = await http.post(f"/api/v1/users/{own_id}/deactivate", headers=await admin(http))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    for action in ("deactivate", "reactivate"):
        for bad in ("0", "-1", str(2**63), "abc"):
            r = await http.post(f"/api/v1/users/{bad}/{action}", headers=await admin(http))
            assert r.status_code == 422, (action, bad, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"][0]["field"] == "path.user_id", r.text
    assert (
        await http.post("/api/v1/users/999999999/deactivate", headers=await admin(http))
    ).status_code == 404


async def test_a_revoked_api_key_is_refused_for_good(http: httpx.AsyncClient, backend: Backend) -> None:
    a = await admin(http)
    created = ok(
        await http.post(
            "/api/v1/api-keys",
            json={"name": "customs system", "role": "tax_officer", "country": "RU"},
            headers=a,
        ),
        201,
    )
    key_headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await http.get("/api/v1/auth/me", headers=key_headers)).status_code == 200

    revoked = ok(await http.post(f"/api/v1/api-keys/{created['prefix']}/revoke", headers=a))
    assert (revoked["prefix"], revoked["name"], revoked["active"]) == (
        created["prefix"],
        "customs system",
        False,
    )
    assert "key" not in revoked and "key_hash" not in revoked
    assert (await http.get("/api/v1/auth/me", headers=key_headers)).status_code == 401
    ok(await http.post(f"/api/v1/api-keys/{created['prefix']}/revoke", headers=a))  # again: nothing changes
    assert [action for action, *_ in await audit_of(backend, "api_key", created["prefix"])] == [
        "api_key.create",
        "api_key.revoke",
    ]
    assert (await http.post("/api/v1/api-keys/nosuchkey/revoke", headers=a)).status_code == 404
    assert (await http.post("/api/v1/api-keys/%00/revoke", headers=a)).status_code == 422
    assert (
        await http.post(f"/api/v1/api-keys/{created['prefix']}/revoke", headers=key_headers)
    ).status_code == 401


async def cached_token(backend: Backend) -> tuple[Settings, int, str]:
    """Settings with the principal cache on (production: 5 s), a new tax officer's id, and a JWT of
    theirs already resolved once, so that this process has it cached."""
    settings = Settings(database_url=backend.url, principal_cache_seconds=300)
    async with backend.db.session() as session:
        user = await auth_service.create_user(
            session, None, username=f"cached.{tag()}", password=PASSWORD, role=Role.TAX_OFFICER, country="RU"
        )
        await session.commit()
        user_id = user.id
    secret = settings.jwt_secret.get_secret_value()
    jwt_token = auth_service.issue_token(
        f"user:{user_id}", secret, settings.jwt_issuer, 60, {"role": "tax_officer"}
    )
    async with backend.db.session() as session:
        assert await auth_service.principal_from_token(session, settings, jwt_token) is not None
    return settings, user_id, jwt_token


async def test_the_principal_cache_forgets_a_subject_at_once(backend: Backend) -> None:
    """With the cache on (production: 5 s), a deactivation drops the subject's cached tokens in this
    process; without `forget_principal` the token would keep working until its entry expires."""
    settings, user_id, jwt_token = await cached_token(backend)
    async with backend.db.session() as session:
        found = await auth_service.repository.user_for_update(session, user_id)
        assert found is not None
        found.active = False
        await session.commit()
    async with backend.db.session() as session:  # cached: still let in
        assert await auth_service.principal_from_token(session, settings, jwt_token) is not None
    auth_service.forget_principal(f"user:{user_id}")
    async with backend.db.session() as session:
        assert await auth_service.principal_from_token(session, settings, jwt_token) is None


async def test_a_revocation_in_another_process_empties_this_ones_cache(
    base_url: str, backend: Backend
) -> None:
    """On PostgreSQL the process that revokes tells the others (NOTIFY); each API process forgets the
    subject's cached tokens at once instead of after `principal_cache_seconds`."""
    if backend.kind != "postgres":
        pytest.skip("a SQLite database is served by one process: there is no other to tell")
    settings, user_id, jwt_token = await cached_token(backend)
    subject = f"user:{user_id}"
    cached = [k for k, (_, p) in auth_service._principals.items() if p.subject == subject]
    assert cached  # this process (the test server's, `base_url`) has the token cached

    async with backend.db.session() as session:  # the test server listens (it may have just started)
        for _ in range(250):
            listening = await session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE :q"),
                {"q": f"LISTEN %{auth_service.REVOCATION_CHANNEL}%"},
            )
            if listening:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("nothing listens for revocations")

    other = Database(backend.url, pool_size=1)  # another process deactivates the account
    try:
        async with other.session() as session:
            found = await auth_service.repository.user_for_update(session, user_id)
            assert found is not None
            found.active = False
            await session.commit()
            await auth_service.revoked(session, subject)
    finally:
        await other.dispose()
    for _ in range(250):
        if not any(p.subject == subject for _, p in auth_service._principals.values()):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("this process did not hear of the revocation")
    async with backend.db.session() as session:
        assert await auth_service.principal_from_token(session, settings, jwt_token) is None
