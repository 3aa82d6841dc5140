"""The embedded database's dialect (`kit.sqlite`): SQLAlchemy's aiosqlite dialect with one hand-off to
aiosqlite's thread per statement. What a statement gives back must be what the stock cursor gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tamga.kit import sqlite
from tamga.kit.db import create_engine

things = Table(
    "things", MetaData(), Column("id", Integer, primary_key=True), Column("name", String, unique=True)
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-hop.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(things.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every call queued to aiosqlite's thread, by the function it runs."""
    calls: list[Any] = []
    queue = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await queue(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_an_aiosqlite_url_gets_the_one_hand_off_dialect(engine: AsyncEngine) -> None:
    assert engine.dialect.driver == sqlite.DRIVER and engine.dialect.name == "sqlite"


async def test_a_statement_is_one_hand_off(engine: AsyncEngine, hand_offs: list[Any]) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 0"))  # begins the transaction: BEGIN IMMEDIATE, a statement too
        hand_offs.clear()
        assert (await conn.execute(text("SELECT 1, 'two'"))).all() == [(1, "two")]
        assert len(hand_offs) == 1  # SQLAlchemy's own adapter: cursor, execute, fetch, close: four


async def test_results_rowcounts_and_ids_are_the_stock_cursors(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        one = await conn.execute(insert(things).values(name="a"))
        assert one.inserted_primary_key == (1,) and one.rowcount == 1
        many = await conn.execute(insert(things), [{"name": "b"}, {"name": "c"}])  # executemany
        assert many.rowcount == 2
        returned = await conn.execute(insert(things).values(name="d").returning(things.c.id, things.c.name))
        assert returned.all() == [(4, "d")]
        updated = await conn.execute(text("UPDATE things SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 3
        rows = await conn.execute(select(things).order_by(things.c.id))
        assert list(rows.keys()) == ["id", "name"] and rows.all() == [
            (1, "a"),
            (2, "b!"),
            (3, "c!"),
            (4, "d!"),
        ]
        assert (await conn.execute(select(things).where(things.c.id > 9))).all() == []


async def test_an_error_is_the_dbapi_error_and_the_transaction_rolls_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(things).values(name="a"))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with engine.begin() as conn:
            await conn.execute(insert(things).values(name="b"))
            await conn.execute(insert(things).values(name="a"))
    async with engine.connect() as conn:
        assert (await conn.execute(select(things.c.name))).scalars().all() == ["a"]


async def test_streaming_still_works(engine: AsyncEngine) -> None:
    """`stream` uses a server-side cursor: the stock one, which stays open between fetches."""
    async with engine.begin() as conn:
        await conn.execute(insert(things), [{"name": f"n{i}"} for i in range(25)])
    async with engine.connect() as conn:
        result = await conn.stream(select(things.c.id).order_by(things.c.id))
        assert [row.id async for row in result] == list(range(1, 26))
