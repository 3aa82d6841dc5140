"""Monitoring engine throughput: the vectorised engine against the per-fix reference, on the same batches.

Two workloads, each on movements along stretches of the M1 (Terespol - Brest - Minsk - Smolensk - Moscow):

- live: `--movements` movements report one fix each (their states warmed by a previous batch), the shape
  of the live stream (a million movements every 30 s is about 33,000 fixes a second);
- black box: `--black-box-movements` movements deliver `--black-box-fixes` stored fixes each at once.

fixes/s = fixes in the batch / wall seconds of `process_batch` (one process, one core); the reference runs
on a copy of the same states. ratio = engine fixes/s / reference fixes/s. Plans are prepared (projected,
indexed) before timing, as a running service keeps them; the boundaries are loaded before timing too.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tamga.ingest.fix import Fix
from tamga.ingest.profiles import device_profile
from tamga.monitoring import borders, engine, reference
from tamga.monitoring.corridor import full_route, prepare
from tamga.monitoring.domain import BatchResult, MovementPlan, MovementState

M1 = (
    (52.0755, 23.61614),
    (52.0832, 23.6576),
    (52.10894, 23.71749),
    (52.21173, 24.3563),
    (52.53129, 24.9782),
    (52.70793, 25.33509),
    (53.13255, 26.00775),
    (53.47994, 26.7351),
    (53.68477, 27.13171),
    (53.90019, 27.56653),
    (54.0985, 28.3331),
    (54.2279, 28.505),
    (54.3178, 29.1374),
    (54.40988, 29.69348),
    (54.51362, 30.40365),
    (54.57187, 30.69117),
    (54.618, 31.036),
    (54.62, 31.065),
    (54.77826, 32.05088),
    (55.06491, 32.69693),
    (55.11091, 33.23728),
    (55.20997, 34.29695),
    (55.55329, 34.99684),
    (55.50194, 36.02722),
    (55.57957, 36.70392),
    (55.66977, 37.27716),
    (55.752, 37.6178),
)
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
Batch = list[tuple[int, Fix]]


def plans_for(count: int, rng: random.Random) -> dict[int, MovementPlan]:
    plans = {}
    for movement_id in range(count):
        first = rng.randrange(0, len(M1) - 3)
        route = M1[first : first + 3]
        plans[movement_id] = MovementPlan(
            movement_id=movement_id,
            route=route,
            released_at=T0,
            time_limit=T0 + timedelta(days=2),
            destination=route[-1],
            device_profile=device_profile("generic-egts-seal"),
            device_period_s=30.0,
        )
        prepare(plans[movement_id])
    return plans


def track(plan: MovementPlan, fixes: int, rng: random.Random, start: datetime) -> Batch:
    """Fixes every 30 s at 70-90 km/h along the plan's route, with a few metres of noise."""
    points = full_route(plan)
    speed = rng.uniform(70, 90) / 3.6
    out: Batch = []
    for k in range(fixes):
        along = (k * 30 * speed) / 10_000  # densified points are at most 10 km apart
        i = min(int(along), len(points) - 2)
        f = min(along - i, 1.0)
        lat = points[i][0] + f * (points[i + 1][0] - points[i][0]) + rng.gauss(0, 4e-5)
        lon = points[i][1] + f * (points[i + 1][1] - points[i][1]) + rng.gauss(0, 6e-5)
        at = start + timedelta(seconds=30 * k)
        out.append((plan.movement_id, Fix("seal", k, at, lat, lon, speed_kmh=speed * 3.6, inputs=4)))
    return out


def timed(
    run: Callable[[dict[int, MovementState]], BatchResult], states: dict[int, MovementState]
) -> tuple[float, BatchResult]:
    gc.collect()  # both start from a clean heap: a collection of the previous run's garbage is not theirs
    start = time.perf_counter()
    result = run(states)
    return time.perf_counter() - start, result


def compare(
    name: str, plans: dict[int, MovementPlan], warm: Batch, batch: Batch, now: datetime
) -> dict[str, float]:
    states: dict[int, MovementState] = {}
    if warm:
        engine.process_batch(plans, states, warm, now)
    ours, theirs = copy.deepcopy(states), copy.deepcopy(states)
    engine_s, got = timed(lambda s: engine.process_batch(plans, s, batch, now), ours)
    reference_s, want = timed(lambda s: reference.process_batch(plans, s, batch, now), theirs)
    assert [(e.movement_id, e.rule, e.kind, e.at) for e in got.events] == [
        (e.movement_id, e.rule, e.kind, e.at) for e in want.events
    ], "the engine and the reference disagree"
    result = {
        "fixes": len(batch),
        "engine_fixes_per_s": len(batch) / engine_s,
        "reference_fixes_per_s": len(batch) / reference_s,
        "ratio": reference_s / engine_s,
        "events": len(got.events),
    }
    print(
        f"{name:10} {len(batch):>8} fixes  engine {result['engine_fixes_per_s']:>10,.0f}/s  "
        f"reference {result['reference_fixes_per_s']:>9,.0f}/s  ratio {result['ratio']:5.1f}  "
        f"events {len(got.events)}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=20_000)
    parser.add_argument("--black-box-movements", type=int, default=40)
    parser.add_argument("--black-box-fixes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    borders.load_boundaries()

    plans = plans_for(args.movements, rng)
    tracks = {m: track(p, 2, rng, T0 + timedelta(seconds=rng.randrange(0, 30))) for m, p in plans.items()}
    live = compare(
        "live",
        plans,
        [t[0] for t in tracks.values()],
        [t[1] for t in tracks.values()],
        T0 + timedelta(minutes=2),
    )
    box_plans = plans_for(args.black_box_movements, rng)
    box = [f for p in box_plans.values() for f in track(p, args.black_box_fixes, rng, T0)]
    rng.shuffle(box)
    black_box = compare("black box", box_plans, [], box, max(f.time for _, f in box))
    print(
        json.dumps(
            {
                "benchmark": "monitoring_engine",
                "live": live,
                "black_box": black_box,
                "engine_over_reference_ratio": round(math.sqrt(live["ratio"] * black_box["ratio"]), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
