"""The routes' segments, gridded, for the engine: distance to the route and position along it, vectorised.

Every prepared corridor the engine meets is registered once in a process-wide store: its route's
segments (in the movement's plane) go into shared arrays, and each segment is listed under the square
cells (`CELL_M` on a side) that its bounding box, grown by `EXACT_WITHIN_M`, overlaps, with a key that
combines the route's slot and the cell. A batch then costs no per-route work: each fix looks up its own
cell (a search over the sorted cells of all routes, in a compiled kernel, from where the movement's last
fix found its cell when the caller keeps that), measures the segments listed there, and
keeps the nearest, the first along the route on a tie, as the per-fix reference does. Every segment
nearer to the fix than `EXACT_WITHIN_M` is listed in its cell, so the answer is exact whenever the
nearest distance found is under that; a fix farther from its route (a long detour, a spoofed position)
is measured against every segment of its route.

A route leaves the store when its corridor is garbage collected (the plan was dropped); `maintain`,
which the engine calls before each batch takes its slots, compacts the store when the dead outweigh the
living.
"""

from __future__ import annotations

import weakref
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
import shapely

from tamga.monitoring import engine_kernels
from tamga.monitoring.corridor import PreparedCorridor

CELL_M: Final = engine_kernels.CELL_M  # (the kernels compile the grid's layout in as constants)
# A segment is listed under every cell its bounding box, grown by this much, overlaps: a fix finds in its
# own cell every segment nearer than this.
EXACT_WITHIN_M: Final = CELL_M / 2
_AXIS_BITS: Final = engine_kernels.AXIS_BITS  # cells per axis: 2^18 x 4 km, far beyond any plane's extent
_AXIS_OFFSET: Final = engine_kernels.AXIS_OFFSET
_LOCAL_BITS: Final = engine_kernels.LOCAL_BITS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ArrayT = TypeVar("ArrayT", bound=npt.NDArray[np.generic])


def _cell(v: FloatArray) -> IntArray:
    cells: IntArray = np.clip(np.floor(v / CELL_M), -_AXIS_OFFSET + 2, _AXIS_OFFSET - 2).astype(np.int64)
    return cells


def _local_key(cx: IntArray, cy: IntArray) -> IntArray:
    key: IntArray = ((cx + _AXIS_OFFSET) << _AXIS_BITS) | (cy + _AXIS_OFFSET)
    return key


