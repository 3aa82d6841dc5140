"""`kit.http.SessionScopeMiddleware` and `get_session`: a request's session is closed after its
response, what it did not commit is rolled back, and its connection goes back to the pool."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.conftest import Backend

from tamga.kit.db import Database, commit
from tamga.kit.http import SessionDep, SessionScopeMiddleware
from tamga.models import Counter

NAME = "test-session-scope"


def _app(db: Database, *, scoped: bool = True) -> FastAPI:
    app = FastAPI()
    app.state.db = db

    @app.post("/write/{name}")
    async def write(name: str, session: SessionDep, keep: bool = False) -> dict[str, bool]:
        await session.execute(text("INSERT INTO counters (name, value) VALUES (:n, 1)"), {"n": name})
        if keep:
            await commit(session)
        return {"kept": keep}

    @app.post("/fail/{name}")
    async def fail(name: str, session: SessionDep) -> None:
        await session.execute(text("INSERT INTO counters (name, value) VALUES (:n, 1)"), {"n": name})
        raise RuntimeError("the endpoint failed after writing")

    @app.post("/refuse")
    async def refuse(session: SessionDep) -> None:
        app.state.refused_session = session
        await session.execute(select(Counter.value).limit(1))  # a transaction is open (on SQLite: locked)
        raise HTTPException(409, "refused after reading")

    @app.get("/same")
    async def same(a: SessionDep, b: SessionDep) -> dict[str, bool]:
        return {"same": a is b}

    if scoped:
        app.add_middleware(SessionScopeMiddleware)
        app.add_middleware(_SeeWhenTheResponseStarts)
    return app


class _SeeWhenTheResponseStarts:
    """Outside the session scope, as the idempotency middleware is: notes whether the refused
    request's session still had a transaction open when its response started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get("path") == "/refuse":
                state = scope["app"].state
                state.open_at_start = state.refused_session.in_transaction()
            await send(message)

        await self.app(scope, receive, watch)


async def _stored(db: Database, name: str) -> bool:
    async with db.session() as session:
        return (await session.execute(select(Counter.value).where(Counter.name == name))).first() is not None


async def test_what_a_request_did_not_commit_is_rolled_back_and_its_connection_returned(
    backend: Backend,
) -> None:
    db = Database(backend.url, pool_size=2)
    try:
        transport = httpx.ASGITransport(app=_app(db), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            for n in range(4):  # more requests than the pool has connections: none is kept
                r = await http.post(f"/write/{NAME}-{backend.kind}-dropped-{n}")
                assert r.status_code == 200
                assert not await _stored(db, f"{NAME}-{backend.kind}-dropped-{n}")
            assert (await http.post(f"/fail/{NAME}-{backend.kind}-failed")).status_code == 500
            assert not await _stored(db, f"{NAME}-{backend.kind}-failed")
            kept = f"{NAME}-{backend.kind}-kept"
            assert (await http.post(f"/write/{kept}", params={"keep": True})).json() == {"kept": True}
            assert await _stored(db, kept)
            assert (await http.get("/same")).json() == {"same": True}  # one session per request
            # a refused request's transaction is over before its response starts: what runs while
            # it is sent (the Idempotency-Key's stored outcome) never waits on it
            assert (await http.post("/refuse")).status_code == 409
            assert transport.app.state.open_at_start is False  # type: ignore[attr-defined]
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        async with db.session() as session:
            await session.execute(text("DELETE FROM counters WHERE name LIKE :p"), {"p": f"{NAME}-%"})
            await commit(session)
        await db.dispose()


async def test_a_session_without_the_middleware_is_refused(backend: Backend) -> None:
    """Without the middleware nothing would close the session: the dependency refuses to open one."""
    transport = httpx.ASGITransport(app=_app(backend.db, scoped=False), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(RuntimeError, match="SessionScopeMiddleware is not installed"):
            await http.get("/same")
