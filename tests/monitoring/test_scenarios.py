"""Each rule through the whole pipeline, on real corridors of `tamga.simulate.corridors`, on each database.

A movement is lodged, accepted and released over the API; its seal reports through
`POST /api/v1/telemetry`; the monitoring consumer runs the engine under the test's clock (hours of driving
in a second); alarms and crossings are read back through the API. Each scenario raises exactly the alarms
it should, at the fix it should: stated by hand (the rule, the fix's place in the trip) and, to the
microsecond, by the per-fix reference fed the same batches. A clean run of each route raises none.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from pyproj import Geod
from tests.conftest import Backend
from tests.monitoring.pipeline import (
    Pipeline,
    Released,
    expected_crossings,
    expected_outcomes,
    numbered,
    running,
)
from tests.monitoring.tracks import Road, Trip

from tamga.ingest.fix import Fix
from tamga.monitoring import borders
from tamga.monitoring.domain import Rule
from tamga.simulate.corridors import CORRIDORS

KOZLOVICHI_MINSK = CORRIDORS["m1-kozlovichi-brest-minsk"]
VITEBSK_SMOLENSK = CORRIDORS["p20-grigorovschina-vitebsk-smolensk"]
BREST_CUSTOMS = next(w for w in KOZLOVICHI_MINSK.waypoints if w.office_code == "09000")
GEOD = Geod(ellps="WGS84")
OUT_OF_BREST_KM = 30.0  # on the M1 past Brest, towards Kobryn: away from every authorised place


@pytest.fixture(scope="module")
async def pipeline(backend: Backend) -> AsyncIterator[Pipeline]:
    async with running(backend) as p:
        yield p


def trip(released: Released, *, period_s: float = 60.0, seed: int = 1) -> Trip:
    """A truck reporting from the office of departure, half a minute after the release."""
    start = released.released_at.replace(microsecond=0) + timedelta(seconds=30)
    return Trip(released.plan, start=start, period_s=period_s, seed=seed)


def fixes_of(t: Trip, released: Released, before: list[Fix] | None = None) -> list[Fix]:
    return numbered([*(before or []), *(f for _, f in t.fixes())], released.device_id)


def index_at(fixes: list[Fix], at: datetime | None) -> int:
    return next(i for i, f in enumerate(fixes) if f.time == at)


async def check(pipeline: Pipeline, released: Released, fixes: list[Fix]) -> list[tuple[Rule, str, int]]:
    """Assert the pipeline persisted what the reference says; give (rule, open/close, fix index)."""
    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)
    return [(rule, kind, index_at(fixes, fix_time)) for rule, kind, _at, fix_time in got]


def polish_approach(released: Released, start: datetime, count: int = 3) -> list[Fix]:
    """The truck in the queue on the Polish side of Kozlovichi: 440 to 380 m west-south-west of the office,
    within the corridor's end and the office's authorised place."""
    lat0, lon0 = released.plan.route[0]
    out = []
    for i in range(count):
        lon, lat, _ = GEOD.fwd(lon0, lat0, 250.0, 440.0 - 30.0 * i)
        out.append(
            Fix(
                "",
                0,
                start + timedelta(minutes=i),
                lat,
                lon,
                speed_kmh=3.0,
                inputs=1 << 2,
                analog={1: 3900.0},
            )
        )
    return out


async def test_a_clean_run_from_poland_to_minsk_raises_nothing_and_records_the_external_border(
    pipeline: Pipeline,
) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = trip(released)
    approach = polish_approach(released, t.start)
    t.start = t.clock = t.start + timedelta(minutes=len(approach))
    t.drive(Road(released.plan).length / 1000 - 0.5, 80).stop(5)
    fixes = fixes_of(t, released, approach)
    assert 250 < len(fixes) < 300
    await pipeline.send(released, fixes)

    assert await check(pipeline, released, fixes) == []
    crossings = await pipeline.crossings(released)
    assert [(c["from"], c["to"], c["kind"]) for c in crossings] == [
        ("PL", "BY", borders.border_kind("PL", "BY"))
    ]
    assert crossings[0]["kind"] == "external"
    assert expected_crossings(released) == [("PL", "BY")]


async def test_a_clean_run_from_vitebsk_to_smolensk_records_the_union_border(pipeline: Pipeline) -> None:
    released = await pipeline.release(VITEBSK_SMOLENSK, start="07000")
    t = trip(released)
    t.drive(Road(released.plan).length / 1000 - 0.5, 80).stop(5)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)

    assert await check(pipeline, released, fixes) == []
    crossings = await pipeline.crossings(released)
    assert [(c["from"], c["to"]) for c in crossings] == [("BY", "RU")] == expected_crossings(released)
    assert crossings[0]["kind"] == borders.border_kind("BY", "RU") != "external"
    # where the M1's neighbour road crosses the line between Liozna and Rudnya
    assert 30.8 < crossings[0]["lon"] < 31.1


async def test_leaving_the_corridor_and_coming_back(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = trip(released).drive(OUT_OF_BREST_KM, 80)
    t.drive(0.5, 60, offset_to=1500)
    first_out = len(t.samples)
    t.drive(6, 60).drive(0.5, 60, offset_to=0).drive(10, 80)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)

    # three minutes and three fixes outside (the default dwell) open it; the first fix back closes it
    assert await check(pipeline, released, fixes) == [
        (Rule.CORRIDOR_DEVIATION, "open", first_out + 3),
        (Rule.CORRIDOR_DEVIATION, "close", first_out + 7),
    ]
    alarm = (await pipeline.alarms(released))[0]
    assert alarm["severity"] == "high" and alarm["details"]["distance_m"] > 1400


async def test_a_stop_in_the_open_for_forty_minutes(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = trip(released).drive(OUT_OF_BREST_KM, 80)
    stopped = len(t.samples)
    t.stop(40).drive(10, 80)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)

    assert await check(pipeline, released, fixes) == [
        (Rule.UNSCHEDULED_STOP, "open", stopped + 30),
        (Rule.UNSCHEDULED_STOP, "close", stopped + 40),
    ]


async def test_a_rest_at_a_declared_rest_area_is_authorised(pipeline: Pipeline) -> None:
    """The corridor's itinerary declares Byaroza on the M1 a rest area: forty minutes there is no alarm,
    while the same stop in the open is (the test above)."""
    released = await pipeline.release(KOZLOVICHI_MINSK)
    assert any(p.name == "Byaroza" for p in released.plan.places)
    byaroza = next(w for w in KOZLOVICHI_MINSK.waypoints if w.name == "Byaroza")
    at_km = Road(released.plan).where((byaroza.lat, byaroza.lon)) / 1000
    t = trip(released).drive(at_km, 80).stop(40).drive(10, 80)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)

    assert await check(pipeline, released, fixes) == []


async def test_a_seal_opened_at_the_customs_office_is_allowed_and_in_the_open_is_critical(
    pipeline: Pipeline,
) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = trip(released)
    to_office = t.road.where((BREST_CUSTOMS.lat, BREST_CUSTOMS.lon)) / 1000
    t.drive(to_office, 50).seal(opened=True).stop(10).seal().stop(2)
    t.drive(OUT_OF_BREST_KM - to_office, 80).seal(opened=True)
    opened = len(t.samples)
    t.stop(5).seal().stop(2).drive(10, 80)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)

    assert await check(pipeline, released, fixes) == [
        (Rule.SEAL_OPENED, "open", opened),
        (Rule.SEAL_OPENED, "close", opened + 5),
    ]
    alarm = (await pipeline.alarms(released))[0]
    assert alarm["severity"] == "critical"


async def test_a_seal_opened_reported_through_the_egts_gateway(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK, egts=True)
    t = trip(released).drive(OUT_OF_BREST_KM, 80).seal(opened=True)
    opened = len(t.samples)
    t.stop(3).seal(tampered=True).stop(2).seal().drive(5, 80).battery(3300)
    low = len(t.samples)
    t.drive(3, 80)
    fixes = fixes_of(t, released)
    async with pipeline.egts_terminal(released) as terminal:
        await pipeline.send(released, fixes, egts=terminal)

    # the generic EGTS seal's inputs and its battery in millivolts, read through its device profile
    assert await check(pipeline, released, fixes) == [
        (Rule.SEAL_OPENED, "open", opened),
        (Rule.SEAL_OPENED, "close", opened + 5),
        (Rule.LOW_BATTERY, "open", low),
    ]


async def test_signal_lost_seen_by_the_tick_and_back_with_the_next_fix(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = trip(released).drive(OUT_OF_BREST_KM, 80)
    before = fixes_of(t, released)
    await pipeline.send(released, before)
    last = before[-1].time
    threshold = released.plan.signal_lost_after
    await pipeline.tick(released, last + threshold - timedelta(seconds=1))  # not yet
    await pipeline.tick(released, last + threshold + timedelta(seconds=30))
    t.gap(20, 80).drive(10, 80)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes[len(before) :])

    assert await check(pipeline, released, fixes) == [
        (Rule.SIGNAL_LOST, "open", len(before) - 1),
        (Rule.SIGNAL_LOST, "close", len(before)),
    ]
    alarm = (await pipeline.alarms(released))[0]
    assert datetime.fromisoformat(alarm["opened_at"]) == last + threshold


async def test_late_then_past_the_time_limit(pipeline: Pipeline) -> None:
    # 338 km in 6.5 hours: on time at the start (5.6 hours at the nominal 60 km/h); three hours at the
    # Brest customs office (an authorised place: no unscheduled stop) make it late.
    limit = datetime.now().astimezone() + timedelta(hours=6, minutes=30)
    released = await pipeline.release(KOZLOVICHI_MINSK, time_limit=limit)
    t = trip(released, period_s=120.0)
    to_office = t.road.where((BREST_CUSTOMS.lat, BREST_CUSTOMS.lon)) / 1000
    t.drive(to_office, 60)
    waiting = len(t.samples)
    t.stop(180)
    left = len(t.samples)
    t.drive(300, 80)
    fixes = [f for f in fixes_of(t, released) if f.time <= released.plan.time_limit + timedelta(minutes=10)]
    await pipeline.send(released, fixes)

    outcomes = await check(pipeline, released, fixes)
    assert [(rule, kind) for rule, kind, _ in outcomes] == [
        (Rule.LATE, "open"),
        (Rule.TIME_LIMIT_EXCEEDED, "open"),
    ]
    assert waiting < outcomes[0][2] < left
    first_after = next(i for i, f in enumerate(fixes) if f.time > released.plan.time_limit)
    assert outcomes[1][2] == first_after


async def test_time_limit_passed_without_fixes_is_seen_by_the_tick(pipeline: Pipeline) -> None:
    limit = datetime.now().astimezone() + timedelta(hours=8)
    released = await pipeline.release(KOZLOVICHI_MINSK, time_limit=limit)
    t = trip(released).drive(OUT_OF_BREST_KM, 80)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)
    await pipeline.tick(released, released.plan.time_limit + timedelta(minutes=1))

    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)
    rules = {(rule, kind) for rule, kind, _, _ in got}
    assert rules == {(Rule.SIGNAL_LOST, "open"), (Rule.LATE, "open"), (Rule.TIME_LIMIT_EXCEEDED, "open")}
    opened = {rule: at for rule, _, at, _ in got}
    assert opened[Rule.TIME_LIMIT_EXCEEDED] == released.plan.time_limit


async def test_a_jump_over_200_kmh_is_implausible(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = trip(released).drive(OUT_OF_BREST_KM, 80)
    spoofed = len(t.samples)
    t.spoof(ahead_km=12).drive(10, 80)  # a fix 12 km further along the road, a minute after the last
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)

    # the jump there and the jump back are both implausible; the next plausible pair closes it
    assert await check(pipeline, released, fixes) == [
        (Rule.IMPLAUSIBLE_MOVEMENT, "open", spoofed),
        (Rule.IMPLAUSIBLE_MOVEMENT, "close", spoofed + 2),
    ]
    alarm = (await pipeline.alarms(released))[0]
    assert alarm["details"]["speed_kmh"] > 200 and len(alarm["evidence"]) == 2
    assert math.isclose(alarm["details"]["distance_m"], 12_000 + 1333, rel_tol=0.05)


async def test_a_low_battery_and_a_fresh_one(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    t = trip(released).drive(OUT_OF_BREST_KM, 80).battery(3400)
    low = len(t.samples)
    t.drive(8, 80).battery(4000)
    fresh = len(t.samples)
    t.drive(8, 80)
    fixes = fixes_of(t, released)
    await pipeline.send(released, fixes)

    assert await check(pipeline, released, fixes) == [
        (Rule.LOW_BATTERY, "open", low),
        (Rule.LOW_BATTERY, "close", fresh),
    ]
