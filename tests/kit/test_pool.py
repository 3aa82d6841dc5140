"""`kit.pool`: waiting checkouts are served in order of arrival, a returned connection is never
taken by a newcomer while others wait, and a waiter that gives up loses nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.util import queue as sqla_queue
from sqlalchemy.util.concurrency import greenlet_spawn
from tests.conftest import Backend

from tamga.kit.db import SQLITE_POOL_SIZE, Database
from tamga.kit.pool import FairAsyncPool, FairQueue


async def _queued(q: FairQueue[str], n: int) -> list[asyncio.Task[str]]:
    """Start `n` waiters on an empty queue, one after another, and let each reach its place."""
    tasks = []
    for _ in range(n):
        tasks.append(asyncio.create_task(greenlet_spawn(q.get, True, 5.0)))
        for _ in range(3):
            await asyncio.sleep(0)
    assert q.waiting() == n
    return tasks


async def test_a_returned_item_goes_to_the_oldest_waiter_not_to_a_newcomer() -> None:
    q: FairQueue[str] = FairQueue(maxsize=1)
    first, second = await _queued(q, 2)
    q.put_nowait("conn")
    with pytest.raises(sqla_queue.Empty):  # a newcomer in the same tick does not take it
        q.get_nowait()
    assert q.qsize() == 0
    assert await first == "conn"
    assert not second.done()
    q.put_nowait("conn")
    assert await second == "conn"
    q.put_nowait("conn")
    assert q.get_nowait() == "conn"  # nobody waits: taken at once


async def test_a_waiter_cancelled_after_the_hand_off_passes_the_item_on() -> None:
    q: FairQueue[str] = FairQueue(maxsize=1)
    first, second = await _queued(q, 2)
    q.put_nowait("conn")  # handed to `first`, which has not run yet
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "conn"
    assert q.waiting() == 0


async def test_a_waiter_that_times_out_gets_empty_and_leaves_the_line() -> None:
    q: FairQueue[str] = FairQueue(maxsize=1)
    with pytest.raises(sqla_queue.Empty):
        await greenlet_spawn(q.get, True, 0.02)
    assert q.waiting() == 0
    q.put_nowait("conn")
    assert q.qsize() == 1  # kept, not handed to the waiter that left


async def test_the_pool_serves_clients_in_turn(backend: Backend) -> None:
    """Four clients share one connection, each asking again as soon as it gives it back (as a
    keep-alive client does, its session closed the way `kit.http.SessionScopeMiddleware` closes
    one): each gets it in turn, none twice while another waits."""
    db = Database(backend.url, pool_size=1)
    assert isinstance(db.engine.sync_engine.pool, FairAsyncPool)
    order: list[int] = []

    async def client(k: int) -> None:
        for _ in range(5):
            session = db.sessions()
            await session.execute(select(1))
            order.append(k)
            await session.close()  # gives the connection back without leaving this task

    try:
        async with db.engine.connect() as conn:  # hold it while the clients line up
            await conn.execute(select(1))
            clients = []
            for k in range(4):
                clients.append(asyncio.create_task(client(k)))
                for _ in range(5):
                    await asyncio.sleep(0)
        await asyncio.gather(*clients)
    finally:
        await db.dispose()
    assert order == [0, 1, 2, 3] * 5


async def test_a_sqlite_file_is_served_through_one_connection(backend: Backend) -> None:
    """SQLite has one writer: one pooled connection, whatever size is asked (PostgreSQL's setting)."""
    db = Database(backend.url, pool_size=10)
    try:
        pool = db.engine.sync_engine.pool
        assert isinstance(pool, FairAsyncPool)
        assert pool.size() == (SQLITE_POOL_SIZE if backend.kind == "sqlite" else 10)
    finally:
        await db.dispose()
