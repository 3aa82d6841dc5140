"""The vectorised engine and the per-fix reference agree on random tracks along the M1.

Each example drives one to three trucks along random stretches of the M1 (some crossing the Polish border
at Terespol-Brest or the Union line at Redki-Krasnoye) with random thresholds, periods, corridor widths and
time limits, and perturbs their tracks: detours off the corridor, stops, seals opened or cut, gaps, spoofed
jumps, fixes without position or speed, low batteries. The fixes of all trucks are cut into batches that
arrive shuffled, sometimes a batch late (after a newer one: replayed retrospectively), sometimes with a fix
twice, with the clock rules run between batches. Both implementations must give the same events and leave
the same states after every step.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.monitoring.both import Step, batch, check, run_both
from tests.monitoring.tracks import M1, T0, Trip, plan_for

from tamga.ingest.fix import Fix
from tamga.monitoring.domain import MovementPlan, thresholds_for

EXAMPLES = 1000

drive = st.tuples(st.just("drive"), st.floats(1, 40), st.floats(30, 110))
stop = st.tuples(st.just("stop"), st.floats(1, 70), st.just(0.0))
detour = st.tuples(st.just("detour"), st.floats(2, 10), st.sampled_from([-2500.0, -900.0, 800.0, 1600.0]))
seal = st.tuples(st.just("seal"), st.sampled_from([0.0, 1.0, 2.0, 3.0]), st.floats(1, 20))
gap = st.tuples(st.just("gap"), st.floats(2, 90), st.sampled_from([0.0, 70.0]))
spoof = st.tuples(st.just("spoof"), st.sampled_from([-80.0, 40.0, 120.0]), st.just(0.0))
invalid = st.tuples(st.just("invalid"), st.integers(1, 3).map(float), st.just(0.0))
battery = st.tuples(st.just("battery"), st.sampled_from([3300.0, 3900.0]), st.just(0.0))
speedless = st.tuples(st.just("speedless"), st.booleans().map(float), st.just(0.0))
action = st.one_of(drive, drive, stop, detour, seal, gap, spoof, invalid, battery, speedless)

movement = st.fixed_dictionaries(
    {
        "first": st.sampled_from([0, 0, 1, 5, 9, 13, 15, 15, 16, 19]),
        "waypoints": st.integers(2, 4),
        "period_s": st.sampled_from([30.0, 60.0, 60.0, 300.0]),
        "width_m": st.sampled_from([300.0, 500.0, 1000.0]),
        "days": st.sampled_from([0.1, 0.25, 1.0, 3.0]),
        "category": st.sampled_from([None, "tobacco"]),
        "confirm": st.integers(1, 3),
        "places": st.booleans(),
        "actions": st.lists(action, min_size=2, max_size=10),
    }
)


def _trip(movement_id: int, spec: dict[str, Any]) -> Trip:
    route = M1[spec["first"] : spec["first"] + spec["waypoints"]]
    plan = plan_for(
        movement_id,
        route,
        released_at=T0 + timedelta(minutes=7 * movement_id),
        days=spec["days"],
        width_m=spec["width_m"],
        period_s=spec["period_s"],
        thresholds=thresholds_for(spec["category"], border_confirm_fixes=spec["confirm"]),
        **({} if spec["places"] else {"places": ()}),
    )
    trip = Trip(plan, start=plan.released_at, period_s=spec["period_s"], seed=movement_id)
    for name, a, b in spec["actions"]:
        if name == "drive":
            trip.drive(a, b)
        elif name == "stop":
            trip.stop(a)
        elif name == "detour":
            ramp = 60 * 3.6 / 1000 * 4  # four minutes at 60 km/h across
            trip.drive(ramp, 60, offset_to=b).drive(a, 60).drive(ramp, 60, offset_to=0)
        elif name == "seal":
            trip.seal(opened=bool(int(a) & 1), tampered=bool(int(a) & 2)).stop(b)
        elif name == "gap":
            trip.gap(a, kmh=b)
        elif name == "spoof" and a == 120.0:
            trip.spoof(ahead_km=a)
        elif name == "spoof":
            trip.spoof(a)
        elif name == "invalid":
            for _ in range(int(a)):
                trip.invalid()
        elif name == "battery":
            trip.battery(a).stop(2)
        elif name == "speedless":
            trip.report_speed = not bool(a)
        if trip.s > trip.road.length:
            break
    return trip


def _steps(fixes: list[tuple[int, Fix]], rng: random.Random) -> list[Step]:
    """Cut the fixes, in time order, into batches; deliver some late, shuffled, with repeats."""
    fixes = sorted(fixes, key=lambda item: (item[1].time, item[0]))
    chunks: list[list[tuple[int, Fix]]] = []
    i = 0
    while i < len(fixes):
        size = rng.choice([1, 3, 10, 40, 200])
        chunks.append(fixes[i : i + size])
        i += size
    for k in range(len(chunks) - 1):
        if rng.random() < 0.3:  # a black box that arrives after the newer fixes
            chunks[k], chunks[k + 1] = chunks[k + 1], chunks[k]
    steps: list[Step] = []
    newest = T0
    for chunk in chunks:
        chunk = chunk[:]
        if rng.random() < 0.2:
            chunk.append(rng.choice(chunk))
        rng.shuffle(chunk)
        newest = max(newest, *(f.time for _, f in chunk))
        steps.append(batch(chunk, newest + timedelta(seconds=rng.choice([0, 5, 400]))))
        if rng.random() < 0.3:
            steps.append(check(newest + timedelta(minutes=rng.choice([1, 4, 30, 300]))))
    return steps


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(movements=st.lists(movement, min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_engine_and_reference_agree(movements: list[dict[str, Any]], seed: int) -> None:
    trips = [_trip(i + 1, spec) for i, spec in enumerate(movements)]
    plans: dict[int, MovementPlan] = {t.plan.movement_id: t.plan for t in trips}
    fixes = [f for t in trips for f in t.fixes()]
    outcome = run_both(plans, _steps(fixes, random.Random(seed)))
    for rule_kind in sorted({(e.rule.value, e.kind.value) for step in outcome for e in step}):
        event(" ".join(rule_kind))
    if any(e.details.get("retrospective") for step in outcome for e in step):
        event("retrospective")
