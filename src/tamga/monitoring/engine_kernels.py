"""The engine's compiled kernels (numba): each one pass over the batch's columns, no temporaries.

The engine keeps its shape (columns sorted by movement and time, the groups' carried state) and hands
the inner loops here: the batch's order (distinct movements, a counting sort), the projection of each
fix into its movement's plane, the route lookup (the fix's grid cell, the segments listed there, the
nearest one and the position along the route), the per-group scans of the rules (latches, dwell runs,
implied and smoothed speed, border crossings) and the country grid lookup. Each kernel returns new
arrays (`crossings` also updates the carry it is given); none keeps state.

Arithmetic is written in the same order as the per-fix reference and the numpy forms it replaced, and
compiled without `fastmath`, so the results are the IEEE results of the same expressions. The kernels are
compiled when this module is imported (`warm_up`, so that no batch waits for the compiler) and cached on
disk beside it (`cache=True`, in `__pycache__`): a cold compile of all of them takes about 8 s on the
2-core development machine, once per checkout and numba version; loading them from the cache, well under
a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
F = TypeVar("F", bound=Callable[..., Any])

# the route grid's key layout (engine_routes), repeated here as compile-time constants
CELL_M: Final = 4_000.0
AXIS_BITS: Final = 18
AXIS_OFFSET: Final = 1 << (AXIS_BITS - 1)
LOCAL_BITS: Final = 2 * AXIS_BITS
# segment table columns
AX, AY, DX, DY, SQ, ALONG = range(6)


def kernel(function: F) -> F:
    """Compile a function with numba (no Python objects, cached on disk, the GIL released; a float
    division by zero gives inf or NaN as in numpy, not an exception)."""
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(function))


@kernel
def cell_of(v: float) -> int:
    """Give the grid cell (along one axis) of a plane coordinate, clipped to the key space."""
    low, high = float(-AXIS_OFFSET + 2), float(AXIS_OFFSET - 2)
    c = v / CELL_M
    c = low if c < low else (high if c > high else c)  # the bounds are whole: clip, then floor
    return math.floor(c)


@kernel
def _project(lat: float, lon: float, lat0: float, lon0: float, radius: float) -> tuple[float, float]:
    phi0 = math.radians(lat0)
    return _project_from(lat, lon, math.cos(phi0), math.sin(phi0), lon0, radius)


@kernel
def _project_from(
    lat: float, lon: float, cos_phi0: float, sin_phi0: float, lon0: float, radius: float
) -> tuple[float, float]:
    # corridor.project_arrays for one point, the same expressions in the same order
    phi = math.radians(lat)
    dlon = math.radians(lon - lon0)
    cos_phi, sin_phi = math.cos(phi), math.sin(phi)
    cos_dlon = math.cos(dlon)
    east = cos_phi * math.sin(dlon)
    north = cos_phi0 * sin_phi - sin_phi0 * cos_phi * cos_dlon
    cos_c = sin_phi0 * sin_phi + cos_phi0 * cos_phi * cos_dlon
    sin_c = math.hypot(east, north)
    k = 0.0 if sin_c == 0.0 else radius * math.atan2(sin_c, cos_c) / sin_c
    return k * east, k * north


@kernel
def project_groups(
    g: IntArray, starts: BoolArray, lat: FloatArray, lon: FloatArray, frame: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Give plane coordinates of points sorted by group, each in its group's frame (rows of `frame`:
    lat0, lon0, radius); the frame's own sine and cosine once per group."""
    n = lat.size
    x, y = np.empty(n), np.empty(n)
    cos_phi0, sin_phi0 = 1.0, 0.0
    for i in range(n):
        k = g[i]
        if starts[i]:
            phi0 = math.radians(frame[k, 0])
            cos_phi0, sin_phi0 = math.cos(phi0), math.sin(phi0)
        x[i], y[i] = _project_from(lat[i], lon[i], cos_phi0, sin_phi0, frame[k, 1], frame[k, 2])
    return x, y


@kernel
def _segment_t(s: FloatArray, seg: int, px: float, py: float) -> float:
    sq = s[seg, SQ]
    if sq == 0.0:
        return 0.0
    t = ((px - s[seg, AX]) * s[seg, DX] + (py - s[seg, AY]) * s[seg, DY]) / sq
    return 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)