def _route_arrays(prepared: PreparedCorridor) -> tuple[FloatArray, IntArray, IntArray]:
    """Give a route's segment table (ax, ay, dx, dy, dx²+dy², along at a) and its (cell key, segment) list,
    sorted: each segment under every cell that its bounding box grown by `EXACT_WITHIN_M` overlaps."""
    coords = shapely.get_coordinates(prepared.line)
    a, b = coords[:-1], coords[1:]
    d = b - a
    sq = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
    along = np.zeros(len(a))
    along[1:] = np.cumsum(np.hypot(d[:, 0], d[:, 1]))[:-1]
    segments = np.column_stack([a[:, 0], a[:, 1], d[:, 0], d[:, 1], sq, along])
    grow = EXACT_WITHIN_M
    x0, x1 = _cell(np.minimum(a[:, 0], b[:, 0]) - grow), _cell(np.maximum(a[:, 0], b[:, 0]) + grow)
    y0, y1 = _cell(np.minimum(a[:, 1], b[:, 1]) - grow), _cell(np.maximum(a[:, 1], b[:, 1]) + grow)
    height = y1 - y0 + 1
    counts = (x1 - x0 + 1) * height
    owner = np.repeat(np.arange(len(a)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    key = _local_key(x0[owner] + k // height[owner], y0[owner] + k % height[owner])
    order = np.lexsort((owner, key))
    return segments, key[order], owner[order]


class RouteStore:
    """The segments of every registered route and their grid, in shared arrays (see the module docstring)."""

    compact_after = 10_000  # dead segments (and more dead than living) before a compaction

    def __init__(self) -> None:
        self._slots: dict[int, int] = {}  # id(prepared) -> slot
        self._segments = np.empty((0, 6), dtype=np.float64)
        self._segment_count = 0
        self._entries = np.empty(0, dtype=np.int32)  # segments listed, cell by cell
        self._entry_count = 0
        self._cells = np.empty(0, dtype=np.int64)  # the distinct keys, sorted
        self._cell_start = np.empty(0, dtype=np.int64)  # each one's first entry (its entries follow)
        self._cell_count = 0
        self._first = np.empty(0, dtype=np.int64)  # per slot: first segment
        self._count = np.empty(0, dtype=np.int64)  # per slot: number of segments
        self._alive = np.empty(0, dtype=np.bool_)
        self._slot_count = 0
        self._dead_segments = 0
        self.generation = 0  # goes up when compaction renumbers the slots
        self._dying: list[int] = []

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def nbytes(self) -> int:
        """Give the bytes the shared arrays hold (their capacity)."""
        arrays = (
            self._segments,
            self._entries,
            self._cells,
            self._cell_start,
            self._first,
            self._count,
            self._alive,
        )
        return sum(a.nbytes for a in arrays)

    def slots(self, corridors: list[PreparedCorridor]) -> IntArray:
        """Give each corridor's slot, registering the ones not seen yet."""
        known = self._slots
        for corridor in corridors:
            if id(corridor) not in known:
                self._register(corridor)
        return np.fromiter((known[id(c)] for c in corridors), dtype=np.int64, count=len(corridors))

    def _register(self, corridor: PreparedCorridor) -> None:
        segments, keys, owners = _route_arrays(corridor)
        slot = self._slot_count
        if (slot + 1) >> (63 - _LOCAL_BITS):
            raise OverflowError("too many routes for the grid's key space")
        self._segments = _grow(self._segments, self._segment_count + len(segments))
        self._segments[self._segment_count : self._segment_count + len(segments)] = segments
        self._entries = _grow(self._entries, self._entry_count + len(keys))
        self._entries[self._entry_count : self._entry_count + len(keys)] = owners + self._segment_count
        cells, first_entry = np.unique(keys, return_index=True)
        self._cells = _grow(self._cells, self._cell_count + len(cells))
        self._cell_start = _grow(self._cell_start, self._cell_count + len(cells) + 1)
        self._cells[self._cell_count : self._cell_count + len(cells)] = (slot << _LOCAL_BITS) | cells
        self._cell_start[self._cell_count : self._cell_count + len(cells)] = first_entry + self._entry_count
        self._cell_count += len(cells)
        self._cell_start[self._cell_count] = self._entry_count + len(keys)  # the end of the last cell
        self._first, self._count, self._alive = (
            _grow(self._first, slot + 1),
            _grow(self._count, slot + 1),
            _grow(self._alive, slot + 1),
        )
        self._first[slot], self._count[slot], self._alive[slot] = self._segment_count, len(segments), True
        self._segment_count += len(segments)
        self._entry_count += len(keys)
        self._slot_count += 1
        self._slots[id(corridor)] = slot
        weakref.finalize(corridor, self._forget, id(corridor))

    def _forget(self, corridor_id: int) -> None:
        # runs whenever the corridor is collected, perhaps in the middle of a batch: only note it here
        self._dying.append(corridor_id)

    def maintain(self) -> None:
        """Let go of the routes whose corridors were collected; compact when the dead outweigh the living.

        Slots change only here: call it before taking slots for a batch, never between."""
        while self._dying:
            slot = self._slots.pop(self._dying.pop(), None)
            if slot is not None:
                self._alive[slot] = False
                self._dead_segments += int(self._count[slot])
        if self._dead_segments * 2 > self._segment_count and self._dead_segments > self.compact_after:
            self._compact()

    def _compact(self) -> None:
        """Drop the dead routes' segments and cells; renumber the living slots in their order."""
        n_slots, n_segments = self._slot_count, self._segment_count
        alive = self._alive[:n_slots]
        new_slot = np.cumsum(alive) - 1
        segment_slot = np.repeat(np.arange(n_slots), self._count[:n_slots])
        keep_segment = alive[segment_slot]
        new_segment = np.cumsum(keep_segment) - 1
        cells, starts = self._cells[: self._cell_count], self._cell_start[: self._cell_count + 1]
        entries = self._entries[: self._entry_count]
        keep_cell = alive[cells >> _LOCAL_BITS]
        keep_entry = keep_segment[entries]
        counts = np.diff(starts)[keep_cell]
        local = cells[keep_cell] & ((1 << _LOCAL_BITS) - 1)
        self._cells = (new_slot[cells[keep_cell] >> _LOCAL_BITS] << _LOCAL_BITS) | local
        self._cell_count = int(self._cells.size)
        self._cell_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._entries = new_segment[entries[keep_entry]].astype(np.int32)
        self._entry_count = int(self._entries.size)
        self._segments = self._segments[:n_segments][keep_segment].copy()
        self._segment_count = int(self._segments.shape[0])
        living = np.flatnonzero(alive)
        self._first = new_segment[self._first[living]] if living.size else self._first[:0]
        self._count = self._count[living].copy()
        self._alive = np.ones(living.size, dtype=np.bool_)
        self._slot_count = int(living.size)
        self._slots = {corridor_id: int(new_slot[slot]) for corridor_id, slot in self._slots.items()}
        self._dead_segments = 0
        self.generation += 1

    def arrays(
        self,
    ) -> tuple[IntArray, IntArray, npt.NDArray[np.int32], FloatArray, IntArray, IntArray, float]:
        """Give the store's arrays as the kernels take them (`engine_kernels.locate`'s last arguments):
        the cells, their first entries, the entries, the segments, each slot's first segment and count,
        and `EXACT_WITHIN_M`. Valid until the next registration or compaction."""
        return (
            self._cells[: self._cell_count],
            self._cell_start[: self._cell_count + 1],
            self._entries[: self._entry_count],
            self._segments[: self._segment_count],
            self._first[: self._slot_count],
            self._count[: self._slot_count],
            EXACT_WITHIN_M,
        )

    def locate(self, slots: IntArray, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Give each point's distance to its route (the route of its slot) and the distance along the route
        of the nearest point on it; the first nearest segment along the route wins a tie."""
        distance, along, _ = self.locate_hinted(slots, x, y, np.full(x.size, -1, dtype=np.int64))
        return distance, along

    def locate_hinted(
        self, slots: IntArray, x: FloatArray, y: FloatArray, hints: IntArray
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """`locate`, each point's cell searched from a hint (-1: none); also give where each point's cell
        was found, the hint for its movement's next fix. A hint only saves time: any hint is safe."""
        return engine_kernels.locate(
            np.ascontiguousarray(slots, dtype=np.int64),
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            np.ascontiguousarray(hints, dtype=np.int64),
            *self.arrays(),
        )


def _grow(array: ArrayT, size: int) -> ArrayT:
    if size <= array.shape[0]:
        return array
    capacity = max(size, array.shape[0] * 3 // 2, 64)  # a half more: amortised appends, little slack
    grown = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown  # type: ignore[return-value]


STORE: Final = RouteStore()
