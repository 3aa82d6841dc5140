"""`kit.db.driver` and `kit.pg`: statements sent to asyncpg directly run in the session's transaction,
and the SQL written from a table's metadata stores what the ORM would."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import inspect, select
from tests.conftest import Backend

from tamga.kit.db import Database, autocommit, commit, driver, json_text
from tamga.kit.pg import instance, pg_table
from tamga.models import Counter, Movement

NAME = "test-driver-counter"


async def _counter(backend: Backend, name: str) -> int | None:
    async with backend.db.session() as session:
        return (await session.execute(select(Counter.value).where(Counter.name == name))).scalar()


async def test_driver_is_none_on_sqlite_and_in_the_transaction_on_postgres(backend: Backend) -> None:
    name = f"{NAME}-{backend.kind}"
    async with backend.db.session() as session:
        raw = await driver(session)
        if backend.kind == "sqlite":
            assert raw is None
            return
        assert raw is not None and raw.is_in_transaction()
        await raw.execute("INSERT INTO counters (name, value) VALUES ($1, 7)", name)
        await session.rollback()  # the driver's INSERT goes with the session's transaction
    assert await _counter(backend, name) is None
    async with backend.db.session() as session:
        raw = await driver(session)
        assert raw is not None
        await raw.execute("INSERT INTO counters (name, value) VALUES ($1, 8)", name)
        assert await driver(session) is raw  # the same connection for the rest of the transaction
        await commit(session)
    assert await _counter(backend, name) == 8


def test_sql_from_the_metadata_casts_every_parameter_without_modifiers() -> None:
    movements = pg_table(Movement.__table__)  # type: ignore[arg-type]
    assert movements.insert(("lrn", "route_length_km", "seals"), ("id",)) == (
        "INSERT INTO movements (lrn, route_length_km, seals) "
        "VALUES ($1::VARCHAR, $2::NUMERIC, $3::JSON) RETURNING id"
    )
    assert movements.assignments(("status", "released_at"), 3) == (
        "status = $3::VARCHAR, released_at = $4::TIMESTAMP WITH TIME ZONE"
    )
    assert movements.insert_arrays(("lrn",), 2, (("id", "$1::BIGINT"),)) == (
        "INSERT INTO movements (id, lrn) SELECT $1::BIGINT, parts.* FROM (SELECT * FROM unnest($2::VARCHAR[])) AS parts"
    )
    assert movements.unnest_select(("lrn", "lodged_at"), 4) == (
        "SELECT * FROM unnest($4::VARCHAR[], $5::TIMESTAMP WITH TIME ZONE[])"
    )
    assert movements.defaults == {"version": 1}
    assert movements.values({"seals": [{"serial": "S1"}], "lrn": "L"}, ("lrn", "seals")) == [
        "L",
        '[{"serial": "S1"}]',
    ]
    assert json_text(None) is None  # SQL NULL, as the ORM writes a column given no value
    assert json_text({"a": [1, "b"]}) == '{"a": [1, "b"]}'


async def test_an_overlong_text_is_refused_not_cut(backend: Backend) -> None:
    """The casts carry no length: PostgreSQL's explicit cast to VARCHAR(60) would cut a longer text
    silently, where the column's own assignment refuses it."""
    counters = pg_table(Counter.__table__)  # type: ignore[arg-type]
    async with backend.db.session() as session:
        raw = await driver(session)
        if backend.kind == "sqlite":  # no driver SQL there: the ORM writes
            assert raw is None
            return
        assert raw is not None
        with pytest.raises(asyncpg.StringDataRightTruncationError, match="too long"):
            await raw.execute(counters.insert(("name", "value")), "y" * 61, 1)


def test_a_row_becomes_a_loaded_object_outside_any_session() -> None:
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    m = instance(Movement, {"id": 5, "status": "lodged", "lodged_at": at, "seals": []})
    state = inspect(m)
    assert (m.id, m.status, m.lodged_at, m.seals) == (5, "lodged", at, [])
    assert state.session is None and not state.modified  # nothing to flush


async def test_the_side_pool_connects_with_the_engines_arguments(backend: Backend) -> None:
    """`autocommit` opens its plain asyncpg connections from the engine's URL, query options included
    (SQLAlchemy's own adapter options are not the driver's)."""
    url = backend.url + ("?prepared_statement_cache_size=50" if backend.kind == "postgres" else "")
    db = Database(url, pool_size=2)
    try:
        async with autocommit(db.engine) as conn:
            if backend.kind == "sqlite":
                assert conn is None
                return
            assert await conn.fetchval("SELECT 41 + 1") == 42
            assert await conn.fetchval("SELECT current_database()") == db.engine.url.database
    finally:
        await db.dispose()


async def test_a_side_connection_comes_back_outside_any_transaction(backend: Backend) -> None:
    """The side pool's release skips asyncpg's full session reset, but still rolls back a transaction
    left open (a failed caller's): the next borrower starts clean and nothing it did is committed."""
    if backend.kind == "sqlite":
        return
    db = Database(backend.url, pool_size=2)
    name = f"{NAME}-side-left-open"
    try:
        async with autocommit(db.engine) as conn:
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO counters (name, value) VALUES ($1, 1)", name)
            left_open = await conn.fetchval("SELECT pg_backend_pid()")
        seen = False
        for _ in range(9):  # the pool hands its connections out in turn: the same one comes back
            async with autocommit(db.engine) as conn:
                if await conn.fetchval("SELECT pg_backend_pid()") == left_open:
                    assert not conn.is_in_transaction()
                    seen = True
        assert seen
        assert await _counter(backend, name) is None
    finally:
        await db.dispose()
