"""The engine's compiled kernels against plain numpy (and Python) forms of the same computations."""

from __future__ import annotations

import numpy as np
import pytest
from tests.monitoring.tracks import M1, plan_for

from tamga.monitoring import engine_kernels as kernels
from tamga.monitoring.corridor import prepare
from tamga.monitoring.engine_routes import RouteStore


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
    order = kernels._sort_by_group(group, time_us, take, 42)[0]
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
