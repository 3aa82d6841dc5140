"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when configured) and a
live HTTP server on it, so API tests cross a real socket."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from tamga.app import create_app
from tamga.auth import service as auth_service
from tamga.auth.domain import Role
from tamga.auth.security import configure_password_hashing
from tamga.config import Settings, get_settings
from tamga.kit.db import Database, commit
from tamga.kit.migrate import upgrade_async
from tamga.rates.service import load_samples

ADMIN_PASSWORD = "admin-password-for-tests"
POSTGRES_URL = os.environ.get("TAMGA_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def backends() -> list[str]:
    if POSTGRES_URL:
        return ["sqlite", "postgres"]
    if IN_CI:
        raise RuntimeError(
            "CI=true but TAMGA_TEST_POSTGRES_URL is not set: PostgreSQL tests may not be skipped"
        )
    return ["sqlite"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _create_postgres_database() -> tuple[str, str]:
    """Create a throwaway database on the configured server; give its URL and name."""
    assert POSTGRES_URL
    base = make_url(POSTGRES_URL)
    name = f"tamga_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


async def _drop_postgres_database(name: str) -> None:
    assert POSTGRES_URL
    admin = create_async_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


class Backend:
    """A migrated database, the settings that point at it, and (lazily) a live server on it."""

    def __init__(self, kind: str, url: str, settings: Settings, db: Database) -> None:
        self.kind, self.url, self.settings, self.db = kind, url, settings, db
        self.base_url: str | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start_server(self) -> str:
        if self.base_url is None:
            port = _free_port()
            config = uvicorn.Config(
                create_app(self.settings, self.db),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
            )
            self._server = uvicorn.Server(config)
            self._task = asyncio.get_running_loop().create_task(self._server.serve())
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.02)
            self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        await self.db.dispose()


@pytest.fixture(scope="session", params=backends())
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    """A migrated database of each kind, with an administrator; shared by the session's tests."""
    kind: str = request.param
    pg_name = None
    if kind == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "tamga.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url, pg_name = await _create_postgres_database()
    await upgrade_async(url)
    settings = Settings(
        database_url=url,
        login_slowdown_base_s=0.01,
        login_slowdown_cap_s=0.05,
        login_lockout_after=6,
        login_lockout_minutes=1,
        argon2_time_cost=1,
        principal_cache_seconds=0,
        argon2_memory_kib=1024,
    )
    configure_password_hashing(1, 1024)
    db = Database(url, pool_size=10)
    async with db.session() as session:
        await auth_service.create_user(
            session, None, username="admin", password=ADMIN_PASSWORD, role=Role.ADMINISTRATOR
        )
        await load_samples(session)  # the exchange rates a lodging's amount at stake is estimated at
        await commit(session)
    b = Backend(kind, url, settings, db)
    yield b
    await b.stop()
    if pg_name:
        await _drop_postgres_database(pg_name)


@pytest.fixture(scope="session")
async def base_url(backend: Backend) -> str:
    return await backend.start_server()


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture
def cli(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The `tamga` command line on the backend's database (its settings read afresh)."""
    monkeypatch.setenv("TAMGA_DATABASE_URL", backend.url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
