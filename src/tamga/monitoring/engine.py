"""The monitoring engine: the rules of `domain` over a batch of fixes at once, vectorised. No I/O.

    result = process_batch(plans, states, fixes, now)   # fixes: [(movement id, Fix)] or FixColumns
    events = check_time(plans, states, now)              # signal lost, late, time limit, without fixes

`plans` maps movement id to `MovementPlan`; `states` maps movement id to `MovementState` and is updated in
place (a movement without a state gets `corridor.initial_state`). Both return events in the canonical
order of `domain.sort_events`; `reference` has the same API and semantics, one fix at a time.

The batch policy, the same in both:

- A fix is refused (`BatchResult.rejected`, with its batch position and the reason) when its movement has
  no plan, when it is dated more than `FUTURE_TOLERANCE` after `now` (a device clock in the future would
  otherwise make every later fix look old), or before the release.
- The batch is sorted per movement by time (then by batch position). A fix dated like one already taken,
  in this batch or as the movement's newest processed fix, is a duplicate and dropped (counted).
- A fix older than the movement's newest processed fix is late (a black box delivering after a newer live
  fix). The late fixes of a movement are replayed in time order from a blank state; whatever they open of
  the order-independent rules (`domain.RETROSPECTIVE_RULES`) comes out as an `EVENT` with
  `details["retrospective"] = True`; the movement's state is left alone and nothing it says is re-decided.
  A fix in the same batch as newer ones is not late: the sort puts it in its place.

How it is vectorised: the fixes become columns (numpy), put in order by movement and time once (a
counting sort by movement in a compiled kernel, `engine_kernels`, which also drops the duplicates and cuts
the groups). Projection and distance to the route and position along it (`engine_routes`: every route's
segments in shared arrays with a grid; one compiled pass projects each valid fix, finds its cell,
searching from where the movement's last fix found its own, with the next movements' route data fetched
ahead, and measures the segments listed there), authorised places (a padded movements x places distance
matrix: a handful of places per movement, no index beats it) and countries (`borders`, a grid of 1-degree
tiles over the Natural Earth polygons, looked up by a kernel; only points in a tile's boundary cells go
to the exact test) are computed for the whole batch at once. The rules are then two compiled scans over
the sorted columns, with each movement's state as the carry into its first fix and its state after the
last written back in place: one over every fix (signal, time limit, seal, battery), one over the valid
fixes (implied and smoothed speed, implausible movement, the corridor's and the stop's dwell runs, late).
Latches carry the last deciding fix; dwell rules count runs; the smoothed speed is a recurrence along
each movement; crossings (a third kernel) follow each movement's confirmed country fix by fix. The scans
flag the fixes where something happened, and only those become events, in Python.
The kernels (numba) are compiled when `engine_kernels` is imported and cached on disk; their arithmetic
is the per-fix reference's, in the same order.

States: with a plain dict of `MovementState`s, each batch reads its movements' states into columns and
writes the changes back (a few microseconds per movement); with an `engine_states.StateTable` (also a
mapping of movement id to `MovementState`) the states already are columns and a batch only gathers and
scatters rows, and the plans' numbers are cached per row. Python is left with a loop over the batch's
movements to find their rows and with building the events, only where something happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tamga.ingest.fix import Fix
from tamga.ingest.profiles import seal_state
from tamga.monitoring import borders, engine_kernels
from tamga.monitoring.corridor import (
    EPOCH,
    PlanNumbers,
    PreparedCorridor,
    initial_state,
    microseconds,
    prepare,
)
from tamga.monitoring.domain import (
    FUTURE_TOLERANCE,
    RETROSPECTIVE_RULES,
    SEVERITY,
    AlarmEvent,
    BatchResult,
    EventKind,
    FixRef,
    MovementPlan,
    MovementState,
    Rule,
    sort_events,
)
from tamga.monitoring.engine_routes import STORE
from tamga.monitoring.engine_states import (
    BLANK,
    COUNTRIES,
    COUNTS,
    FLOATS,
    NONE_US,
    TIMES,
    StateTable,
    us_or_none,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Details = dict[str, float | int | str | bool | None]

__all__ = [
    "FUTURE_TOLERANCE",
    "BatchResult",
    "FixColumns",
    "StateTable",
    "check_time",
    "columns_from_fixes",
    "process_batch",
]


@dataclass(frozen=True, slots=True)
class FixColumns:
    """A batch of fixes as columns: the engine's native input (a gateway may build it directly).

    Seal fields are -1 where unknown, else 0 or 1, already read through the device profile; speeds and
    battery are NaN where unknown; times are microseconds since the Unix epoch (UTC).
    """

    movement: IntArray
    time_us: IntArray
    lat: FloatArray
    lon: FloatArray
    valid: BoolArray
    speed_kmh: FloatArray
    opened: npt.NDArray[np.int8]
    tampered: npt.NDArray[np.int8]
    low_battery: npt.NDArray[np.int8]
    battery_v: FloatArray

    def __len__(self) -> int:
        return int(self.movement.size)


def _flag(value: bool | None) -> int:
    return -1 if value is None else int(value)


def columns_from_fixes(plans: Mapping[int, MovementPlan], fixes: Sequence[tuple[int, Fix]]) -> FixColumns:
    """Give a batch of (movement id, fix) as columns, the seal read through each movement's device profile."""
    rows: list[tuple[int, int, float, float, bool, float, int, int, int, float]] = []
    unknown = (-1, -1, -1, math.nan)
    for movement_id, fix in fixes:
        plan = plans.get(movement_id)
        seal = unknown
        if plan is not None:
            s = seal_state(plan.device_profile, fix)
            battery = math.nan if s.battery_v is None else s.battery_v
            seal = (_flag(s.opened), _flag(s.tampered), _flag(s.low_battery), battery)
        speed = math.nan if fix.speed_kmh is None else fix.speed_kmh
        rows.append((movement_id, microseconds(fix.time), fix.lat, fix.lon, fix.valid, speed, *seal))
    movement, time_us, lat, lon, valid, speed_kmh, opened, tampered, low, battery_v = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([] for _ in range(10))
    )
    return FixColumns(
        movement=np.array(movement, dtype=np.int64),
        time_us=np.array(time_us, dtype=np.int64),
        lat=np.array(lat, dtype=np.float64),
        lon=np.array(lon, dtype=np.float64),
        valid=np.array(valid, dtype=np.bool_),
        speed_kmh=np.array(speed_kmh, dtype=np.float64),
        opened=np.array(opened, dtype=np.int8),
        tampered=np.array(tampered, dtype=np.int8),
        low_battery=np.array(low, dtype=np.int8),
        battery_v=np.array(battery_v, dtype=np.float64),
    )


