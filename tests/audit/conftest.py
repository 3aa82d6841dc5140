"""Fixtures of the audit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.conftest import Backend, _create_postgres_database, _drop_postgres_database

from tamga.kit.db import Database
from tamga.kit.migrate import upgrade_async


@pytest.fixture
async def fresh_db(backend: Backend, tmp_path: Path) -> AsyncIterator[tuple[str, Database]]:
    """An empty migrated database of the backend's kind, for tampering that is not easily undone."""
    pg_name = None
    if backend.kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    else:
        url, pg_name = await _create_postgres_database()
    await upgrade_async(url)
    db = Database(url, pool_size=2)
    try:
        yield url, db
    finally:
        await db.dispose()
        if pg_name:
            await _drop_postgres_database(pg_name)