@kernel
def _nearer(
    s: FloatArray, seg: int, px: float, py: float, best: float, best_sq: float
) -> tuple[float, float]:
    """Give the point's distance to a segment and its square, or (inf, inf) when it is surely not less
    than `best` (whose square is `best_sq`): the square decides first, and only a candidate within a
    hair of the best pays for `hypot`, the reference's (and numpy's) distance."""
    t = _segment_t(s, seg, px, py)
    ex, ey = px - (s[seg, AX] + t * s[seg, DX]), py - (s[seg, AY] + t * s[seg, DY])
    sq = ex * ex + ey * ey
    # sq and best_sq are within a few ulps of the true squares: 1e-9 relative is far beyond that
    if sq > best_sq * (1.0 + 1e-9):
        return np.inf, np.inf
    d = math.hypot(ex, ey)
    return (d, sq) if d < best else (np.inf, np.inf)


@kernel
def _lower_bound(cells: IntArray, key: int, low: int, high: int) -> int:
    while low < high:
        middle = (low + high) >> 1
        if cells[middle] < key:
            low = middle + 1
        else:
            high = middle
    return low


@kernel
def lower_bound_from(cells: IntArray, key: int, hint: int) -> int:
    """Give the first index whose cell is at least `key`, searching outwards from `hint` (galloping):
    a few steps in memory already cached when the hint is near, a binary search when there is none."""
    n = cells.size
    if hint < 0 or hint >= n:
        return _lower_bound(cells, key, 0, n)
    step = 1
    if cells[hint] < key:
        low = hint + 1  # cells[low - 1] < key
        high = low
        while high < n and cells[high] < key:
            low = high + 1
            high = low + step
            step *= 2
        high = min(high, n)  # high == n or cells[high] >= key
    else:
        high = hint  # cells[high] >= key
        low = high
        while low > 0 and cells[low - 1] >= key:
            high = low - 1
            low = high - step
            step *= 2
        low = max(low, 0)  # low == 0 or cells[low - 1] < key
    return _lower_bound(cells, key, low, high)