# --- the batch ------------------------------------------------------------------------------------


def _dt(us: int) -> datetime:
    return EPOCH + timedelta(0, 0, us)


def _iso_from_us(us: float) -> str:
    return (EPOCH + timedelta(seconds=round(us / 1e6))).isoformat()


def _bool_or_none(value: int) -> bool | None:
    return None if value < 0 else bool(value)


def _float_or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


@dataclass(slots=True)
class _Carry:
    """The groups' states as columns (one row per group), read from their MovementStates."""

    last_us: IntArray
    pos_us: IntArray
    outside_since: IntArray
    stopped_since: IntArray
    anchor_us: IntArray
    candidate_us: IntArray
    pos_lat: FloatArray
    pos_lon: FloatArray
    speed: FloatArray
    remaining: FloatArray
    anchor_lat: FloatArray
    anchor_lon: FloatArray
    candidate_lat: FloatArray
    candidate_lon: FloatArray
    outside_fixes: IntArray
    candidate_fixes: IntArray
    country: IntArray
    candidate: IntArray
    open: dict[Rule, BoolArray]

    def copy(self) -> _Carry:
        columns = {name: getattr(self, name).copy() for name, _ in (*TIMES, *FLOATS, *COUNTS, *COUNTRIES)}
        return _Carry(**columns, open={rule: flags.copy() for rule, flags in self.open.items()})


def _read_states(states: Sequence[MovementState], codes: Mapping[str, int]) -> _Carry:
    columns: dict[str, Any] = {}
    for name, attribute in TIMES:
        columns[name] = np.fromiter(
            (us_or_none(getattr(s, attribute)) for s in states), dtype=np.int64, count=len(states)
        )
    for name, attribute in FLOATS:
        values = (getattr(s, attribute) for s in states)
        columns[name] = np.fromiter(
            (math.nan if v is None else v for v in values), dtype=np.float64, count=len(states)
        )
    for name, attribute in COUNTS:
        columns[name] = np.fromiter(
            (getattr(s, attribute) for s in states), dtype=np.int64, count=len(states)
        )
    for name, attribute in COUNTRIES:
        values = (getattr(s, attribute) for s in states)
        columns[name] = np.fromiter(
            (-1 if v is None else codes.get(v, -1) for v in values), dtype=np.int64, count=len(states)
        )
    alarms = [s.open_alarms for s in states]
    return _Carry(
        **columns,
        open={
            rule: np.fromiter((rule in a for a in alarms), dtype=np.bool_, count=len(states)) for rule in Rule
        },
    )


