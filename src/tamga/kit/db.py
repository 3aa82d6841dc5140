"""Database plumbing: declarative base, column types, engines and sessions for SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg
from sqlalchemy import (
    BigInteger,
    DateTime,
    Insert,
    Integer,
    MetaData,
    Numeric,
    Table,
    bindparam,
    event,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from tamga.kit import sqlite
from tamga.kit.pool import FairAsyncPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT identity on PostgreSQL; INTEGER PRIMARY KEY (the rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Money: 18 digits, 2 decimals (kopecks); quantities and mass: 3 decimals.
MoneyAmount = Numeric(18, 2, asdecimal=True)
Quantity = Numeric(16, 3, asdecimal=True)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out, on both databases (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """The one metadata every table belongs to (Alembic reads it)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), Decimal: MoneyAmount}


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so writers queue instead of deadlocking."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


SQLITE_POOL_SIZE = 1


def create_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> AsyncEngine:
    """Give an async engine for the URL, configured for its dialect (`pool_size` is PostgreSQL's)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.get_driver_name() == "aiosqlite":  # one hand-off to its thread per statement
            parsed = parsed.set(drivername=f"sqlite+{sqlite.DRIVER}")
        pooling: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # One connection: SQLite has one writer at a time, and writers sharing a file through several
            # connections poll for its lock (the busy handler sleeps and retries), so they are served out
            # of order: with 50 clients the p99 was 2 s and more at 12 connections, 0.7 s at one, for the
            # same throughput. One connection serves them in order of arrival (`kit.pool`).
            pooling = {"poolclass": FairAsyncPool, "pool_size": SQLITE_POOL_SIZE, "max_overflow": 0}
        engine = create_async_engine(parsed, echo=echo, **pooling)
        _configure_sqlite(engine)
        return engine
    # a fixed pool (see Settings.database_pool_size): an overflow connection is opened under load and
    # closed when it falls, and each opening costs a backend's start and the driver's set-up; waiting
    # checkouts are served in order of arrival (`kit.pool`)
    return create_async_engine(
        url, echo=echo, poolclass=FairAsyncPool, pool_size=pool_size, max_overflow=0, pool_recycle=1800
    )


class Database:
    """An engine and its session factory; one per process (or per node in tests)."""

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Give a session that rolls back whatever was not committed."""
        async with self.sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        side = _side_pools.pop(self.engine.sync_engine, None)
        if side is not None:
            await side.close()
        await self.engine.dispose()


PreCommitHook = Callable[[AsyncSession], Awaitable[None]]


def on_commit(session: AsyncSession, name: str, hook: PreCommitHook) -> None:
    """Run `hook` once just before this session's next commit (e.g. appending audit records)."""
    hooks: dict[str, PreCommitHook] = session.info.setdefault("pre_commit", {})
    hooks.setdefault(name, hook)


async def commit(session: AsyncSession) -> None:
    """Commit the unit of work: run the pre-commit hooks, then commit once."""
    hooks: dict[str, PreCommitHook] = session.info.pop("pre_commit", {})
    for hook in hooks.values():
        await hook(session)
    await session.commit()


# A small pool of plain asyncpg connections per engine, for work done outside the caller's transaction
# (see `autonomous`). Its own pool, never the sessions' one: a request holding a session connection
# never waits for a second connection from the pool it holds, so a burst of requests cannot starve it.
# Plain asyncpg: these are single autocommitted statements on hot paths (the MRN counters, every keyed
# POST), where SQLAlchemy's connection checkout and execution cost several times the statement.
_side_pools: WeakKeyDictionary[Engine, Any] = WeakKeyDictionary()
SIDE_POOL_TIMEOUT_S = 30.0  # as long as a session waits for its pool


def driver_connect_args(engine: AsyncEngine | Engine) -> dict[str, Any]:
    """Give the arguments of `asyncpg.connect` for a PostgreSQL engine: its own (host, database, ssl,
    ...), less those of SQLAlchemy's adapter."""
    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    _, params = sync.dialect.create_connect_args(sync.url)
    for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback"):
        params.pop(adapter_only, None)
    return dict(params)


async def _side_pool(sync: Engine) -> Any:
    pool = _side_pools.get(sync)
    if pool is None:
        created = await asyncpg.create_pool(
            **driver_connect_args(sync),
            min_size=1,
            max_size=8,
            max_inactive_connection_lifetime=1800,
            reset=_keep_session,
        )
        pool = _side_pools.setdefault(sync, created)
        if pool is not created:  # another task made one meanwhile
            await created.close()
    return pool


async def _keep_session(_conn: Any) -> None:
    """The side pool's reset on release: nothing beyond asyncpg's own (an open transaction is rolled back).

    asyncpg's default also runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` (a round
    trip on every release); nothing on these connections takes an advisory lock, opens a cursor,
    listens or sets a session variable.
    """


