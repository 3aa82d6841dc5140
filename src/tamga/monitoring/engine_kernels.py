"""The engine's compiled kernels (numba): each one pass over the batch's columns, no temporaries.

The engine keeps its shape (columns sorted by movement and time, the groups' carried state) and hands
the inner loops here: the batch's order (distinct movements, a counting sort, the duplicates and the
groups), the projection of each fix into its movement's plane fused with the route lookup (the fix's grid
cell, the segments listed there, the nearest one and the position along the route; the next movements'
cells and segments prefetched), the per-group scans of the rules (`fix_rules`, `position_rules`: latches,
dwell runs, implied and smoothed speed; border crossings) and the country grid lookup. The scans and
`crossings` update the groups' carry they are given in place; `locate_fixes` the groups' cell hints;
the other kernels only return new arrays. None keeps state.

Arithmetic is written in the same order as the per-fix reference and the numpy forms it replaced, and
compiled without `fastmath`, so the results are the IEEE results of the same expressions. The kernels are
compiled when this module is imported (`warm_up`, so that no batch waits for the compiler) and cached on
disk beside it (`cache=True`, in `__pycache__`): a cold compile of all of them takes about 12 s on the
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
from llvmlite import binding as llvm  # type: ignore[import-untyped]
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

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
# `locate` fetches a hinted point's route data this many hinted points (movements) before it needs them
PREFETCH_AHEAD: Final = 4
# `locate` measures a cell of at most this many segments in two passes (squares, then `hypot`)
CELL_SCRATCH: Final = 64
# the batch's order sorts a movement's fixes out of time order by ranks up to this many, else merges
SHORT_GROUP: Final = 32


def kernel(function: F) -> F:
    """Compile a function with numba (no Python objects, cached on disk, the GIL released; a float
    division by zero gives inf or NaN as in numpy, not an exception)."""
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(function))


# the intrinsic's name is mangled by its pointer type: `ptr` since LLVM 17, `i8*` before
_PREFETCH: Final = "llvm.prefetch.p0" if llvm.llvm_version_info >= (17,) else "llvm.prefetch.p0i8"


def _prefetch(typingctx: Any, array: Any, index: Any) -> Any:
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        offset = context.cast(builder, args[1], signature.args[1], types.intp)
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        module, name = builder.module, _PREFETCH
        function = module.globals.get(name) or ir.Function(
            module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), name=name
        )
        # a read, the highest locality, into the data cache
        address = builder.bitcast(builder.gep(data, [offset]), byte_pointer)
        builder.call(function, [address, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


prefetch: Final = cast(Callable[[npt.NDArray[Any], int], None], intrinsic(_prefetch))
"""Ask the processor to bring an array's item at a flat index into its caches (`llvm.prefetch`, in a
kernel only): a hint, never a fault, no effect on any result; for a kernel that knows where it will
read soon."""


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
    scratch = np.empty((CELL_SCRATCH, 3))  # a cell's segments: offsets from the point, squared distance
    width = segments.shape[1]
    # the hinted points (mostly each movement's first): their cells, entries and segments are fetched
    # ahead, in three stages a few hinted points apart, as each stage's address becomes known
    ahead = np.empty(n, dtype=np.int64)
    n_ahead = 0
    for i in range(n):
        if 0 <= hints[i] < n_cells:
            ahead[n_ahead] = hints[i]
            n_ahead += 1
    q = 0
    last_key, low = -1, -1
    for i in range(n):
        if 0 <= hints[i] < n_cells:
            if q + 3 * PREFETCH_AHEAD < n_ahead:
                h = ahead[q + 3 * PREFETCH_AHEAD]
                prefetch(cells, h)
                prefetch(cell_start, h)
            if q + 2 * PREFETCH_AHEAD < n_ahead:
                prefetch(entries, cell_start[ahead[q + 2 * PREFETCH_AHEAD]])
            if q + PREFETCH_AHEAD < n_ahead:
                h = ahead[q + PREFETCH_AHEAD]
                for e in range(cell_start[h], cell_start[h + 1]):  # a row's first and last item
                    prefetch(segments, entries[e] * width)
                    prefetch(segments, entries[e] * width + width - 1)
            q += 1
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
            lo_e, hi_e = cell_start[low], cell_start[low + 1]
            if hi_e - lo_e <= CELL_SCRATCH:
                # the squares first; then `hypot`, the reference's distance, only for the segments
                # within a hair of the least square (`_nearer`'s rule, with the least square known):
                # the first nearest by `hypot`, in route order, as measuring every segment would give
                least = np.inf
                for e in range(lo_e, hi_e):
                    seg = entries[e]
                    t = _segment_t(segments, seg, px, py)
                    ex = px - (segments[seg, AX] + t * segments[seg, DX])
                    ey = py - (segments[seg, AY] + t * segments[seg, DY])
                    sq = ex * ex + ey * ey
                    scratch[e - lo_e, 0], scratch[e - lo_e, 1], scratch[e - lo_e, 2] = ex, ey, sq
                    if sq < least:
                        least = sq
                within = least * (1.0 + 1e-9)
                for e in range(lo_e, hi_e):
                    if scratch[e - lo_e, 2] <= within:
                        d = math.hypot(scratch[e - lo_e, 0], scratch[e - lo_e, 1])
                        if d < best:
                            best, best_segment = d, entries[e]
            else:
                for e in range(lo_e, hi_e):
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


@kernel
def locate_fixes(
    order: IntArray,
    g: IntArray,
    lat_all: FloatArray,
    lon_all: FloatArray,
    valid_all: BoolArray,
    frame: FloatArray,
    group_slots: IntArray,
    group_hints: IntArray,
    cells: IntArray,
    cell_start: IntArray,
    entries: npt.NDArray[np.int32],
    segments: FloatArray,
    first: IntArray,
    count: IntArray,
    exact_within: float,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The geometry of the valid fixes of a batch sorted by group (`order`: batch positions, `g`: groups):
    each fix projected into its group's plane then `locate`d, over the fixes that are valid with a finite position, with no
    gathering in between.

    Gives the valid elements, their lat, lon, plane x, y, distance to the route and along it. Each
    group's cell hint (`group_hints`, from the route store's `cells`) is where its first valid fix's
    search starts, and is updated to where its last one found its cell."""
    n = order.size
    v = np.empty(n, dtype=np.int64)
    lat, lon = np.empty(n), np.empty(n)
    nv = 0
    for e in range(n):
        i = order[e]
        la, lo = lat_all[i], lon_all[i]
        if valid_all[i] and np.isfinite(la) and np.isfinite(lo):
            v[nv], lat[nv], lon[nv] = e, la, lo
            nv += 1
    x, y = np.empty(nv), np.empty(nv)
    slots, hints = np.empty(nv, dtype=np.int64), np.empty(nv, dtype=np.int64)
    cos_phi0, sin_phi0, k = 1.0, 0.0, -1
    for j in range(nv):
        group = g[v[j]]
        hint = -1
        if group != k:  # a group's first valid fix
            k = group
            phi0 = math.radians(frame[k, 0])
            cos_phi0, sin_phi0 = math.cos(phi0), math.sin(phi0)
            hint = group_hints[k]
        hints[j], slots[j] = hint, group_slots[k]
        x[j], y[j] = _project_from(lat[j], lon[j], cos_phi0, sin_phi0, frame[k, 1], frame[k, 2])
    distance, along, found = locate(
        slots, x, y, hints, cells, cell_start, entries, segments, first, count, exact_within
    )
    for j in range(nv):
        group_hints[g[v[j]]] = found[j]
    return v[:nv], lat[:nv], lon[:nv], x, y, distance, along