def _write_states(
    states: Sequence[MovementState], live: BoolArray, before: _Carry, after: _Carry, codes: Sequence[str]
) -> None:
    """Write into the live groups' MovementStates what the batch changed of their state."""

    def changed(name: str) -> list[int]:
        old, new = getattr(before, name), getattr(after, name)
        differs = old != new
        if new.dtype.kind == "f":
            differs &= ~(np.isnan(old) & np.isnan(new))
        return np.flatnonzero(differs & live).tolist()

    for name, attribute in TIMES:
        values = getattr(after, name)
        for i in changed(name):
            setattr(states[i], attribute, None if values[i] == NONE_US else _dt(int(values[i])))
    for name, attribute in FLOATS:
        values = getattr(after, name)
        for i in changed(name):
            setattr(states[i], attribute, None if math.isnan(values[i]) else float(values[i]))
    for name, attribute in COUNTS:
        values = getattr(after, name)
        for i in changed(name):
            setattr(states[i], attribute, int(values[i]))
    for name, attribute in COUNTRIES:
        values = getattr(after, name)
        for i in changed(name):
            setattr(states[i], attribute, codes[values[i]] if values[i] >= 0 else None)
    moved = np.zeros(live.size, dtype=np.bool_)
    for rule in Rule:
        moved |= before.open[rule] != after.open[rule]
    for i in np.flatnonzero(moved & live).tolist():
        states[i].open_alarms = {rule for rule, flags in after.open.items() if flags[i]}


class _Events:
    """Builds the batch's events; a late group's opens of retrospective rules become retrospective events."""

    def __init__(self, movement_ids: Sequence[int], scratch: Sequence[bool]) -> None:
        self.movement_ids, self.scratch = movement_ids, scratch
        self.items: list[AlarmEvent] = []

    def add(
        self,
        group: int,
        rule: Rule,
        kind: EventKind,
        at: datetime,
        evidence: tuple[FixRef, ...],
        details: Details,
    ) -> None:
        if self.scratch[group]:
            if kind is not EventKind.OPEN or rule not in RETROSPECTIVE_RULES:
                return
            kind, details = EventKind.EVENT, {**details, "retrospective": True}
        self.items.append(
            AlarmEvent(self.movement_ids[group], rule, kind, SEVERITY[rule], at, evidence, details)
        )


def _refusal(known: bool, future: bool) -> str:
    if not known:
        return "no plan for the movement"
    return "dated in the future" if future else "dated before the release"