@kernel
def locate(
    slots: IntArray,
    x: FloatArray,
    y: FloatArray,
    hints: IntArray,
    cells: IntArray,
    cell_start: IntArray,
    entries: npt.NDArray[np.int32],
    segments: FloatArray,
    first: IntArray,
    count: IntArray,
    exact_within: float,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Give each point's distance to its route and the distance along the route of the nearest point,
    and where its cell was found in `cells` (a hint for the movement's next fix).

    A point's cell is searched from its hint (-1: none), else from the cell of the point before it when
    that is on the same route. The segments listed under the cell are measured first (listed in route
    order, so a strict comparison keeps the first nearest); a point no nearer than `exact_within` to any
    of them is measured against every segment of its route.
    """
    n = x.size
    n_cells = cells.size
    distance, along = np.empty(n), np.empty(n)
    found = np.empty(n, dtype=np.int64)
    last_key, low = -1, -1
    for i in range(n):
        px, py, slot = x[i], y[i], slots[i]
        local = ((cell_of(px) + AXIS_OFFSET) << AXIS_BITS) | (cell_of(py) + AXIS_OFFSET)
        key = (slot << LOCAL_BITS) | local
        if key != last_key:  # a truck's next fix is mostly in the same cell: no search then
            if hints[i] >= 0:
                low = lower_bound_from(cells, key, hints[i])
            elif i > 0 and slots[i - 1] == slot:
                low = lower_bound_from(cells, key, low)
            else:
                low = lower_bound_from(cells, key, -1)
            last_key = key
        found[i] = low
        best, best_sq, best_segment = np.inf, np.inf, -1
        if low < n_cells and cells[low] == key:
            for e in range(cell_start[low], cell_start[low + 1]):
                seg = entries[e]
                d, sq = _nearer(segments, seg, px, py, best, best_sq)
                if d < best:
                    best, best_sq, best_segment = d, sq, seg
        if not best < exact_within:
            best, best_sq, best_segment = np.inf, np.inf, -1
            for seg in range(first[slot], first[slot] + count[slot]):
                d, sq = _nearer(segments, seg, px, py, best, best_sq)
                if d < best:
                    best, best_sq, best_segment = d, sq, seg
        distance[i] = best
        if best_segment < 0:
            along[i] = np.nan
        else:
            t = _segment_t(segments, best_segment, px, py)
            along[i] = segments[best_segment, ALONG] + t * math.sqrt(segments[best_segment, SQ])
    return distance, along, found


# --- group scans ----------------------------------------------------------------------------------
# Elements sorted by group; `starts` marks each group's first element. A group's carried state comes in
# per element (the engine gathers it by group), and only its value at a group's start is read.


@kernel
def groups(g: IntArray) -> tuple[BoolArray, BoolArray, IntArray]:
    """Give, for elements sorted by group, each one's start flag, end flag and its group's first index."""
    n = g.size
    starts, ends = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
    first = np.empty(n, dtype=np.int64)
    at = 0
    for e in range(n):
        starts[e] = e == 0 or g[e] != g[e - 1]
        ends[e] = e == n - 1 or g[e] != g[e + 1]
        if starts[e]:
            at = e
        first[e] = at
    return starts, ends, first


@kernel
def latch(
    starts: BoolArray, set_: BoolArray, reset: BoolArray, carry_open: BoolArray
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """An alarm that a fix opens (`set_`) or closes (`reset`) and others leave: opens, closes, open after."""
    n = starts.size
    opens, closes = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
    after = np.empty(n, dtype=np.bool_)
    state = False
    for e in range(n):
        if starts[e]:
            state = carry_open[e]
        before = state
        if set_[e]:
            state = True
        elif reset[e]:
            state = False
        opens[e] = set_[e] and not before
        closes[e] = reset[e] and before
        after[e] = state
    return opens, closes, after


@kernel
def dwell(
    starts: BoolArray,
    t: IntArray,
    cond: BoolArray,
    carry_since: IntArray,
    carry_count: IntArray,
    carry_open: BoolArray,
    dwell_us: IntArray,
    min_fixes: IntArray,
    none_us: int,
) -> tuple[BoolArray, BoolArray, BoolArray, IntArray, IntArray]:
    """An alarm that opens once `cond` has held for `dwell_us` and `min_fixes` fixes, and closes when it
    stops holding: opens, closes, open after, the run's since (`none_us` outside one) and its count.

    A run at a group's start continues the carried one (`carry_since`, `carry_count`, `carry_open`)."""
    n = starts.size
    opens, closes = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
    open_after = np.empty(n, dtype=np.bool_)
    since_out, count_out = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    since, count = none_us, 0
    was_open = False  # the alarm open after the previous element (the carry at a group's start)
    run_open = False  # the run continues an open carried alarm
    qualified = False  # the run has qualified at an earlier element
    for e in range(n):
        if starts[e]:
            was_open = carry_open[e]
        run_starts = starts[e] or cond[e] != cond[e - 1]
        if run_starts:
            qualified = False
            run_open = False
            if cond[e]:
                if starts[e] and carry_since[e] != none_us:
                    since, count = carry_since[e], carry_count[e]
                else:
                    since, count = t[e], 0
                run_open = starts[e] and carry_open[e]
        if cond[e]:
            count += 1
            qualifies = t[e] - since >= dwell_us[e] and count >= min_fixes[e]
            opens[e] = qualifies and not qualified and not run_open
            qualified = qualifies
            now_open = qualifies or run_open
            closes[e] = False
            since_out[e], count_out[e] = since, count
        else:
            opens[e] = False
            now_open = False
            closes[e] = was_open
            since_out[e], count_out[e] = none_us, 0
        open_after[e] = now_open
        was_open = now_open
    return opens, closes, open_after, since_out, count_out


# --- the batch's order ----------------------------------------------------------------------------


@kernel
def distinct(values: IntArray) -> tuple[IntArray, IntArray]:
    """Give the distinct values, ascending, and each value's index among them (an open-addressing hash
    table, then a sort of the distinct values only: linear in the batch)."""
    n = values.size
    size = 16
    while size < 2 * n:
        size *= 2
    mask = size - 1
    used = np.zeros(size, dtype=np.bool_)
    key = np.empty(size, dtype=np.int64)
    slot_of = np.empty(size, dtype=np.int64)
    found = np.empty(n, dtype=np.int64)  # each element's distinct value, in order of first sight
    seen = np.empty(n, dtype=np.int64)
    count = 0
    for e in range(n):
        v = values[e]
        h = (v * -7046029254386353131) & mask  # Fibonacci-style mixing (the multiplication wraps)
        while used[h] and key[h] != v:
            h = (h + 1) & mask
        if not used[h]:
            used[h], key[h], slot_of[h] = True, v, count
            seen[count] = v
            count += 1
        found[e] = slot_of[h]
    order = np.argsort(seen[:count])
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    index = np.empty(n, dtype=np.int64)
    for e in range(n):
        index[e] = rank[found[e]]
    return seen[:count][order], index


@kernel
def order_by_group(group: IntArray, time_us: IntArray, take: BoolArray, groups: int) -> IntArray:
    """Give the positions of the taken elements sorted by group, then time, then position (stable): a
    counting sort by group, then an insertion sort by time within each group (mostly in order already)."""
    start = np.zeros(groups + 1, dtype=np.int64)
    for e in range(group.size):
        if take[e]:
            start[group[e] + 1] += 1
    for k in range(groups):
        start[k + 1] += start[k]
    out = np.empty(start[groups], dtype=np.int64)
    fill = start[:groups].copy()
    for e in range(group.size):
        if take[e]:
            out[fill[group[e]]] = e
            fill[group[e]] += 1
    for k in range(groups):
        low, high = start[k], start[k + 1]
        in_order = True
        for i in range(low + 1, high):
            if time_us[out[i - 1]] > time_us[out[i]]:
                in_order = False
                break
        if in_order:
            continue
        if high - low > 32:  # a long group out of order (a black box's dump): a stable merge sort
            part = out[low:high].copy()
            out[low:high] = part[np.argsort(time_us[part], kind="mergesort")]
            continue
        for i in range(low + 1, high):
            e = out[i]
            j = i - 1
            while j >= low and time_us[out[j]] > time_us[e]:
                out[j + 1] = out[j]
                j -= 1
            out[j + 1] = e
    return out


# --- the rules' arithmetic ------------------------------------------------------------------------


@kernel
def motion(
    g: IntArray,
    starts: BoolArray,
    t: IntArray,
    x: FloatArray,
    y: FloatArray,
    frame: FloatArray,
    carry_us: IntArray,
    carry_lat: FloatArray,
    carry_lon: FloatArray,
    carry_speed: FloatArray,
    limits: FloatArray,
    none_us: int,
) -> tuple[BoolArray, IntArray, FloatArray, FloatArray, BoolArray, FloatArray]:
    """Give, over the valid fixes sorted by group, the speed implied by each fix and the one before it
    (in the batch, or the group's carried position) and the recent moving speed, smoothed.

    Per group: `frame` rows (lat0, lon0, radius), the carried position (time, lat, lon) and speed,
    `limits` rows (max speed, stop speed, smoothing seconds). Gives has_previous, previous_us, step_m,
    implied km/h (NaN without a previous fix), too_fast and the smoothed speed, per fix.
    """
    n = t.size
    has_previous = np.empty(n, dtype=np.bool_)
    previous_us = np.empty(n, dtype=np.int64)
    step_m, implied, speed = np.empty(n), np.empty(n), np.empty(n)
    too_fast = np.empty(n, dtype=np.bool_)
    px, py, s = 0.0, 0.0, 0.0
    for e in range(n):
        k = g[e]
        if starts[e]:
            previous_us[e] = carry_us[k]
            has_previous[e] = carry_us[k] != none_us
            px, py = _project(carry_lat[k], carry_lon[k], frame[k, 0], frame[k, 1], frame[k, 2])
            s = carry_speed[k]
        else:
            previous_us[e] = t[e - 1]
            has_previous[e] = True
        seconds = (t[e] - previous_us[e]) / 1e6
        step = math.hypot(x[e] - px, y[e] - py)
        v = step / seconds * 3.6 if has_previous[e] else np.nan
        max_speed, stop_speed = limits[k, 0], limits[k, 1]
        step_m[e], implied[e] = step, v
        too_fast[e] = has_previous[e] and v > max_speed
        if has_previous[e] and v >= stop_speed and v <= max_speed:  # moving: the speed follows
            keep = math.exp(-seconds / limits[k, 2])
            s = keep * s + (1.0 - keep) * v
        speed[e] = s
        px, py = x[e], y[e]
    return has_previous, previous_us, step_m, implied, too_fast, speed


# --- countries ------------------------------------------------------------------------------------


@kernel
def tile_classes(
    lat: FloatArray, lon: FloatArray, tile_row: IntArray, cells: npt.NDArray[np.int16]
) -> tuple[IntArray, IntArray]:
    """Give each point's cell class in the 1-degree tiles of `borders` (a country index, -1 none, -2 a
    boundary runs through, -3 the tile is not classified yet) and its tile's number (finite points)."""
    n = lat.size
    side = cells.shape[1]
    classes, number = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    for i in range(n):
        row = min(math.floor(lat[i]), 89.0)
        column = min(math.floor(lon[i]), 179.0)
        number[i] = int((row + 90.0) * 360.0 + (column + 180.0))
        at = tile_row[number[i]]
        if at < 0:
            classes[i] = -3
            continue
        cell_y = min(int((lat[i] - row) * side), side - 1)
        cell_x = min(int((lon[i] - column) * side), side - 1)
        classes[i] = cells[at, cell_y, cell_x]
    return classes, number


@kernel
def crossings(
    g: IntArray,
    t: IntArray,
    lat: FloatArray,
    lon: FloatArray,
    country: IntArray,
    confirm_fixes: IntArray,
    carry_country: IntArray,
    carry_candidate: IntArray,
    carry_candidate_fixes: IntArray,
    carry_times: IntArray,
    carry_places: FloatArray,
    none_us: int,
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Follow each movement's confirmed country over its fixes of known country (sorted by group), as the
    reference does fix by fix: a run of another country confirms it at its `confirm_fixes`-th fix (a
    pending run carried from the last batch counts on), and the crossing lies between the last fix in the
    old country (the anchor) and the run's first fix (the candidate).

    The carry is per group and updated in place: country, candidate country and count, `carry_times`
    rows (anchor, candidate) and `carry_places` rows (anchor lat, lon, candidate lat, lon). Gives, per
    crossing: the confirming fix, the anchor's and the candidate's fix (-1: carried from an earlier batch)
    and the country left.
    """
    n = t.size
    groups = carry_country.size
    anchor_at = np.full(groups, -1, dtype=np.int64)
    candidate_at = np.full(groups, -1, dtype=np.int64)
    at, anchor = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    candidate, left = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    found = 0
    for e in range(n):
        k, c = g[e], country[e]
        if carry_country[k] < 0 or c == carry_country[k]:
            renew = True
        else:
            if carry_candidate[k] == c:
                carry_candidate_fixes[k] += 1
            else:
                carry_candidate[k], carry_candidate_fixes[k] = c, 1
                carry_times[k, 1], carry_places[k, 2], carry_places[k, 3] = t[e], lat[e], lon[e]
                candidate_at[k] = e
            renew = carry_candidate_fixes[k] >= confirm_fixes[k]
            if renew:
                at[found], anchor[found], candidate[found] = e, anchor_at[k], candidate_at[k]
                left[found] = carry_country[k]
                found += 1
        if renew:  # this fix is in the confirmed country: the anchor, and nothing pending
            carry_country[k] = c
            carry_times[k, 0], carry_places[k, 0], carry_places[k, 1] = t[e], lat[e], lon[e]
            anchor_at[k] = e
            carry_candidate[k], carry_candidate_fixes[k], candidate_at[k] = -1, 0, -1
            carry_times[k, 1], carry_places[k, 2], carry_places[k, 3] = none_us, np.nan, np.nan
    return at[:found], anchor[:found], candidate[:found], left[:found]


def warm_up() -> None:
    """Compile every kernel for the engine's column types (or load them from the disk cache): done at
    import, so that no batch, and no test with a deadline, waits for the compiler."""
    i, f, b = np.zeros(2, dtype=np.int64), np.zeros(2), np.ones(2, dtype=np.bool_)
    rows = np.zeros((2, 6))
    groups(i)
    latch(b, b, b, b)
    dwell(b, i, b, i, i, b, i, i, 0)
    distinct(i)
    order_by_group(i, i, b, 1)
    project_groups(i, b, f, f, rows)
    locate(i, f, f, i - 1, i, np.arange(3), i.astype(np.int32), rows, i, i + 1, 1.0)
    motion(i, b, i, f, f, rows, i, f, f, f, rows, 0)
    crossings(i, i, f, f, i, i + 1, i - 1, i - 1, i * 0, np.zeros((2, 2), dtype=np.int64), rows, 0)
    tile_classes(f, f, np.full(64_800, -1, dtype=np.int64), np.zeros((1, 2, 2), dtype=np.int16))


warm_up()
