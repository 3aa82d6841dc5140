"""Movement states kept as columns: the engine's fast store, a mapping of movement id to `MovementState`.

    states = StateTable()
    engine.process_batch(plans, states, fixes, now)   # as with a dict, without a Python object per movement

`engine.process_batch` and `engine.check_time` accept any mutable mapping of movement id to
`MovementState`. With a plain dict they read every state of the batch's movements into columns and write
the changes back, a few microseconds per movement and batch. A `StateTable` keeps the same values in
the columns themselves (one row per movement, times in microseconds since the epoch, countries as
indices into the boundaries' codes, open alarms as one flag column per rule) and caches each row's plan
numbers, so a batch only gathers and scatters rows.

Reading `table[movement_id]` gives a `MovementState` built from the row: a snapshot. Changing it changes
nothing until it is assigned back (`table[movement_id] = state`), as a dict's value would need if it
were a copy. `nbytes_per_row` says what a movement costs here.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterator, MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tamga.monitoring import borders
from tamga.monitoring.corridor import EPOCH, PlanNumbers, initial_state, microseconds, prepare
from tamga.monitoring.domain import MovementPlan, MovementState, Rule
from tamga.monitoring.engine_routes import STORE

NONE_US: Final = np.iinfo(np.int64).min // 4  # "no time": far before any fix, safe to subtract from

# MovementState fields as columns: (column name, state attribute) by kind
TIMES: Final = (
    ("last_us", "last_time"),
    ("pos_us", "last_pos_time"),
    ("outside_since", "outside_since"),
    ("stopped_since", "stopped_since"),
    ("anchor_us", "border_anchor_time"),
    ("candidate_us", "candidate_time"),
)
FLOATS: Final = (
    ("pos_lat", "last_lat"),
    ("pos_lon", "last_lon"),
    ("speed", "speed_kmh"),
    ("remaining", "remaining_m"),
    ("anchor_lat", "border_anchor_lat"),
    ("anchor_lon", "border_anchor_lon"),
    ("candidate_lat", "candidate_lat"),
    ("candidate_lon", "candidate_lon"),
)
COUNTS: Final = (("outside_fixes", "outside_fixes"), ("candidate_fixes", "candidate_fixes"))
COUNTRIES: Final = (("country", "country"), ("candidate", "candidate_country"))
BLANK: Final[dict[str, float | int]] = {
    **{name: NONE_US for name, _ in TIMES},
    **{name: math.nan for name, _ in FLOATS},
    **{name: 0 for name, _ in COUNTS},
    **{name: -1 for name, _ in COUNTRIES},
}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def us_or_none(at: datetime | None) -> int:
    """Give a time as microseconds since the epoch, NONE_US for None."""
    return NONE_US if at is None else microseconds(at)


def dt_or_none(us: int) -> datetime | None:
    """Give microseconds since the epoch as an aware datetime, None for NONE_US."""
    return None if us == NONE_US else EPOCH + timedelta(microseconds=us)


class StateTable(MutableMapping[int, MovementState]):
    """Movement states in columns, one row per movement (see the module docstring)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._row: dict[int, int] = {}
        self._free: list[int] = []
        self._size = 0
        self.columns: dict[str, npt.NDArray[Any]] = {}
        for name, _ in TIMES:
            self.columns[name] = np.full(capacity, NONE_US, dtype=np.int64)
        for name, _ in FLOATS:
            self.columns[name] = np.full(capacity, math.nan, dtype=np.float64)
        for name, _ in (*COUNTS, *COUNTRIES):
            self.columns[name] = np.full(capacity, BLANK[name], dtype=np.int64)
        self.open: dict[Rule, BoolArray] = {rule: np.zeros(capacity, dtype=np.bool_) for rule in Rule}
        # per row: the plan whose numbers are cached, its numbers, its places (padded with NaN)
        self._plans: list[MovementPlan | None] = [None] * capacity
        self.numbers = np.zeros((capacity, len(PlanNumbers._fields)), dtype=np.float64)
        self.places = np.full((capacity, 0, 3), math.nan, dtype=np.float64)
        self._slot = np.zeros(capacity, dtype=np.int64)  # the route's slot in the route store
        self._slot_generation = np.full(capacity, -1, dtype=np.int64)
        # per row: where the route store found the cell of the movement's last fix (-1: unknown); only a
        # hint for the next search, so it need not follow the store's compactions
        self.cell_hints = np.full(capacity, -1, dtype=np.int64)

    # --- the mapping ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._row)

    def __iter__(self) -> Iterator[int]:
        return iter(self._row)

    def __contains__(self, movement_id: object) -> bool:
        return movement_id in self._row

    def __getitem__(self, movement_id: int) -> MovementState:
        row = self._row[movement_id]
        c = self.columns
        values: dict[str, object] = {}
        for name, attribute in TIMES:
            values[attribute] = dt_or_none(int(c[name][row]))
        for name, attribute in FLOATS:
            value = float(c[name][row])
            values[attribute] = None if math.isnan(value) else value
        for name, attribute in COUNTS:
            values[attribute] = int(c[name][row])
        codes = borders.load_boundaries().codes
        for name, attribute in COUNTRIES:
            index = int(c[name][row])
            values[attribute] = codes[index] if index >= 0 else None
        values["open_alarms"] = {rule for rule, flags in self.open.items() if flags[row]}
        return MovementState(**values)  # type: ignore[arg-type]

    def __setitem__(self, movement_id: int, state: MovementState) -> None:
        row = self._row.get(movement_id)
        if row is None:
            row = self._allocate(movement_id)
        c = self.columns
        for name, attribute in TIMES:
            c[name][row] = us_or_none(getattr(state, attribute))
        for name, attribute in FLOATS:
            value = getattr(state, attribute)
            c[name][row] = math.nan if value is None else value
        for name, attribute in COUNTS:
            c[name][row] = getattr(state, attribute)
        boundaries = borders.load_boundaries()
        for name, attribute in COUNTRIES:
            code = getattr(state, attribute)
            c[name][row] = -1 if code is None or code not in boundaries.codes else boundaries.index_of(code)
        for rule, flags in self.open.items():
            flags[row] = rule in state.open_alarms

    def __delitem__(self, movement_id: int) -> None:
        row = self._row.pop(movement_id)
        self._plans[row] = None
        self._free.append(row)

    def clear(self) -> None:
        """Forget every movement at once (the mapping's own clear would build each state to drop it)."""
        self._free.extend(self._row.values())
        for row in self._row.values():
            self._plans[row] = None
        self._row.clear()

    # --- rows -------------------------------------------------------------------------------------

    @property
    def nbytes_per_row(self) -> int:
        """Give the bytes one movement's row takes in the columns (state, flags, cached plan numbers, the
        route's slot and the cell hint)."""
        per_row = sum(column.itemsize for column in self.columns.values())
        per_row += len(self.open) + self.numbers.shape[1] * self.numbers.itemsize
        per_row += self.places.shape[1] * 3 * self.places.itemsize + 8  # places, the plan reference
        per_row += self._slot.itemsize + self._slot_generation.itemsize + self.cell_hints.itemsize
        return per_row + 2 * 8 + 100  # the id -> row entry: a dict slot and a small int (about)

    def _allocate(self, movement_id: int) -> int:
        if self._free:
            row = self._free.pop()
        else:
            row = self._size
            self._size += 1
            if row >= len(self._plans):
                self._grow(2 * len(self._plans))
        self._row[movement_id] = row
        for name, value in BLANK.items():
            self.columns[name][row] = value
        for flags in self.open.values():
            flags[row] = False
        self.cell_hints[row] = -1
        return row

    def _grow(self, capacity: int) -> None:
        old = len(self._plans)
        for name, column in self.columns.items():
            grown = np.full(capacity, BLANK[name], dtype=column.dtype)
            grown[:old] = column
            self.columns[name] = grown
        for rule, flags in self.open.items():
            grown_flags = np.zeros(capacity, dtype=np.bool_)
            grown_flags[:old] = flags
            self.open[rule] = grown_flags
        numbers = np.zeros((capacity, self.numbers.shape[1]), dtype=np.float64)
        numbers[:old] = self.numbers
        self.numbers = numbers
        places = np.full((capacity, self.places.shape[1], 3), math.nan, dtype=np.float64)
        places[:old] = self.places
        self.places = places
        self._slot = np.concatenate([self._slot, np.zeros(capacity - old, dtype=np.int64)])
        self._slot_generation = np.concatenate(
            [self._slot_generation, np.full(capacity - old, -1, dtype=np.int64)]
        )
        self.cell_hints = np.concatenate([self.cell_hints, np.full(capacity - old, -1, dtype=np.int64)])
        self._plans.extend([None] * (capacity - old))

    def rows_for(self, ids: Sequence[int], plans: Sequence[MovementPlan]) -> IntArray:
        """Give the rows of movements (creating each missing one at its plan's initial state), with
        their plans' numbers and places cached."""
        if len(ids) != len(plans):
            raise ValueError("one plan per movement")
        known, cached = self._row, self._plans
        # C-level passes over the movements (maps); a Python loop only for the new ones and new plans
        rows = list(map(known.get, ids, itertools.repeat(-1)))
        if min(rows, default=0) < 0:
            for i, (movement_id, plan) in enumerate(zip(ids, plans, strict=True)):
                if rows[i] < 0:
                    if movement_id not in known:
                        self[movement_id] = initial_state(plan)
                    rows[i] = known[movement_id]
        if not all(map(operator.is_, map(cached.__getitem__, rows), plans)):
            for row, plan in zip(rows, plans, strict=True):
                if cached[row] is not plan:
                    self._cache_plan(row, plan)
        return np.array(rows, dtype=np.int64)

    def _cache_plan(self, row: int, plan: MovementPlan) -> None:
        prepared = prepare(plan)
        self.numbers[row] = prepared.numbers
        count = prepared.places_x.size
        if count > self.places.shape[1]:
            wider = np.full((self.places.shape[0], count, 3), math.nan, dtype=np.float64)
            wider[:, : self.places.shape[1]] = self.places
            self.places = wider
        self.places[row] = math.nan
        self.places[row, :count, 0] = prepared.places_x
        self.places[row, :count, 1] = prepared.places_y
        self.places[row, :count, 2] = prepared.places_radius
        self._plans[row] = plan
        self._slot_generation[row] = -1

    def slots(self, rows: IntArray) -> IntArray:
        """Give the rows' routes' slots in the route store (rows whose plans are cached)."""
        STORE.maintain()
        stale = rows[self._slot_generation[rows] != STORE.generation]
        if stale.size:
            corridors = [prepare(self._plans[row]) for row in stale.tolist()]
            self._slot[stale] = STORE.slots(corridors)
            self._slot_generation[stale] = STORE.generation
        slots: IntArray = self._slot[rows]
        return slots