def process_batch(
    plans: Mapping[int, MovementPlan],
    states: MutableMapping[int, MovementState],
    fixes: Sequence[tuple[int, Fix]] | FixColumns,
    now: datetime,
) -> BatchResult:
    """Apply the rules to a batch of fixes, vectorised; update `states` in place; give the events."""
    cols = fixes if isinstance(fixes, FixColumns) else columns_from_fixes(plans, fixes)
    n = len(cols)

    # refuse what cannot be taken
    ids, id_index = engine_kernels.distinct(np.ascontiguousarray(cols.movement, dtype=np.int64))
    found = list(map(plans.get, ids.tolist()))
    movement_plans = [plan for plan in found if plan is not None]
    if len(movement_plans) == ids.size:
        known_ids, known, movement_index = ids, np.ones(n, dtype=np.bool_), id_index
    else:
        id_known = np.fromiter((plan is not None for plan in found), dtype=np.bool_, count=ids.size)
        known_ids = ids[id_known]
        known = id_known[id_index]
        movement_index = np.where(known, (np.cumsum(id_known) - 1)[id_index], 0)
    known_list = known_ids.tolist()
    table = states if isinstance(states, StateTable) else None
    movement_states: list[MovementState] = []
    if table is not None:
        rows = table.rows_for(known_list, movement_plans)
        numbers = table.numbers[rows]
        newest = table.columns["last_us"][rows]
    else:
        rows = np.zeros(0, dtype=np.int64)
        for movement_id, plan in zip(known_list, movement_plans, strict=True):
            state = states.get(movement_id)
            if state is None:
                state = states[movement_id] = initial_state(plan)
            movement_states.append(state)
        numbers = _numbers([prepare(p) for p in movement_plans])
        newest = np.array([us_or_none(s.last_time) for s in movement_states], dtype=np.int64)
    released = numbers[:, _RELEASED].astype(np.int64)
    future = cols.time_us > microseconds(now + FUTURE_TOLERANCE)
    early = known & ~future & (cols.time_us < (released[movement_index] if released.size else 0))
    rejected = [
        (i, _refusal(bool(known[i]), bool(future[i])))
        for i in np.flatnonzero(~known | future | early).tolist()
    ]
    take = known & ~future & ~early

    # sort by movement, time, position
    time_us = np.ascontiguousarray(cols.time_us, dtype=np.int64)
    # duplicates out; groups: each movement's late fixes (replayed from a blank state), then its live ones
    order, t, g, group_movement, group_scratch, duplicates, late = engine_kernels.order_batch(
        movement_index, time_us, take, known_ids.size, newest
    )
    if not order.size:
        return BatchResult([], rejected, duplicates, 0)
    col = dict(zip(PlanNumbers._fields, numbers[group_movement].T, strict=True))
    boundaries = borders.load_boundaries()
    events = _Events(known_ids[group_movement].tolist(), group_scratch.tolist())
    if table is not None:
        group_rows = rows[group_movement]
        carry = _gather(table, group_rows, group_scratch, col)
        geometry = _Geometry(
            table.slots(rows)[group_movement], table.places[group_rows], table.cell_hints[group_rows]
        )
        _apply(cols, order, g, t, col, carry, geometry, group_scratch, boundaries.codes, events)
        _scatter(table, group_rows[~group_scratch], carry, ~group_scratch)
        table.cell_hints[group_rows] = geometry.cell_hints
    else:
        group_plans = [movement_plans[i] for i in group_movement.tolist()]
        group_states = [
            initial_state(movement_plans[i]) if scratch else movement_states[i]
            for i, scratch in zip(group_movement.tolist(), group_scratch.tolist(), strict=True)
        ]
        codes = {code: i for i, code in enumerate(boundaries.codes)}
        carry = _read_states(group_states, codes)
        before = carry.copy()
        prepared = [prepare(p) for p in group_plans]
        STORE.maintain()
        slots = STORE.slots(prepared)
        geometry = _Geometry(slots, _places(prepared), np.full(slots.size, -1, dtype=np.int64))
        _apply(cols, order, g, t, col, carry, geometry, group_scratch, boundaries.codes, events)
        _write_states(group_states, ~group_scratch, before, carry, boundaries.codes)
    return BatchResult(sort_events(events.items), rejected, duplicates, late)


_RELEASED: Final = PlanNumbers._fields.index("released_us")


@dataclass(frozen=True, slots=True)
class _Geometry:
    """The groups' routes (slots in the route store) and authorised places (x, y, radius; NaN padded)."""

    slots: IntArray
    places: npt.NDArray[np.float64]
    cell_hints: IntArray  # where each group's last fix found its route cell (-1: unknown); updated


def _numbers(prepared: Sequence[PreparedCorridor]) -> FloatArray:
    """The plans' numbers as rows (times in microseconds: exact in float64 until 2255)."""
    numbers: FloatArray = np.array([p.numbers for p in prepared], dtype=np.float64)
    return numbers.reshape(len(prepared), len(PlanNumbers._fields))


def _places(prepared: Sequence[PreparedCorridor]) -> FloatArray:
    count = max((p.places_x.size for p in prepared), default=0)
    places = np.full((len(prepared), count, 3), np.nan)
    if count:
        for i, p in enumerate(prepared):
            k = p.places_x.size
            places[i, :k, 0], places[i, :k, 1], places[i, :k, 2] = p.places_x, p.places_y, p.places_radius
    return places


def _gather(table: StateTable, rows: IntArray, scratch: BoolArray, col: Mapping[str, FloatArray]) -> _Carry:
    """The groups' carried state from the table's rows; a scratch group starts blank."""
    columns: dict[str, Any] = {name: table.columns[name][rows] for name in BLANK}
    for name, value in BLANK.items():
        columns[name][scratch] = value
    columns["speed"][scratch] = col["nominal_speed_kmh"][scratch]
    columns["remaining"][scratch] = col["length_m"][scratch]
    is_open = {rule: table.open[rule][rows] & ~scratch for rule in Rule}
    return _Carry(**columns, open=is_open)


def _scatter(table: StateTable, rows: IntArray, carry: _Carry, live: BoolArray) -> None:
    """Write the live groups' new state into their rows."""
    for name in BLANK:
        table.columns[name][rows] = getattr(carry, name)[live]
    for rule, flags in carry.open.items():
        table.open[rule][rows] = flags[live]


def _ints(values: FloatArray) -> IntArray:
    return values.astype(np.int64)


