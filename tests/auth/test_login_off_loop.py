"""A login's password hash (about 0.1 s of CPU at the production cost) runs off the event loop and
outside a transaction, on each database: the requests that arrive meanwhile are served, including those
that need the database (on SQLite its one connection)."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from tests.support.builders import ADMIN_PASSWORD, admin

from tamga.auth import service as auth_service


async def test_a_login_hashes_while_other_requests_are_served(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await admin(http)
    hashing, hashed = threading.Event(), threading.Event()
    verify = auth_service.verify_password

    def slow(digest: str, password: str) -> bool:
        hashing.set()
        try:
            time.sleep(0.5)  # a costlier hash than the tests' own
            return verify(digest, password)
        finally:
            hashed.set()

    monkeypatch.setattr(auth_service, "verify_password", slow)
    form = {"username": "admin", "password": ADMIN_PASSWORD}
    login = asyncio.create_task(http.post("/api/v1/auth/token", data=form))
    assert await asyncio.to_thread(hashing.wait, 30)
    other = await http.get("/api/v1/movements", params={"limit": 1}, headers=headers)
    assert other.status_code == 200, other.text
    assert not hashed.is_set(), "the request waited for the login's hash"
    answer = await login
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"]
