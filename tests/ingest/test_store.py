"""The fixes table on each database: one row per fix however often it comes, new fixes known by RETURNING,
time order, daily partitions on PostgreSQL, the migration both ways; and the monitoring bus."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from tests.conftest import POSTGRES_URL, Backend, _create_postgres_database, _drop_postgres_database
from tests.ingest.devices import register_seal, track

from tamga.ingest import store
from tamga.ingest.bus import FixBus, StoredFix
from tamga.ingest.profiles import SealState
from tamga.ingest.service import Device, Report, device_of, store_reports
from tamga.kit.clock import utcnow
from tamga.kit.db import Database, commit
from tamga.kit.migrate import alembic_config, upgrade_async

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


async def device(backend: Backend) -> Device:
    seal = await register_seal(backend.db)
    async with backend.db.session() as session:
        row = await store.seal_by_device_id(session, seal.device_id)
        assert row is not None
        return device_of(row)


async def stored(backend: Backend, reports: list[Report]) -> tuple[list[StoredFix], int]:
    async with backend.db.session() as session:
        outcome = await store_reports(session, reports, utcnow())
        await commit(session)
    return outcome.stored, outcome.duplicates


async def test_a_fix_is_stored_once_and_only_new_ones_come_back(backend: Backend) -> None:
    dev = await device(backend)
    fixes = track(dev.device_id, 10, start=T0)
    first, dups = await stored(backend, [Report(dev, f, "egts") for f in fixes[:6]])
    assert (len(first), dups) == (6, 0)
    # Overlapping batch: 4 already stored, 4 new, one of them twice in the batch.
    again = [Report(dev, f, "egts") for f in [*fixes[2:], fixes[8]]]
    second, dups = await stored(backend, again)
    assert [s.fix.record_id for s in second] == [f.record_id for f in fixes[6:]]
    assert dups == 5
    async with backend.db.session() as session:
        assert await store.count_fixes(session, dev.device_id) == 10


async def test_two_stores_in_one_transaction_keep_their_rows_apart(backend: Backend) -> None:
    """The second store of a transaction sees only its own rows (on PostgreSQL they pass through a
    temporary table, which the INSERT empties as it reads it)."""
    dev, other = await device(backend), await device(backend)
    mine, theirs = track(dev.device_id, 3, start=T0), track(other.device_id, 3, start=T0)
    async with backend.db.session() as session:
        first = await store_reports(session, [Report(dev, f, "egts") for f in mine], utcnow())
        # one fix of `other`, then the same three of `dev` again: all of them stored already but one
        again = [Report(other, theirs[0], "egts"), *(Report(dev, f, "egts") for f in mine)]
        second = await store_reports(session, again, utcnow())
        await commit(session)
    assert len(first.stored) == 3
    assert [(s.fix.device_id, s.fix.record_id) for s in second.stored] == [
        (other.device_id, theirs[0].record_id)
    ]
    assert second.duplicates == 3
    async with backend.db.session() as session:
        assert await store.count_fixes(session, dev.device_id) == 3
        assert await store.count_fixes(session, other.device_id) == 1


async def test_the_key_is_device_time_and_record_number(backend: Backend) -> None:
    dev, other = await device(backend), await device(backend)
    fix = track(dev.device_id, 1, start=T0)[0]
    variants = [
        fix,
        replace(fix, record_id=fix.record_id + 1),  # same time, another record: a second fix
        replace(fix, time=fix.time + timedelta(seconds=1)),  # same record number later (wrapped): a fix
        replace(fix, lat=fix.lat + 1),  # same key, other content: the first one stands
    ]
    new, dups = await stored(backend, [Report(dev, f, "egts") for f in variants])
    assert (len(new), dups) == (3, 1)
    new, dups = await stored(backend, [Report(other, replace(fix, device_id=other.device_id), "egts")])
    assert (len(new), dups) == (1, 0)
    async with backend.db.session() as session:
        rows = await store.fixes_of_device(session, dev.device_id)
    assert rows[0].lat == pytest.approx(fix.lat)


async def test_a_late_black_box_is_stored_and_returned_in_time_order(backend: Backend) -> None:
    dev = await device(backend)
    fixes = track(dev.device_id, 50, start=T0)
    shuffled = fixes[25:] + list(reversed(fixes[:25]))
    new, _ = await stored(backend, [Report(dev, replace(f, from_black_box=True), "egts") for f in shuffled])
    assert [s.fix.time for s in new] == [f.time for f in fixes]
    async with backend.db.session() as session:
        keys = {(dev.device_id, f.time, f.record_id or 0) for f in fixes}
        assert await store.stored_keys(session, keys) == keys


async def test_nothing_is_half_written_when_the_transaction_fails(backend: Backend) -> None:
    dev = await device(backend)
    fixes = track(dev.device_id, 5, start=T0)
    with pytest.raises(RuntimeError):
        async with backend.db.session() as session:
            await store_reports(session, [Report(dev, f, "egts") for f in fixes], utcnow())
            raise RuntimeError("the process dies before the commit")
    async with backend.db.session() as session:
        assert await store.count_fixes(session, dev.device_id) == 0


async def test_partitions_of_coming_days(backend: Backend) -> None:
    today = utcnow().date()
    async with backend.db.session() as session:
        created = await store.ensure_partitions(session, today, 3)
        await commit(session)
    if backend.kind == "sqlite":
        assert created == []
        return
    async with backend.db.session() as session:
        names = set(
            (
                await session.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'fixes'"
                    )
                )
            ).scalars()
        )
    assert {store.partition_name(today + timedelta(days=d)) for d in range(3)} <= names
    assert "fixes_default" in names


async def test_a_partition_takes_over_its_rows_from_default(backend: Backend) -> None:
    dev = await device(backend)
    far = utcnow().replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=40)
    fixes = track(dev.device_id, 3, start=far, step_s=600)
    await stored(backend, [Report(dev, f, "egts") for f in fixes])
    if backend.kind == "sqlite":  # one plain table: nothing to create, nothing moves
        async with backend.db.session() as session:
            assert await store.ensure_partitions(session, far.date(), 1) == []
            assert await store.count_fixes(session, dev.device_id) == 3
        return

    async def where() -> set[str]:
        async with backend.db.session() as session:
            rows = await session.execute(
                text("SELECT DISTINCT tableoid::regclass::text FROM fixes WHERE device_id = :d"),
                {"d": dev.device_id},
            )
            return set(rows.scalars())

    assert await where() == {"fixes_default"}
    async with backend.db.session() as session:
        assert await store.ensure_partitions(session, far.date(), 1) == [store.partition_name(far.date())]
        await commit(session)
    assert await where() == {store.partition_name(far.date())}
    async with backend.db.session() as session:
        assert await store.ensure_partitions(session, far.date(), 1) == []
        assert await store.count_fixes(session, dev.device_id) == 3
    # and the key still holds across the move
    _, dups = await stored(backend, [Report(dev, f, "egts") for f in fixes])
    assert dups == 3


async def test_migration_goes_down_and_up(backend: Backend, tmp_path: Path) -> None:
    if backend.kind == "sqlite":
        url, name = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", None
    else:
        assert POSTGRES_URL
        url, name = await _create_postgres_database()
    try:
        await upgrade_async(url)
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0001")
        await upgrade_async(url)
        db = Database(url)
        async with db.session() as session:
            assert (await session.execute(text("SELECT count(*) FROM fixes"))).scalar_one() == 0
        await db.dispose()
        assert len(ScriptDirectory.from_config(alembic_config(url)).get_heads()) == 1
    finally:
        if name:
            await _drop_postgres_database(name)


# --- the monitoring bus -------------------------------------------------------------------------------


def sample(n: int) -> list[StoredFix]:
    state = SealState(None, None, None, None, None)
    return [StoredFix(1, None, "egts", T0, fix, state) for fix in track("dev", n, start=T0)]


async def test_bus_hands_out_full_batches_at_once_and_the_rest_after_the_wait() -> None:
    bus = FixBus()
    fixes = sample(25)
    bus.publish(fixes)
    batches = bus.batches(max_items=10, max_wait_s=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert [s.fix for s in await anext(batches)] == [s.fix for s in fixes[:10]]
    assert [s.fix for s in await anext(batches)] == [s.fix for s in fixes[10:20]]
    assert loop.time() - started < 0.1
    assert [s.fix for s in await anext(batches)] == [s.fix for s in fixes[20:]]
    assert 0.15 <= loop.time() - started < 1.0


async def test_bus_batch_collects_what_arrives_within_the_wait() -> None:
    bus = FixBus()
    fixes = sample(6)
    batches = bus.batches(max_items=100, max_wait_s=0.3)
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing yet: the consumer waits without a deadline
    bus.publish(fixes[:3])
    await asyncio.sleep(0.05)
    bus.publish(fixes[3:])
    assert len(await waiting) == 6
    bus.close()
    assert [b async for b in batches] == []


async def test_bus_drops_the_oldest_past_its_bound_and_counts_them() -> None:
    bus = FixBus(max_queued=10)
    fixes = sample(15)
    bus.publish(fixes)
    assert (len(bus), bus.overflowed, bus.published) == (10, 5, 15)
    bus.close()
    got = [s async for batch in bus.batches(100, 0) for s in batch]
    assert [s.fix for s in got] == [s.fix for s in fixes[5:]]