# --- group scans ----------------------------------------------------------------------------------
# Elements sorted by group; `starts` marks each group's first element. A group's carried state comes in
# per element (the engine gathers it by group), and only its value at a group's start is read.


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
def _sort_by_group(
    group: IntArray, time_us: IntArray, take: BoolArray, groups: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Give the positions of the taken elements sorted by group, then time, then position (stable), their
    times, and where each group starts among them (`groups + 1` bounds): a counting sort by group, then
    within each group out of order by time, a rank sort (a short group) or a stable merge sort."""
    start = np.zeros(groups + 1, dtype=np.int64)
    for e in range(group.size):
        if take[e]:
            start[group[e] + 1] += 1
    for k in range(groups):
        start[k + 1] += start[k]
    out = np.empty(start[groups], dtype=np.int64)
    times = np.empty(start[groups], dtype=np.int64)
    fill = start[:groups].copy()
    part_out, part_times = np.empty(SHORT_GROUP, dtype=np.int64), np.empty(SHORT_GROUP, dtype=np.int64)
    for e in range(group.size):
        if take[e]:
            at = fill[group[e]]
            out[at], times[at] = e, time_us[e]
            fill[group[e]] = at + 1
    for k in range(groups):
        low, high = start[k], start[k + 1]
        in_order = True
        for i in range(low + 1, high):
            if times[i - 1] > times[i]:
                in_order = False
                break
        if in_order:
            continue
        if high - low > SHORT_GROUP:  # a long group out of order (a black box's dump): a merge sort
            by_time = np.argsort(times[low:high], kind="mergesort")
            out[low:high] = out[low:high][by_time]
            times[low:high] = times[low:high][by_time]
            continue
        # a short group: each element's rank by (time, position), counted without branches
        size = high - low
        part_out[:size], part_times[:size] = out[low:high], times[low:high]
        for i in range(size):
            ti, rank = part_times[i], 0
            for j in range(size):
                rank += (part_times[j] < ti) | ((part_times[j] == ti) & (j < i))
            out[low + rank], times[low + rank] = part_out[i], ti
    return out, times, start


@kernel
def order_batch(
    movement: IntArray, time_us: IntArray, take: BoolArray, movements: int, newest: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray, BoolArray, int, int]:
    """Put the batch's taken fixes in order (`_sort_by_group` by movement), drop the duplicates and cut
    the rest into groups: each movement's late fixes (older than its `newest` processed fix), then its
    live ones.

    A duplicate is dated like the fix before it of the same movement, or like the movement's newest
    processed fix. Gives the kept positions, their times and groups, each group's movement and whether
    it is late (replayed from scratch), the number of duplicates and the number of late fixes."""
    out, times, start = _sort_by_group(movement, time_us, take, movements)
    n = out.size
    kept, t, g = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    group_movement = np.empty(n, dtype=np.int64)
    group_scratch = np.empty(n, dtype=np.bool_)
    count, groups, duplicates, late_count = 0, 0, 0, 0
    for m in range(movements):
        last_late = False
        for e in range(start[m], start[m + 1]):
            te = times[e]
            if (e > start[m] and te == times[e - 1]) or te == newest[m]:
                duplicates += 1
                continue
            late = te < newest[m]
            if groups == 0 or group_movement[groups - 1] != m or late != last_late:
                group_movement[groups], group_scratch[groups] = m, late
                groups += 1
                last_late = late
            late_count += late
            kept[count], t[count], g[count] = out[e], te, groups - 1
            count += 1
    return (
        kept[:count],
        t[:count],
        g[:count],
        group_movement[:groups],
        group_scratch[:groups],
        duplicates,
        late_count,
    )


@kernel
def _latch_step(start: bool, carry: bool, state: bool, set_: bool, reset: bool) -> tuple[bool, bool, bool]:
    """One fix of a latch: opens, closes, and the state after it."""
    before = carry if start else state
    after = True if set_ else (False if reset else before)
    return set_ and not before, reset and before, after


# bits of `fix_rules`' flags (SIGNAL_CARRIED_FIX: a gap at a group's first fix after a carried fix)
SIGNAL_GAP, SIGNAL_CLOSE, SIGNAL_CARRIED_FIX, LIMIT_OPEN = 1, 2, 4, 8
SEAL_OPEN, SEAL_CLOSE, BATTERY_OPEN, BATTERY_CLOSE = 16, 32, 64, 128


@kernel
def fix_rules(
    g: IntArray,
    t: IntArray,
    order: IntArray,
    opened_all: npt.NDArray[np.int8],
    tampered_all: npt.NDArray[np.int8],
    low_all: npt.NDArray[np.int8],
    in_place: BoolArray,
    released_us: IntArray,
    signal_after_us: IntArray,
    limit_us: IntArray,
    last_us: IntArray,
    signal_open: BoolArray,
    limit_open: BoolArray,
    seal_open: BoolArray,
    battery_open: BoolArray,
    none_us: int,
) -> tuple[npt.NDArray[np.uint8], IntArray]:
    """The rules of every fix, over the batch sorted by group: signal lost (a fix closes an open alarm; a
    gap longer than the threshold opens and closes one), time limit (opened by the first fix after it),
    seal (opened or tampered outside an authorised place opens; closed and intact closes) and battery.

    Per group: the plan's times and the carry (`last_us` and the open flags, updated in place to the
    state after the group's last fix). Gives per fix its flags (the bits above) and the time the signal
    was last heard before it."""
    n = t.size
    flags = np.zeros(n, dtype=np.uint8)
    since = np.empty(n, dtype=np.int64)
    limit_state, seal_state, battery_state = False, False, False
    for e in range(n):
        k = g[e]
        start = e == 0 or g[e - 1] != k
        f = 0
        if start:
            since[e] = last_us[k] if last_us[k] != none_us else released_us[k]
        else:
            since[e] = t[e - 1]
        carried_open = start and signal_open[k]
        if not carried_open and t[e] - since[e] > signal_after_us[k]:
            f |= SIGNAL_GAP | SIGNAL_CLOSE
            if start and last_us[k] != none_us:
                f |= SIGNAL_CARRIED_FIX
        elif carried_open:
            f |= SIGNAL_CLOSE
        opens, _, limit_state = _latch_step(start, limit_open[k], limit_state, t[e] > limit_us[k], False)
        if opens:
            f |= LIMIT_OPEN
        i = order[e]
        opened, tampered = opened_all[i], tampered_all[i]
        bad = opened == 1 or tampered == 1
        reported = opened >= 0 or tampered >= 0
        opens, closes, seal_state = _latch_step(
            start, seal_open[k], seal_state, bad and not in_place[e], reported and not bad
        )
        if opens:
            f |= SEAL_OPEN
        if closes:
            f |= SEAL_CLOSE
        low = low_all[i]
        opens, closes, battery_state = _latch_step(start, battery_open[k], battery_state, low == 1, low == 0)
        if opens:
            f |= BATTERY_OPEN
        if closes:
            f |= BATTERY_CLOSE
        flags[e] = f
        if e == n - 1 or g[e + 1] != k:  # the group's state after its last fix
            signal_open[k] = False
            last_us[k] = t[e]
            limit_open[k], seal_open[k], battery_open[k] = limit_state, seal_state, battery_state
    return flags, since


# bits of `position_rules`' flags
MOTION_OPEN, MOTION_CLOSE, CORRIDOR_OPEN, CORRIDOR_CLOSE = 1, 2, 4, 8
STOP_OPEN, STOP_CLOSE, LATE_OPEN, LATE_CLOSE = 16, 32, 64, 128


@kernel
def position_rules(
    v: IntArray,
    g: IntArray,
    t: IntArray,
    order: IntArray,
    x: FloatArray,
    y: FloatArray,
    lat: FloatArray,
    lon: FloatArray,
    distance: FloatArray,
    along: FloatArray,
    in_place: BoolArray,
    reported_all: FloatArray,
    frame: FloatArray,
    plan_f: FloatArray,
    plan_i: IntArray,
    carry_i: IntArray,
    carry_f: FloatArray,
    carry_open: BoolArray,
    none_us: int,
) -> tuple[npt.NDArray[np.uint8], IntArray, FloatArray, IntArray]:
    """The rules that need a valid position, over the valid fixes (`v`: their elements in the batch sorted
    by group, `g`, `t` and `order` per element; x to along per valid fix; `in_place` per element): `motion` (implied and
    smoothed speed) and implausible movement, corridor deviation (a dwell run of fixes outside the
    width), unscheduled stop (a dwell run over the fixes whose speed is known, reported else implied,
    below the stop speed outside authorised places) and late (the estimated arrival from the remaining
    route and the smoothed speed).

    Per group: `frame` rows (lat0, lon0, radius); `plan_f` rows (max speed, stop speed, smoothing s,
    width m, length m); `plan_i` rows (deviation dwell us, deviation min fixes, stop dwell us, limit us,
    late margin us); the carry, updated in place to the state after the group's last valid fix:
    `carry_i` rows (position us, outside since, outside fixes, stopped since), `carry_f` rows (position
    lat, lon, speed, remaining m), `carry_open` rows (implausible, corridor, stop, late).

    Gives per fix its flags (the bits above) and, only where a flag asks for them, the evidence:
    `times` (previous fix, corridor run since, stop run since), `values` (step m, implied km/h, eta us,
    remaining m, smoothed km/h, the stop rule's km/h), `counts` (the corridor run's fixes)."""
    n = v.size
    flags = np.zeros(n, dtype=np.uint8)
    times = np.empty((n, 3), dtype=np.int64)
    values = np.empty((n, 6))
    counts = np.empty(n, dtype=np.int64)
    px, py, s = 0.0, 0.0, 0.0
    motion_state, late_state = False, False
    # the corridor's dwell run, and the stop's (over the fixes whose speed is known)
    c_since, c_count, c_was, c_run_open, c_qualified, c_cond = none_us, 0, False, False, False, False
    s_since, s_was, s_run_open, s_qualified, s_cond, s_started = none_us, False, False, False, False, False
    for j in range(n):
        e = v[j]
        k, te = g[e], t[e]
        start = j == 0 or g[v[j - 1]] != k
        f = 0
        # motion: the implied speed from the previous valid fix, the smoothed speed
        if start:
            previous = carry_i[k, 0]
            has_previous = previous != none_us
            px, py = _project(carry_f[k, 0], carry_f[k, 1], frame[k, 0], frame[k, 1], frame[k, 2])
            s = carry_f[k, 2]
            s_started = False
        else:
            previous = t[v[j - 1]]
            has_previous = True
        seconds = (te - previous) / 1e6
        step = math.hypot(x[j] - px, y[j] - py)
        implied = step / seconds * 3.6 if has_previous else np.nan
        max_speed, stop_speed = plan_f[k, 0], plan_f[k, 1]
        too_fast = has_previous and implied > max_speed
        if has_previous and implied >= stop_speed and implied <= max_speed:  # moving: the speed follows
            keep = math.exp(-seconds / plan_f[k, 2])
            s = keep * s + (1.0 - keep) * implied
        px, py = x[j], y[j]
        # implausible movement
        opens, closes, motion_state = _latch_step(
            start, carry_open[k, 0], motion_state, too_fast, has_previous and not too_fast
        )
        if opens or closes:
            f |= MOTION_OPEN if opens else MOTION_CLOSE
            times[j, 0], values[j, 0], values[j, 1] = previous, step, implied
        # corridor deviation
        cond = distance[j] > plan_f[k, 3]
        if start:
            c_was = carry_open[k, 1]
        if start or cond != c_cond:
            c_qualified, c_run_open = False, False
            if cond:
                if start and carry_i[k, 1] != none_us:
                    c_since, c_count = carry_i[k, 1], carry_i[k, 2]
                else:
                    c_since, c_count = te, 0
                c_run_open = start and carry_open[k, 1]
        c_cond = cond
        if cond:
            c_count += 1
            qualifies = te - c_since >= plan_i[k, 0] and c_count >= plan_i[k, 1]
            if qualifies and not c_qualified and not c_run_open:
                f |= CORRIDOR_OPEN
                times[j, 1], counts[j] = c_since, c_count
            c_qualified = qualifies
            c_was = qualifies or c_run_open
        else:
            if c_was:
                f |= CORRIDOR_CLOSE
            c_was = False
        # unscheduled stop, over the fixes whose speed is known
        reported = reported_all[order[e]]
        stop_speed_of = implied if np.isnan(reported) else reported
        if not np.isnan(stop_speed_of):
            cond = stop_speed_of < stop_speed and not in_place[e]
            first_known = not s_started
            if first_known:
                s_was = carry_open[k, 2]
                s_started = True
            if first_known or cond != s_cond:
                s_qualified, s_run_open = False, False
                if cond:
                    s_since = carry_i[k, 3] if first_known and carry_i[k, 3] != none_us else te
                    s_run_open = first_known and carry_open[k, 2]
            s_cond = cond
            if cond:
                qualifies = te - s_since >= plan_i[k, 2]
                if qualifies and not s_qualified and not s_run_open:
                    f |= STOP_OPEN
                    times[j, 2], values[j, 5] = s_since, stop_speed_of
                s_qualified = qualifies
                s_was = qualifies or s_run_open
                carry_i[k, 3] = s_since
            else:
                if s_was:
                    f |= STOP_CLOSE
                    values[j, 5] = stop_speed_of
                s_was = False
                carry_i[k, 3] = none_us
            carry_open[k, 2] = s_was
        # late: the estimated arrival from the remaining route and the smoothed speed
        remaining = plan_f[k, 4] - along[j] + distance[j]
        eta = te + remaining / (s / 3.6) * 1e6
        limit = plan_i[k, 3]
        opens, closes, late_state = _latch_step(
            start, carry_open[k, 3], late_state, eta > limit, eta <= limit - plan_i[k, 4]
        )
        if opens or closes:
            f |= LATE_OPEN if opens else LATE_CLOSE
            values[j, 2], values[j, 3], values[j, 4] = eta, remaining, s
        flags[j] = f
        if j == n - 1 or g[v[j + 1]] != k:  # the group's state after its last valid fix
            carry_i[k, 0] = te
            carry_i[k, 1], carry_i[k, 2] = (c_since, c_count) if c_cond else (none_us, 0)
            carry_f[k, 0], carry_f[k, 1], carry_f[k, 2], carry_f[k, 3] = lat[j], lon[j], s, remaining
            carry_open[k, 0], carry_open[k, 1], carry_open[k, 3] = motion_state, c_was, late_state
    return flags, times, values, counts


@kernel
def country_classes(
    lat: FloatArray, lon: FloatArray, take: BoolArray, tile_row: IntArray, cells: npt.NDArray[np.int16]
) -> IntArray:
    """Give each taken point's cell class in the 1-degree tiles of `borders` as `tile_classes` does (a
    country index, -1 none, -2 a boundary runs through, -3 the tile is not classified yet), -3 for a
    point off the grid, -1 for a point not taken."""
    n = lat.size
    side = cells.shape[1]
    classes = np.empty(n, dtype=np.int64)
    for i in range(n):
        if not take[i]:
            classes[i] = -1
            continue
        if not (abs(lat[i]) <= 90.0 and abs(lon[i]) <= 180.0):
            classes[i] = -3
            continue
        row = min(math.floor(lat[i]), 89.0)
        column = min(math.floor(lon[i]), 179.0)
        at = tile_row[int((row + 90.0) * 360.0 + (column + 180.0))]
        if at < 0:
            classes[i] = -3
            continue
        cell_y = min(int((lat[i] - row) * side), side - 1)
        cell_x = min(int((lon[i] - column) * side), side - 1)
        classes[i] = cells[at, cell_y, cell_x]
    return classes


# --- the rules' arithmetic ------------------------------------------------------------------------


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
    distinct(i)
    locate(i, f, f, i - 1, i, np.arange(3), i.astype(np.int32), rows, i, i + 1, 1.0)
    crossings(i, i, f, f, i, i + 1, i - 1, i - 1, i * 0, np.zeros((2, 2), dtype=np.int64), rows, 0)
    tile_classes(f, f, np.full(64_800, -1, dtype=np.int64), np.zeros((1, 2, 2), dtype=np.int16))
    order_batch(i, i, b, 1, i)
    store = (i, np.arange(3), i.astype(np.int32), rows, i, i + 1, 1.0)
    locate_fixes(i, i, f, f, b, rows, i, i - 1, *store)
    i8 = i.astype(np.int8)
    fix_rules(i, i, i, i8, i8, i8, b, i, i, i, i, b, b, b, b, 0)
    i2, f2, b2 = np.zeros((2, 5), dtype=np.int64), np.zeros((2, 5)), np.zeros((2, 4), dtype=np.bool_)
    position_rules(i, i, i, i, f, f, f, f, f, f, b, f, rows, f2, i2, i2, f2, b2, 0)
    country_classes(f, f, b, np.full(64_800, -1, dtype=np.int64), np.zeros((1, 2, 2), dtype=np.int16))


warm_up()
