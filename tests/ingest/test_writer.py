"""Group commit on each database: the writer stores many connections' fixes in one transaction, gives each
its own outcome only after the commit, publishes what was new, and a submission that cannot be stored
fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tests.conftest import Backend
from tests.ingest.devices import register_seal, track

from tamga.ingest import store
from tamga.ingest.bus import FixBus, StoredFix
from tamga.ingest.service import Device, Report, StoreOutcome, device_of
from tamga.ingest.writer import FixWriter

T0 = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


async def devices(backend: Backend, count: int) -> list[Device]:
    found = []
    for _ in range(count):
        seal = await register_seal(backend.db)
        async with backend.db.session() as session:
            row = await store.seal_by_device_id(session, seal.device_id)
            assert row is not None
            found.append(device_of(row))
    return found


async def test_many_submissions_share_one_transaction_and_each_gets_its_own_outcome(backend: Backend) -> None:
    devs = await devices(backend, 5)
    bus = FixBus()
    writer = FixWriter(backend.db, bus)
    tracks = {d.device_id: track(d.device_id, 20, start=T0) for d in devs}
    submissions = [[Report(d, f, "egts") for f in tracks[d.device_id]] for d in devs]
    # The first device sends its last five fixes again in a second submission of the same group.
    submissions.append([Report(devs[0], f, "egts") for f in tracks[devs[0].device_id][15:]])
    try:
        outcomes = await asyncio.gather(*(writer.store(s) for s in submissions))
    finally:
        await writer.close()
    assert writer.stats.groups == 1  # all were handed over before the writer ran
    assert [(len(o.stored), o.duplicates) for o in outcomes] == [(20, 0)] * 5 + [(0, 5)]
    for dev, outcome in zip(devs, outcomes, strict=False):
        assert [s.fix.record_id for s in outcome.stored] == [f.record_id for f in tracks[dev.device_id]]
    published = [batch async for batch in _drain(bus)]
    assert sum(len(b) for b in published) == 100
    async with backend.db.session() as session:
        for dev in devs:
            assert await store.count_fixes(session, dev.device_id) == 20


async def test_a_submission_that_cannot_be_stored_fails_alone(backend: Backend) -> None:
    good, bad = await devices(backend, 2)
    writer = FixWriter(backend.db, FixBus())
    fixes = track(good.device_id, 10, start=T0)
    # A record number no database integer holds: the whole group's statement fails on it.
    poison = replace(track(bad.device_id, 1, start=T0)[0], record_id=2**70)
    submissions = [
        [Report(good, f, "egts") for f in fixes[:5]],
        [Report(bad, poison, "egts")],
        [Report(good, f, "egts") for f in fixes[5:]],
    ]
    try:
        results = await asyncio.gather(*(writer.store(s) for s in submissions), return_exceptions=True)
    finally:
        await writer.close()
    assert isinstance(results[0], StoreOutcome) and len(results[0].stored) == 5
    assert isinstance(results[1], Exception)
    assert isinstance(results[2], StoreOutcome) and len(results[2].stored) == 5
    assert (writer.stats.failed_groups, writer.stats.failed_submissions) == (1, 1)
    async with backend.db.session() as session:
        assert await store.count_fixes(session, good.device_id) == 10
        assert await store.count_fixes(session, bad.device_id) == 0


async def test_a_caller_that_goes_away_does_not_stop_the_writer(backend: Backend) -> None:
    (dev,) = await devices(backend, 1)
    writer = FixWriter(backend.db, FixBus())
    fixes = track(dev.device_id, 6, start=T0)
    try:
        gone = asyncio.ensure_future(writer.store([Report(dev, f, "egts") for f in fixes[:3]]))
        await asyncio.sleep(0)
        gone.cancel()  # its connection was cut while it waited
        outcome = await writer.store([Report(dev, f, "egts") for f in fixes])
    finally:
        await writer.close()
    assert gone.cancelled()
    # Whether or not the first submission had been taken, every fix is stored once.
    assert len(outcome.stored) + outcome.duplicates == 6
    async with backend.db.session() as session:
        assert await store.count_fixes(session, dev.device_id) == 6


async def test_a_closed_writer_refuses_more(backend: Backend) -> None:
    (dev,) = await devices(backend, 1)
    writer = FixWriter(backend.db, FixBus())
    await writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        await writer.store([Report(dev, track(dev.device_id, 1, start=T0)[0], "egts")])


async def _drain(bus: FixBus) -> AsyncIterator[list[StoredFix]]:
    bus.close()
    async for batch in bus.batches(max_items=1000, max_wait_s=0):
        yield batch
