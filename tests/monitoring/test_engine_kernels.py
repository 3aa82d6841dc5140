"""The engine's compiled kernels against plain numpy (and Python) forms of the same computations."""

from __future__ import annotations

import numpy as np
import pytest
from tests.monitoring.tracks import M1, plan_for

from tamga.monitoring import engine_kernels as kernels
from tamga.monitoring.corridor import prepare, project_arrays
from tamga.monitoring.engine_routes import RouteStore
from tamga.monitoring.engine_states import NONE_US


@pytest.mark.parametrize("seed", range(5))
def test_distinct_gives_numpy_unique_and_its_inverse(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array([-(2**62), -7, 0, 3, 2**40, 2**62, *range(100, 400)]), 5_000)
    ids, index = kernels.distinct(values)
    want_ids, want_index = np.unique(values, return_inverse=True)
    assert ids.tolist() == want_ids.tolist() and index.tolist() == want_index.tolist()
    empty_ids, empty_index = kernels.distinct(np.zeros(0, dtype=np.int64))
    assert empty_ids.size == 0 and empty_index.size == 0


@pytest.mark.parametrize("seed", range(5))
def test_the_batch_order_is_numpys_stable_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4_000
    group = rng.integers(0, 40, n)
    group[:300] = 41  # one long group, out of order: the merge sort's way
    time_us = rng.integers(0, 50, n) * 1_000_000  # many equal times: position decides
    take = rng.random(n) < 0.9
    order = kernels.order_by_group(group, time_us, take, 42)
    taken = np.flatnonzero(take)
    want = taken[np.lexsort((time_us[taken], group[taken]))]
    assert order.tolist() == want.tolist()


def test_a_search_from_any_hint_finds_what_a_binary_search_finds() -> None:
    rng = np.random.default_rng(7)
    cells = np.sort(rng.integers(0, 10_000, 3_000))
    for key in [-5, 0, 17, 5_000, 9_999, 20_000, *rng.integers(0, 10_000, 200).tolist()]:
        want = int(np.searchsorted(cells, key))
        for hint in [-1, 0, 1, 2_999, 3_000, 10**9, *rng.integers(0, 3_000, 20).tolist()]:
            assert kernels.lower_bound_from(cells, key, hint) == want


def test_hinted_route_lookups_give_the_unhinted_answers() -> None:
    store = RouteStore()
    corridors = [prepare(plan_for(i, M1[k : k + 9])) for i, k in enumerate([0, 6, 12, 18])]
    slots = store.slots(corridors)
    rng = np.random.default_rng(11)
    n = 2_000
    which = rng.integers(0, len(corridors), n)
    coords = [np.asarray(c.line.coords) for c in corridors]
    pick = np.array([coords[w][rng.integers(0, len(coords[w]))] for w in which.tolist()])
    x = pick[:, 0] + rng.normal(0, 3_000, n)
    y = pick[:, 1] + rng.normal(0, 3_000, n)
    distance, along = store.locate(slots[which], x, y)
    for hints in (rng.integers(-1, 10**6, n), np.zeros(n, dtype=np.int64)):
        hinted_distance, hinted_along, found = store.locate_hinted(slots[which], x, y, hints)
        assert np.array_equal(hinted_distance, distance) and np.array_equal(hinted_along, along)
    # what was found is a perfect hint the next time
    again = store.locate_hinted(slots[which], x, y, found)
    assert np.array_equal(again[0], distance) and np.array_equal(again[2], found)


def test_grouped_projection_is_the_corridors_projection() -> None:
    rng = np.random.default_rng(5)
    n = 1_000
    g = np.sort(rng.integers(0, 30, n))
    starts, _, _ = kernels.groups(g)
    frame = np.column_stack(
        [rng.uniform(50, 57, 30), rng.uniform(22, 40, 30), rng.uniform(6.37e6, 6.39e6, 30)]
    )
    lat, lon = rng.uniform(50, 57, n), rng.uniform(22, 40, n)
    lat[:2] = frame[g[:2], 0]  # at the frame's centre
    lon[:2] = frame[g[:2], 1]
    x, y = kernels.project_groups(g, starts, lat, lon, frame)
    want_x, want_y = project_arrays(lat, lon, frame[g, 0], frame[g, 1], frame[g, 2])
    assert np.allclose(x, want_x, rtol=0, atol=1e-6) and np.allclose(y, want_y, rtol=0, atol=1e-6)
    assert x[0] == 0.0 and y[0] == 0.0


def _latch_vectorised(
    starts: np.ndarray, set_: np.ndarray, reset: np.ndarray, carry: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The latch as numpy group scans (the engine's form before the kernels): the last deciding fix."""
    n = starts.size
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    latest = np.maximum.accumulate(np.where(set_ | reset, np.arange(n), -1))
    last = np.where(latest >= first, latest, -1)
    after = np.where(last >= 0, set_[np.maximum(last, 0)], carry)
    shifted = np.concatenate([carry[:1], after[:-1]])
    before = np.where(starts, carry, shifted)
    return set_ & ~before, reset & before, after


def test_latches_and_dwell_runs_follow_the_rules_fix_by_fix() -> None:
    rng = np.random.default_rng(9)
    n = 600
    g = np.sort(rng.integers(0, 25, n))
    starts, _, _ = kernels.groups(g)
    set_, reset = rng.random(n) < 0.2, rng.random(n) < 0.3
    carry_open = rng.random(25)[g] < 0.5
    opens, closes, after = kernels.latch(starts, set_, reset, carry_open)
    want = _latch_vectorised(starts, set_, reset, carry_open)
    assert [opens.tolist(), closes.tolist(), after.tolist()] == [w.tolist() for w in want]

    # dwell: the alarm opens once the condition held 90 s over at least 3 fixes, closes when it stops
    t = np.cumsum(rng.integers(10, 60, n)) * 1_000_000
    cond = rng.random(n) < 0.7
    carry_since = np.where(rng.random(25) < 0.5, 0, NONE_US)[g]
    carry_count = rng.integers(0, 4, 25)[g]
    carry_dwell_open = (rng.random(25) < 0.3)[g]
    dwell_us, min_fixes = np.full(n, 90_000_000), np.full(n, 3)
    got = kernels.dwell(
        starts, t, cond, carry_since, carry_count, carry_dwell_open, dwell_us, min_fixes, NONE_US
    )
    was_open = since = count = 0
    qualified = False
    for e in range(n):
        if starts[e]:
            was_open = bool(carry_dwell_open[e])
        if starts[e] or cond[e] != cond[e - 1]:
            continued = bool(starts[e]) and cond[e]
            since = carry_since[e] if continued and carry_since[e] != NONE_US else t[e]
            count = carry_count[e] if continued and carry_since[e] != NONE_US else 0
            run_open, qualified = continued and bool(carry_dwell_open[e]), False
        if cond[e]:
            count += 1
            qualifies = t[e] - since >= 90_000_000 and count >= 3
            assert got[0][e] == (qualifies and not qualified and not run_open)
            qualified = qualifies
            now_open = qualifies or run_open
            assert not got[1][e] and got[3][e] == since and got[4][e] == count
        else:
            now_open = False
            assert not got[0][e] and got[1][e] == was_open and got[3][e] == NONE_US
        assert got[2][e] == now_open
        was_open = now_open