def _apply(
    cols: FixColumns,
    order: IntArray,
    g: IntArray,
    t: IntArray,
    col: Mapping[str, FloatArray],
    carry: _Carry,
    geometry: _Geometry,
    scratch: BoolArray,
    codes: Sequence[str],
    events: _Events,
) -> None:
    """Run every rule over the sorted elements; emit events; leave the groups' new state in `carry`."""
    n = order.size

    def ref(element: int) -> FixRef:
        return FixRef(int(order[element]), _dt(int(t[element])))

    # geometry of the valid fixes, all movements at once (the groups' cell hints updated)
    frame = np.column_stack([col["lat0"], col["lon0"], col["radius"]])
    v, lat_v, lon_v, xv, yv, distance, along = engine_kernels.locate_fixes(
        order,
        g,
        np.ascontiguousarray(cols.lat, dtype=np.float64),
        np.ascontiguousarray(cols.lon, dtype=np.float64),
        np.ascontiguousarray(cols.valid, dtype=np.bool_),
        frame,
        geometry.slots,
        geometry.cell_hints,
        *STORE.arrays(),
    )
    in_place = np.zeros(n, dtype=np.bool_)
    if geometry.places.shape[1] and v.size:
        places = geometry.places[g[v]]
        near = np.hypot(xv[:, None] - places[:, :, 0], yv[:, None] - places[:, :, 1]) <= places[:, :, 2]
        in_place[v] = near.any(axis=1)

    # the rules of every fix: signal, time limit, seal, battery (the carry updated in place)
    after_us, limit_us = _ints(col["signal_after_us"]), _ints(col["limit_us"])
    flags, since = engine_kernels.fix_rules(
        g,
        t,
        order,
        np.ascontiguousarray(cols.opened, dtype=np.int8),
        np.ascontiguousarray(cols.tampered, dtype=np.int8),
        np.ascontiguousarray(cols.low_battery, dtype=np.int8),
        in_place,
        _ints(col["released_us"]),
        after_us,
        limit_us,
        carry.last_us,
        carry.open[Rule.SIGNAL_LOST],
        carry.open[Rule.TIME_LIMIT_EXCEEDED],
        carry.open[Rule.SEAL_OPENED],
        carry.open[Rule.LOW_BATTERY],
        NONE_US,
    )
    hit = np.flatnonzero(flags)
    hits = list(zip(hit.tolist(), flags[hit].tolist(), g[hit].tolist(), t[hit].tolist(), strict=True))
    K = engine_kernels

    # signal: a fix closes an open alarm; a gap longer than the threshold opens and closes one
    for e, f, group, at in hits:
        if not f & K.SIGNAL_CLOSE:
            continue
        since_us = int(since[e])
        if f & K.SIGNAL_GAP:
            previous: tuple[FixRef, ...] = ()
            if e > 0 and g[e - 1] == group:
                previous = (ref(e - 1),)
            elif f & K.SIGNAL_CARRIED_FIX:
                previous = (FixRef(None, _dt(since_us)),)
            threshold = int(after_us[group])
            events.add(
                group,
                Rule.SIGNAL_LOST,
                EventKind.OPEN,
                _dt(since_us + threshold),
                previous,
                {"silent_since": _dt(since_us).isoformat(), "threshold_s": threshold / 1e6},
            )
        events.add(
            group,
            Rule.SIGNAL_LOST,
            EventKind.CLOSE,
            _dt(at),
            (ref(e),),
            {"silent_s": (at - since_us) / 1e6},
        )

    # time limit: opened by the first fix after it, never closed here
    for e, f, group, _ in hits:
        if f & K.LIMIT_OPEN:
            limit = _dt(int(limit_us[group]))
            events.add(
                group,
                Rule.TIME_LIMIT_EXCEEDED,
                EventKind.OPEN,
                limit,
                (ref(e),),
                {"time_limit": limit.isoformat()},
            )

    # seal: opened or tampered outside an authorised place opens; closed and intact closes
    for e, f, group, at in hits:
        if f & (K.SEAL_OPEN | K.SEAL_CLOSE):
            tampered = _bool_or_none(int(cols.tampered[order[e]]))
            if f & K.SEAL_OPEN:
                details: Details = {"opened": _bool_or_none(int(cols.opened[order[e]])), "tampered": tampered}
            else:
                details = {"opened": False, "tampered": tampered}
            kind = EventKind.OPEN if f & K.SEAL_OPEN else EventKind.CLOSE
            events.add(group, Rule.SEAL_OPENED, kind, _dt(at), (ref(e),), details)

    # battery
    for e, f, group, at in hits:
        if f & (K.BATTERY_OPEN | K.BATTERY_CLOSE):
            kind = EventKind.OPEN if f & K.BATTERY_OPEN else EventKind.CLOSE
            battery = _float_or_none(float(cols.battery_v[order[e]]))
            events.add(group, Rule.LOW_BATTERY, kind, _dt(at), (ref(e),), {"battery_v": battery})

    if v.size:
        _position_rules(
            cols,
            order,
            g,
            t,
            v,
            (lat_v, lon_v, xv, yv, frame),
            distance,
            along,
            in_place,
            col,
            carry,
            scratch,
            codes,
            events,
        )