@asynccontextmanager
async def autocommit(engine: AsyncEngine | Engine) -> AsyncIterator[Any | None]:
    """Give an asyncpg connection outside any transaction, from the engine's side pool, or None on SQLite.

    Each statement on it commits on its own, in one round trip (no BEGIN, no COMMIT). It is the plain
    driver: write SQL for it (`kit.pg`), with asyncpg's own codecs (no JSON set-up). SQLite has one
    writer at a time and its connections open their transactions themselves (BEGIN IMMEDIATE): there
    the caller gets None and uses a session as usual.
    """
    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    if sync.dialect.name == "sqlite":
        yield None
        return
    pool = await _side_pool(sync)
    async with pool.acquire(timeout=SIDE_POOL_TIMEOUT_S) as conn:
        yield conn


def engine_of(session: AsyncSession) -> Engine:
    """Give the (sync) engine a session is bound to, whether its bind is an engine or a connection."""
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


@asynccontextmanager
async def autonomous(session: AsyncSession) -> AsyncIterator[Any | None]:
    """Give a connection outside the session's transaction, in autocommit, or None on SQLite.

    For one short atomic write that must not hold its row locks until the caller's commit (a shared
    counter): it commits at once, whatever becomes of the caller's transaction. On SQLite (one writer
    at a time, so a second connection would wait for the caller's transaction) the caller gets None
    and does the work in its own transaction.
    """
    async with autocommit(engine_of(session)) as conn:
        yield conn


async def driver(session: AsyncSession, *, begin: bool = True) -> Any | None:
    """Give the asyncpg connection under the session's transaction on PostgreSQL (None on SQLite).

    For the hottest statements: SQLAlchemy's execution (statement cache, parameter and result
    processing, the greenlet hand-offs) costs about 50 us of CPU a statement here, the driver alone
    about 10. The session's transaction is begun first when it has not been (SQLAlchemy's asyncpg
    adapter begins lazily, at its first statement), so what runs on the driver commits or rolls back
    with the session. Parameters go as the driver takes them: JSON as text (`json_text`), aware
    datetimes, Decimals.

    With `begin=False` no transaction is begun: a statement joins the session's transaction if one is
    open, and otherwise commits on its own in one round trip (no BEGIN, no COMMIT; the session's commit
    then has nothing to send). For a use case whose reads lock nothing and whose write is one statement,
    whole or nothing (a lodging, an acceptance, a release).
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    transaction = session.sync_session.get_transaction()
    cached = session.info.get("driver")
    if cached is not None and transaction is not None and cached[0] is transaction and transaction.is_active:
        return cached[1]  # the same transaction holds the same connection
    connection = await session.connection()
    # checked out just now, so the pooled connection is at hand: no trip through a greenlet for it
    # (`AsyncConnection.get_raw_connection` takes one)
    sync = connection.sync_connection
    assert sync is not None  # an AsyncConnection from a session is started
    fairy = sync.connection
    adapter, raw = fairy.dbapi_connection, fairy.driver_connection
    if raw is None or adapter is None:  # pragma: no cover - a pooled connection always has both
        return None
    if not begin:
        return raw  # not kept: a later call that begins must still begin
    if not raw.is_in_transaction():
        start = getattr(adapter, "_start_transaction", None)
        if start is not None:  # the adapter's own BEGIN: one round trip, tracked by the adapter
            await start()
        else:  # pragma: no cover - another SQLAlchemy version: any statement begins it
            await connection.exec_driver_sql("SELECT 1")
    session.info["driver"] = (session.sync_session.get_transaction(), raw)
    return raw


def json_text(value: Any) -> str | None:
    """Give a value as the text a JSON column takes on the driver (`json.dumps`, as SQLAlchemy's JSON
    type serialises it), None as SQL NULL (what the ORM writes for a column it was given no value for)."""
    return None if value is None else json.dumps(value)


def unnest_insert(table: Table, columns: Sequence[str], prefix: str) -> Insert:
    """Give `INSERT INTO table (columns) SELECT unnest(:prefix_col), ...` (PostgreSQL only).

    One bound array per column, whatever the number of rows: SQLAlchemy caches its compiled form
    (a multi-row VALUES is compiled afresh every time, and so is any statement that holds one in a
    WITH), and it stays far below the driver's limit on bound parameters. Pass `unnest_params`.
    """
    arrays = [
        func.unnest(bindparam(f"{prefix}_{name}", type_=ARRAY(table.c[name].type))).label(name)
        for name in columns
    ]
    return table.insert().from_select(list(columns), select(*arrays))


def unnest_params(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], prefix: str
) -> dict[str, list[Any]]:
    """Give the arrays that `unnest_insert(table, columns, prefix)` binds, one per column, in row order."""
    return {f"{prefix}_{name}": [row[name] for row in rows] for name in columns}
