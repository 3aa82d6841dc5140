"""The time rules without new fixes: signal lost, late and time limit exceeded, opened by the tick, once,
at the right time, on each database; a movement off the road is left alone; the timed loop runs them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from tests.conftest import Backend
from tests.monitoring.pipeline import Pipeline, SimClock, expected_outcomes, numbered, running
from tests.monitoring.tracks import Trip
from tests.support.builders import ok

from tamga.monitoring.domain import Rule
from tamga.monitoring.service import Monitor, run_time_checks
from tamga.simulate.corridors import CORRIDORS

KOZLOVICHI_MINSK = CORRIDORS["m1-kozlovichi-brest-minsk"]


@pytest.fixture(scope="module")
async def pipeline(backend: Backend) -> AsyncIterator[Pipeline]:
    async with running(backend) as p:
        yield p


async def test_a_silent_seal_is_lost_once_the_threshold_has_passed_and_only_once(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    threshold = released.plan.signal_lost_after
    assert threshold == timedelta(minutes=10)  # twice the generic seal's five-minute period
    await pipeline.tick(released, released.plan.released_at + threshold)
    assert await pipeline.outcomes(released) == []
    await pipeline.tick(released, released.plan.released_at + threshold + timedelta(seconds=1))
    await pipeline.tick(released, released.plan.released_at + threshold + timedelta(minutes=5))

    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)
    assert got == [(Rule.SIGNAL_LOST, "open", released.plan.released_at + threshold, None)]
    timeline = await pipeline.timeline(released)
    assert [(e["details"]["rule"], e["details"]["action"]) for e in timeline if e["kind"] == "alarm"] == [
        ("signal_lost", "opened")
    ]


async def test_a_silent_truck_is_lost_then_late_and_overdue_once_past_the_limit(pipeline: Pipeline) -> None:
    limit = datetime.now().astimezone() + timedelta(hours=8)
    released = await pipeline.release(KOZLOVICHI_MINSK, time_limit=limit)
    start = released.released_at + timedelta(seconds=30)
    t = Trip(released.plan, start=start, period_s=60.0).drive(5, 50).stop(3)
    await pipeline.send(released, numbered([f for _, f in t.fixes()], released.device_id))
    last = t.samples[-1].time
    plan = released.plan
    # Without fixes the estimate stays the one from the last position (333 km at about 55 km/h: on time),
    # never earlier than now: so a silent truck is late from the moment the limit has passed.
    ticks = (last + timedelta(minutes=11), plan.time_limit - timedelta(hours=1), plan.time_limit)
    for at in ticks:
        await pipeline.tick(released, at)
    assert [rule for rule, *_ in await pipeline.outcomes(released)] == [Rule.SIGNAL_LOST]
    await pipeline.tick(released, plan.time_limit + timedelta(seconds=1))
    await pipeline.tick(released, plan.time_limit + timedelta(hours=1))

    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)
    assert [(rule, at) for rule, _, at, _ in got] == [
        (Rule.SIGNAL_LOST, last + plan.signal_lost_after),
        (Rule.TIME_LIMIT_EXCEEDED, plan.time_limit),
        (Rule.LATE, plan.time_limit + timedelta(seconds=1)),
    ]
    late = next(a for a in await pipeline.alarms(released) if a["rule"] == "late")
    assert 330 < late["details"]["remaining_km"] < 336
    assert datetime.fromisoformat(late["details"]["eta"]) > plan.time_limit


async def test_a_movement_that_arrived_is_off_monitoring(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    officer = await pipeline.officer(KOZLOVICHI_MINSK.end_office, None)
    ok(await pipeline.http.post(f"/api/v1/movements/{released.id}/arrival", json={}, headers=officer))
    await pipeline.monitor.tick(pipeline.backend.db, released.plan.time_limit + timedelta(days=1))
    assert await pipeline.alarms(released) == []
    assert released.id not in pipeline.monitor.plans and released.id not in pipeline.monitor.states


async def test_the_timed_loop_ticks_on_the_monitors_clock(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    clock = SimClock(released.plan.released_at + timedelta(hours=1))
    monitor = Monitor(clock=clock)
    settings = pipeline.backend.settings.model_copy(update={"monitoring_tick_s": 0.05})
    task = asyncio.get_running_loop().create_task(run_time_checks(pipeline.backend.db, settings, monitor))
    try:
        for _ in range(200):
            if any(a["rule"] == "signal_lost" for a in await pipeline.alarms(released)):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    alarm = next(a for a in await pipeline.alarms(released) if a["rule"] == "signal_lost")
    assert datetime.fromisoformat(alarm["opened_at"]) == released.plan.released_at + timedelta(minutes=10)


async def test_two_monitoring_processes_opening_one_alarm_at_once_keep_one_and_go_on(
    pipeline: Pipeline,
) -> None:
    """Each process that monitors (`tamga serve`, each of its workers, `tamga ingest`) runs the time rules:
    two that open the same alarm at the same moment leave one alarm, and neither loses its batch or the
    states it holds."""
    released = await pipeline.release(KOZLOVICHI_MINSK)
    at = released.plan.released_at + released.plan.signal_lost_after + timedelta(seconds=1)
    other = Monitor(corridor_width_m=pipeline.monitor.corridor_width_m)
    pipeline.clock.now = at
    db = pipeline.backend.db
    await asyncio.gather(pipeline.monitor.tick(db, at), other.tick(db, at))

    assert pipeline.monitor.failed_batches == other.failed_batches == 0
    assert [a["rule"] for a in await pipeline.alarms(released)] == ["signal_lost"]
    timeline = await pipeline.timeline(released)
    assert [e["details"]["action"] for e in timeline if e["kind"] == "alarm"] == ["opened"]
    for monitor in (pipeline.monitor, other):
        assert Rule.SIGNAL_LOST in monitor.states[released.id].open_alarms