def _position_rules(
    cols: FixColumns,
    order: IntArray,
    g: IntArray,
    t: IntArray,
    v: IntArray,
    where: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
    distance: FloatArray,
    along: FloatArray,
    in_place: BoolArray,
    col: Mapping[str, FloatArray],
    carry: _Carry,
    scratch: BoolArray,
    codes: Sequence[str],
    events: _Events,
) -> None:
    """The rules that need a valid position, over the valid fixes only (`v`: their elements; `where`:
    their lat, lon, x, y and the groups' frames), in one compiled pass (`engine_kernels.position_rules`)."""
    lat, lon, xv, yv, frame = where
    plan_f = np.column_stack(
        [col[name] for name in ("max_speed_kmh", "stop_speed_kmh", "smoothing_s", "width_m", "length_m")]
    )
    plan_i = np.column_stack(
        [
            _ints(col[name])
            for name in (
                "deviation_dwell_us",
                "deviation_min_fixes",
                "stop_dwell_us",
                "limit_us",
                "late_margin_us",
            )
        ]
    )
    rules = (Rule.IMPLAUSIBLE_MOVEMENT, Rule.CORRIDOR_DEVIATION, Rule.UNSCHEDULED_STOP, Rule.LATE)
    carry_i = np.column_stack([carry.pos_us, carry.outside_since, carry.outside_fixes, carry.stopped_since])
    carry_f = np.column_stack([carry.pos_lat, carry.pos_lon, carry.speed, carry.remaining])
    carry_open = np.column_stack([carry.open[rule] for rule in rules])
    flags, times, values, counts = engine_kernels.position_rules(
        v,
        g,
        t,
        order,
        xv,
        yv,
        lat,
        lon,
        distance,
        along,
        in_place,
        np.ascontiguousarray(cols.speed_kmh, dtype=np.float64),
        frame,
        plan_f,
        plan_i,
        carry_i,
        carry_f,
        carry_open,
        NONE_US,
    )
    carry.pos_us[:], carry.outside_since[:], carry.outside_fixes[:], carry.stopped_since[:] = carry_i.T
    carry.pos_lat[:], carry.pos_lon[:], carry.speed[:], carry.remaining[:] = carry_f.T
    for i, rule in enumerate(rules):
        carry.open[rule][:] = carry_open[:, i]

    K = engine_kernels
    hit = np.flatnonzero(flags)
    elements = v[hit]
    hits = []  # per flagged fix: flags, group, time, its evidence, its index among the valid fixes
    for j, f, group, at, position in zip(
        hit.tolist(),
        flags[hit].tolist(),
        g[elements].tolist(),
        t[elements].tolist(),
        order[elements].tolist(),
        strict=True,
    ):
        when = _dt(at)
        hits.append((f, group, when, FixRef(position, when), j))

    # implausible movement
    for f, group, when, fix, j in hits:
        if f & K.MOTION_OPEN:
            if j > 0 and g[v[j - 1]] == group:
                e = int(v[j - 1])
                before = FixRef(int(order[e]), _dt(int(t[e])))
            else:
                before = FixRef(None, _dt(int(times[j, 0])))
            details: Details = {"speed_kmh": float(values[j, 1]), "distance_m": float(values[j, 0])}
            events.add(group, Rule.IMPLAUSIBLE_MOVEMENT, EventKind.OPEN, when, (before, fix), details)
        elif f & K.MOTION_CLOSE:
            details = {"speed_kmh": float(values[j, 1])}
            events.add(group, Rule.IMPLAUSIBLE_MOVEMENT, EventKind.CLOSE, when, (fix,), details)

    # corridor deviation
    for f, group, when, fix, j in hits:
        if f & K.CORRIDOR_OPEN:
            details = {
                "distance_m": float(distance[j]),
                "outside_since": _dt(int(times[j, 1])).isoformat(),
                "outside_fixes": int(counts[j]),
            }
            events.add(group, Rule.CORRIDOR_DEVIATION, EventKind.OPEN, when, (fix,), details)
        elif f & K.CORRIDOR_CLOSE:
            details = {"distance_m": float(distance[j])}
            events.add(group, Rule.CORRIDOR_DEVIATION, EventKind.CLOSE, when, (fix,), details)

    # unscheduled stop, over the valid fixes whose speed is known (reported, else implied)
    for f, group, when, fix, j in hits:
        if f & K.STOP_OPEN:
            details = {
                "stopped_since": _dt(int(times[j, 2])).isoformat(),
                "speed_kmh": float(values[j, 5]),
            }
            events.add(group, Rule.UNSCHEDULED_STOP, EventKind.OPEN, when, (fix,), details)
        elif f & K.STOP_CLOSE:
            details = {"speed_kmh": float(values[j, 5])}
            events.add(group, Rule.UNSCHEDULED_STOP, EventKind.CLOSE, when, (fix,), details)

    # late: estimated arrival from the remaining route and the recent moving speed
    for f, group, when, fix, j in hits:
        if f & (K.LATE_OPEN | K.LATE_CLOSE):
            kind = EventKind.OPEN if f & K.LATE_OPEN else EventKind.CLOSE
            details = {
                "eta": _iso_from_us(float(values[j, 2])),
                "remaining_km": float(values[j, 3]) / 1000,
                "speed_kmh": float(values[j, 4]),
            }
            events.add(group, Rule.LATE, kind, when, (fix,), details)

    # border crossings, over the live groups' valid fixes of known country
    boundaries = borders.load_boundaries()
    country = engine_kernels.country_classes(
        lat, lon, ~scratch[g[v]], boundaries.grid.row, boundaries.grid.cells
    )
    exact = np.flatnonzero(country < -1)  # a boundary runs through the cell, or its tile is new
    if exact.size:
        country[exact] = borders.country_index_at(lat[exact], lon[exact])
    c = np.flatnonzero(country >= 0)
    if c.size:
        vc = v[c]
        _crossings(g[vc], t[vc], lat[c], lon[c], order[vc], country[c], col, carry, codes, events)


