"""A restart of the monitoring consumer in the middle of a trip, on each database: the new consumer
rebuilds the movement's state from its stored fixes, so an alarm still open is not raised again and a
deviation that had begun before the restart is raised at the same fix as without it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete
from tests.conftest import Backend
from tests.monitoring.pipeline import Pipeline, expected_outcomes, numbered, running
from tests.monitoring.tracks import Trip

from tamga.kit.db import commit
from tamga.models import MonitoringProgress
from tamga.monitoring.domain import Rule
from tamga.monitoring.repository import progress
from tamga.monitoring.service import CONSUMER
from tamga.simulate.corridors import CORRIDORS

KOZLOVICHI_MINSK = CORRIDORS["m1-kozlovichi-brest-minsk"]


@pytest.fixture(scope="module")
async def pipeline(backend: Backend) -> AsyncIterator[Pipeline]:
    async with running(backend) as p:
        yield p


async def test_a_restart_mid_deviation_neither_repeats_nor_misses_an_alarm(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = Trip(released.plan, start=released.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(30, 80).seal(opened=True)
    opened = len(t.samples)
    t.drive(3, 60).drive(0.5, 60, offset_to=1500)
    first_out = len(t.samples)
    t.drive(2, 60)  # two fixes outside: the deviation is not raised yet (three minutes, three fixes)
    crash = len(t.samples)
    t.drive(4, 60).seal().drive(0.5, 60, offset_to=0).drive(10, 80)
    fixes = numbered([f for _, f in t.fixes()], released.device_id)

    await pipeline.send(released, fixes[:crash])
    assert [(r, k) for r, k, *_ in await pipeline.outcomes(released)] == [(Rule.SEAL_OPENED, "open")]
    await pipeline.restart_monitoring()
    state = pipeline.monitor.states[released.id]
    assert (state.outside_fixes, state.last_time) == (2, fixes[crash - 1].time)
    assert Rule.SEAL_OPENED in state.open_alarms
    await pipeline.send(released, fixes[crash:])

    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)  # the reference ran through without a restart
    at = {(r, k): fixes.index(next(f for f in fixes if f.time == fix)) for r, k, _, fix in got}
    assert len(got) == len(at) == 4
    assert at[(Rule.SEAL_OPENED, "open")] == opened
    assert at[(Rule.CORRIDOR_DEVIATION, "open")] == first_out + 3
    assert at[(Rule.SEAL_OPENED, "close")] > at[(Rule.CORRIDOR_DEVIATION, "open")]
    assert [a["rule"] for a in await pipeline.alarms(released)].count("seal_opened") == 1


async def test_fixes_stored_while_the_consumer_was_down_are_monitored_once(pipeline: Pipeline) -> None:
    """The seal keeps reporting while the consumer is down: its fixes are stored and wait on the bus. The
    new consumer's rebuild leaves them to the bus (they were received after the oldest fix queued there),
    so what they show is raised and persisted, once, and nothing is replayed late."""
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = Trip(released.plan, start=released.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(30, 80)
    down = len(t.samples)
    t.spoof(ahead_km=12).drive(3, 80)
    fixes = numbered([f for _, f in t.fixes()], released.device_id)
    await pipeline.send(released, fixes[:down])
    assert await pipeline.outcomes(released) == []

    await pipeline.app.state.monitoring.stop()
    await pipeline.send(released, fixes[down:], wait=False)
    queued = len(fixes) - down
    await pipeline.restart_monitoring()
    pipeline.sent = queued
    await pipeline.settle()

    got = await pipeline.outcomes(released)
    assert [(r, k) for r, k, *_ in got] == [
        (Rule.IMPLAUSIBLE_MOVEMENT, "open"),
        (Rule.IMPLAUSIBLE_MOVEMENT, "close"),
    ]
    assert got == expected_outcomes(released)
    timeline = await pipeline.timeline(released)
    assert not [e for e in timeline if e["details"].get("action") == "retrospective"]


async def test_fixes_lost_with_the_bus_in_a_crash_are_monitored_once(pipeline: Pipeline) -> None:
    """The process dies after storing fixes (and confirming them to the seal) but before the consumer took
    them from the in-process bus, which dies with it. The new consumer finds them stored after its recorded
    progress, runs them through the engine and stores what they show; what the previous one stored (an
    alarm opened and cleared shortly before) is not stored again."""
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = Trip(released.plan, start=released.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(20, 80).seal(opened=True).drive(3, 60).seal().drive(5, 80)  # seal_opened, opened and cleared
    crash = len(t.samples)
    t.drive(0.5, 60, offset_to=1500).drive(6, 60)  # off the corridor: a deviation, raised at the 3rd fix
    fixes = numbered([f for _, f in t.fixes()], released.device_id)

    await pipeline.send(released, fixes[:crash])
    before = await pipeline.outcomes(released)
    assert [(r, k) for r, k, *_ in before] == [(Rule.SEAL_OPENED, "open"), (Rule.SEAL_OPENED, "close")]
    await pipeline.app.state.monitoring.stop()
    await pipeline.send(released, fixes[crash:], wait=False)
    bus = pipeline.app.state.bus
    lost = await anext(bus.batches(max_items=10**6, max_wait_s=0))  # gone with the crashed process
    assert len(lost) == len(fixes) - crash and len(bus) == 0

    await pipeline.restart_monitoring()  # its start-up catches up before it consumes the bus

    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)  # the reference took every fix, without a crash
    assert [(r, k) for r, k, *_ in got] == [
        (Rule.SEAL_OPENED, "open"),
        (Rule.SEAL_OPENED, "close"),
        (Rule.CORRIDOR_DEVIATION, "open"),
    ]
    alarms = await pipeline.alarms(released)
    assert sorted(a["rule"] for a in alarms) == ["corridor_deviation", "seal_opened"]
    timeline = await pipeline.timeline(released)
    entries = [
        (e["details"].get("alarm_id"), e["details"].get("action")) for e in timeline if e["kind"] == "alarm"
    ]
    assert len(entries) == len(set(entries)) == 3  # opened, cleared, opened: each once


async def test_a_consumer_that_never_recorded_progress_replays_without_storing(pipeline: Pipeline) -> None:
    """Without recorded progress (a database from before it was recorded), a start replays the stored
    fixes to rebuild the state and stores nothing, as it always did."""
    async with pipeline.backend.db.session() as session:
        await session.execute(delete(MonitoringProgress))
        await commit(session)
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = Trip(released.plan, start=released.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(10, 80).drive(0.5, 60, offset_to=1500).drive(6, 60)
    fixes = numbered([f for _, f in t.fixes()], released.device_id)
    await pipeline.app.state.monitoring.stop()
    await pipeline.send(released, fixes, wait=False)
    await anext(pipeline.app.state.bus.batches(max_items=10**6, max_wait_s=0))

    await pipeline.restart_monitoring()

    assert await pipeline.outcomes(released) == []
    assert pipeline.monitor.states[released.id].outside_fixes > 3  # the replay rebuilt where it is
    async with pipeline.backend.db.session() as session:
        assert await progress(session, CONSUMER) is None  # nothing taken from the bus yet
