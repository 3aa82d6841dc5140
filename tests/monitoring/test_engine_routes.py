"""The route store: the gridded distance to a route is the exact one, and dropped routes leave it."""

from __future__ import annotations

import gc
import itertools

import numpy as np
from tests.monitoring.tracks import M1, plan_for

from tamga.monitoring.corridor import PreparedCorridor, prepare
from tamga.monitoring.engine_routes import CELL_M, EXACT_WITHIN_M, RouteStore


def brute_force(corridor: PreparedCorridor, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every segment of the route, in order, the first nearest one kept: the reference's way."""
    coords = np.asarray(corridor.line.coords)
    distance = np.full(x.size, np.inf)
    along = np.zeros(x.size)
    walked = 0.0
    for (ax, ay), (bx, by) in itertools.pairwise(coords):
        dx, dy = bx - ax, by - ay
        sq = dx * dx + dy * dy
        t = np.zeros(x.size) if sq == 0.0 else np.clip(((x - ax) * dx + (y - ay) * dy) / sq, 0.0, 1.0)
        d = np.hypot(x - (ax + t * dx), y - (ay + t * dy))
        better = d < distance
        distance[better] = d[better]
        along[better] = walked + t[better] * np.sqrt(sq)
        walked += float(np.hypot(dx, dy))
    return distance, along


def test_the_gridded_distance_is_the_exact_one_near_and_far() -> None:
    store = RouteStore()
    rng = np.random.default_rng(3)
    corridors = [
        prepare(plan_for(i, M1[k : k + n])) for i, (k, n) in enumerate([(0, 5), (9, 8), (16, 3), (0, 27)])
    ]
    corridors.append(prepare(plan_for(9, M1[9:10])))  # a route of one point
    slots = store.slots(corridors)
    assert store.slots(corridors).tolist() == slots.tolist() and len(store) == len(corridors)
    for slot, corridor in zip(slots.tolist(), corridors, strict=True):
        coords = np.asarray(corridor.line.coords)
        pick = rng.integers(0, len(coords), 400)
        spread = rng.choice([10.0, 300.0, EXACT_WITHIN_M, CELL_M, 8_000.0, 90_000.0], 400)
        x = coords[pick, 0] + rng.normal(0, 1, 400) * spread
        y = coords[pick, 1] + rng.normal(0, 1, 400) * spread
        k = min(5, len(coords))
        x[:k], y[:k] = coords[:k, 0], coords[:k, 1]  # on vertices: a tie between two segments
        distance, along = store.locate(np.full(400, slot), x, y)
        want_distance, want_along = brute_force(corridor, x, y)
        assert np.array_equal(distance, want_distance)
        assert np.array_equal(along, want_along)


def test_dropped_routes_leave_the_store_and_the_rest_still_measure() -> None:
    store = RouteStore()
    store.compact_after = 1_000
    keep = prepare(plan_for(1, M1[9:14]))
    dropped = [prepare(plan_for(i, M1)) for i in range(2, 80)]
    store.slots([*dropped, keep])
    grown = store.nbytes
    del dropped
    gc.collect()
    assert store.generation == 0  # nothing moves until the engine asks
    store.maintain()
    assert len(store) == 1 and store.generation == 1  # compacted
    (slot,) = store.slots([keep]).tolist()
    assert slot == 0 and store.nbytes < grown
    coords = np.asarray(keep.line.coords)
    x, y = coords[:, 0] + 120.0, coords[:, 1] - 40.0
    distance, along = store.locate(np.zeros(x.size, dtype=np.int64), x, y)
    assert np.array_equal(distance, brute_force(keep, x, y)[0])
    assert np.array_equal(along, brute_force(keep, x, y)[1])