def _crossings(
    gc: IntArray,
    tc: IntArray,
    latc: FloatArray,
    lonc: FloatArray,
    posc: IntArray,
    cc: IntArray,
    col: Mapping[str, FloatArray],
    carry: _Carry,
    codes: Sequence[str],
    events: _Events,
) -> None:
    """Border crossings over the valid fixes of known country (`engine_kernels.crossings`): the
    crossings' places by bisection, all at once, then their events."""
    times = np.column_stack([carry.anchor_us, carry.candidate_us])
    places = np.column_stack([carry.anchor_lat, carry.anchor_lon, carry.candidate_lat, carry.candidate_lon])
    found, anchor, candidate, old = engine_kernels.crossings(
        gc,
        tc,
        latc,
        lonc,
        cc,
        _ints(col["border_confirm_fixes"]),
        carry.country,
        carry.candidate,
        carry.candidate_fixes,
        times,
        places,
        NONE_US,
    )
    if found.size:
        # the anchor and the candidate as they were at each crossing: a fix of this batch, or carried
        group = gc[found]
        a_carried, b_carried = anchor < 0, candidate < 0
        a, b = np.maximum(anchor, 0), np.maximum(candidate, 0)
        a_us = np.where(a_carried, carry.anchor_us[group], tc[a])
        a_lat = np.where(a_carried, carry.anchor_lat[group], latc[a])
        a_lon = np.where(a_carried, carry.anchor_lon[group], lonc[a])
        b_us = np.where(b_carried, carry.candidate_us[group], tc[b])
        b_lat = np.where(b_carried, carry.candidate_lat[group], latc[b])
        b_lon = np.where(b_carried, carry.candidate_lon[group], lonc[b])
        share = borders.crossing_point(a_lat, a_lon, b_lat, b_lon, old)
        for i, e in enumerate(found.tolist()):
            a_time, b_time = _dt(int(a_us[i])), _dt(int(b_us[i]))
            a_ref = FixRef(None if a_carried[i] else int(posc[anchor[i]]), a_time)
            b_ref = FixRef(None if b_carried[i] else int(posc[candidate[i]]), b_time)
            f = float(share[i])
            before, after = codes[int(old[i])], codes[int(cc[e])]
            events.add(
                int(group[i]),
                Rule.BORDER_CROSSING,
                EventKind.EVENT,
                a_time + (b_time - a_time) * f,
                (a_ref, b_ref),
                {
                    "from": before,
                    "to": after,
                    "border": borders.border_name(before, after),
                    "kind": borders.border_kind(before, after),
                    "lat": float(a_lat[i]) + f * (float(b_lat[i]) - float(a_lat[i])),
                    "lon": float(a_lon[i]) + f * (float(b_lon[i]) - float(a_lon[i])),
                },
            )
    carry.anchor_us[:], carry.candidate_us[:] = times[:, 0], times[:, 1]
    carry.anchor_lat[:], carry.anchor_lon[:] = places[:, 0], places[:, 1]
    carry.candidate_lat[:], carry.candidate_lon[:] = places[:, 2], places[:, 3]


