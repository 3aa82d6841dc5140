"""A restart of the monitoring consumer in the middle of a trip, on each database: the new consumer
rebuilds the movement's state from its stored fixes, so an alarm still open is not raised again and a
deviation that had begun before the restart is raised at the same fix as without it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tests.conftest import Backend
from tests.monitoring.pipeline import Pipeline, expected_outcomes, numbered, running
from tests.monitoring.tracks import Trip

from tamga.monitoring.domain import Rule
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


async def test_fixes_the_rebuild_took_are_not_taken_again_from_the_bus(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = Trip(released.plan, start=released.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(30, 80).spoof(ahead_km=12).drive(3, 80)
    fixes = numbered([f for _, f in t.fixes()], released.device_id)
    await pipeline.send(released, fixes)
    before = await pipeline.outcomes(released)
    assert [(r, k) for r, k, *_ in before] == [
        (Rule.IMPLAUSIBLE_MOVEMENT, "open"),
        (Rule.IMPLAUSIBLE_MOVEMENT, "close"),
    ]
    # The consumer restarts while fixes it had stored are still on the bus (stored just before): the
    # rebuild takes them from the table, the bus's copies are dropped, no late replay makes a finding.
    bus = pipeline.app.state.bus
    await pipeline.app.state.monitoring.stop()
    from tamga.ingest.bus import StoredFix
    from tamga.ingest.profiles import SealState
    from tamga.kit.clock import utcnow

    seal_state = SealState(False, False, True, 3.9, False)
    bus.publish(StoredFix(0, released.id, "http", utcnow(), f, seal_state) for f in fixes[-5:])
    await pipeline.restart_monitoring()
    pipeline.sent = 5
    await pipeline.settle()
    assert await pipeline.outcomes(released) == before
    timeline = await pipeline.timeline(released)
    assert not [e for e in timeline if e["details"].get("action") == "retrospective"]