def check_time(
    plans: Mapping[int, MovementPlan], states: MutableMapping[int, MovementState], now: datetime
) -> list[AlarmEvent]:
    """Apply the time rules (signal lost, late, time limit exceeded) at `now`, vectorised over movements."""
    ids = list(plans)
    if not ids:
        return []
    plan_list = [plans[i] for i in ids]
    rules = (Rule.SIGNAL_LOST, Rule.TIME_LIMIT_EXCEEDED, Rule.LATE)
    movement_states: list[MovementState] = []
    if isinstance(states, StateTable):
        rows = states.rows_for(ids, plan_list)
        numbers = states.numbers[rows]
        last, position = states.columns["last_us"][rows], states.columns["pos_us"][rows]
        speed, remaining = states.columns["speed"][rows], states.columns["remaining"][rows]
        is_open = {rule: states.open[rule][rows] for rule in rules}
    else:
        for movement_id, plan in zip(ids, plan_list, strict=True):
            state = states.get(movement_id)
            if state is None:
                state = states[movement_id] = initial_state(plan)
            movement_states.append(state)
        numbers = _numbers([prepare(p) for p in plan_list])
        last = np.array([us_or_none(s.last_time) for s in movement_states], dtype=np.int64)
        position = np.array([us_or_none(s.last_pos_time) for s in movement_states], dtype=np.int64)
        speed = np.array([s.speed_kmh for s in movement_states], dtype=np.float64)
        remaining = np.array([s.remaining_m for s in movement_states], dtype=np.float64)
        is_open = {
            rule: np.array([rule in s.open_alarms for s in movement_states], dtype=np.bool_) for rule in rules
        }
    col = {name: numbers[:, i] for i, name in enumerate(PlanNumbers._fields)}
    released, limit, after = (_ints(col[name]) for name in ("released_us", "limit_us", "signal_after_us"))
    now_us = microseconds(now)
    since = np.where(last != NONE_US, last, released)
    lost = (now_us - since > after) & ~is_open[Rule.SIGNAL_LOST]
    exceeded = (now_us > limit) & ~is_open[Rule.TIME_LIMIT_EXCEEDED]
    base = np.where(position != NONE_US, position, released)
    eta = np.maximum(float(now_us), base + remaining / (speed / 3.6) * 1e6)
    late = (eta > limit) & ~is_open[Rule.LATE]

    events: list[AlarmEvent] = []

    def emit(i: int, rule: Rule, at: datetime, evidence: tuple[FixRef, ...], details: Details) -> None:
        events.append(AlarmEvent(ids[i], rule, EventKind.OPEN, SEVERITY[rule], at, evidence, details))
        if movement_states:
            movement_states[i].open_alarms.add(rule)

    for i in np.flatnonzero(lost | exceeded | late).tolist():
        if lost[i]:
            silent_since = _dt(int(since[i]))
            evidence = (FixRef(None, silent_since),) if last[i] != NONE_US else ()
            emit(
                i,
                Rule.SIGNAL_LOST,
                silent_since + timedelta(microseconds=int(after[i])),
                evidence,
                {"silent_since": silent_since.isoformat(), "threshold_s": int(after[i]) / 1e6},
            )
        if exceeded[i]:
            limit_at = _dt(int(limit[i]))
            emit(i, Rule.TIME_LIMIT_EXCEEDED, limit_at, (), {"time_limit": limit_at.isoformat()})
        if late[i]:
            details: Details = {
                "eta": _iso_from_us(float(eta[i])),
                "remaining_km": float(remaining[i]) / 1000,
                "speed_kmh": float(speed[i]),
            }
            emit(i, Rule.LATE, now, (), details)
    if isinstance(states, StateTable):
        for rule, opened in zip(rules, (lost, exceeded, late), strict=True):
            states.open[rule][rows[opened]] = True
    return sort_events(events)
