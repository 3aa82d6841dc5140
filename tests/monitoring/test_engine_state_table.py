"""The engine over a `StateTable` (states in columns) gives what it gives over a dict, and the reference."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.monitoring.both import same_events, same_state, show
from tests.monitoring.test_engine_vs_reference import _steps, _trip, movement
from tests.monitoring.tracks import M1, T0, plan_for

from tamga.monitoring import engine, reference
from tamga.monitoring.corridor import initial_state
from tamga.monitoring.domain import MovementPlan, MovementState, Rule
from tamga.monitoring.engine_states import StateTable


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(movements=st.lists(movement, min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_a_state_table_gives_what_the_reference_gives(movements: list[dict[str, Any]], seed: int) -> None:
    trips = [_trip(i + 1, spec) for i, spec in enumerate(movements)]
    plans: dict[int, MovementPlan] = {t.plan.movement_id: t.plan for t in trips}
    fixes = [f for t in trips for f in t.fixes()]
    table = StateTable(capacity=1)  # grows as movements come
    theirs: dict[int, MovementState] = {}
    for number, (kind, batch, now) in enumerate(_steps(fixes, random.Random(seed))):
        if kind == "batch":
            got = engine.process_batch(plans, table, batch, now)
            want = reference.process_batch(plans, theirs, batch, now)
            assert (got.rejected, got.duplicates, got.late) == (want.rejected, want.duplicates, want.late)
            a, b = got.events, want.events
        else:
            a, b = engine.check_time(plans, table, now), reference.check_time(plans, theirs, now)
        assert same_events(a, b), f"step {number} ({kind}):\nengine:\n{show(a)}\nreference:\n{show(b)}"
        assert set(table) == set(theirs)
        for movement_id, state in theirs.items():
            assert same_state(table[movement_id], state), f"step {number}: state of {movement_id}"


def test_a_state_table_is_a_mapping_of_snapshots() -> None:
    plan = plan_for(1, M1[9:12])
    table = StateTable(capacity=2)
    state = initial_state(plan)
    state.last_time = T0
    state.last_lat, state.last_lon = 53.9, 27.56
    state.country = "BY"
    state.open_alarms = {Rule.SEAL_OPENED, Rule.LATE}
    for movement_id in range(1, 6):  # past the capacity
        table[movement_id] = state
    assert len(table) == 5 and list(table) == [1, 2, 3, 4, 5]
    assert table[3] == state and table[3] is not state
    snapshot = table[3]
    snapshot.open_alarms.add(Rule.LOW_BATTERY)
    assert Rule.LOW_BATTERY not in table[3].open_alarms  # a snapshot: assign it back to change the row
    table[3] = snapshot
    assert Rule.LOW_BATTERY in table[3].open_alarms
    del table[2]
    assert 2 not in table and len(table) == 4
    with pytest.raises(KeyError):
        table[2]
    table[9] = initial_state(plan)  # takes the freed row, blank
    assert table[9] == initial_state(plan) and table[1] == state
    assert math.isnan(table.columns["pos_lat"][table.rows_for([9], [plan])[0]])
    assert table.nbytes_per_row < 2048
    table.clear()
    assert len(table) == 0 and 1 not in table
    table[4] = state
    assert table[4] == state and len(table) == 1


def test_the_clock_rules_over_a_state_table() -> None:
    plan = plan_for(1, M1[9:12], days=0.25)
    table = StateTable()
    theirs: dict[int, MovementState] = {}
    for hours in (1, 5, 7):
        now = T0 + timedelta(hours=hours)
        assert same_events(
            engine.check_time({1: plan}, table, now), reference.check_time({1: plan}, theirs, now)
        )
        assert same_state(table[1], theirs[1])
    assert table[1].open_alarms == {Rule.SIGNAL_LOST, Rule.TIME_LIMIT_EXCEEDED, Rule.LATE}


def test_a_state_table_keeps_every_field_of_a_movement_state() -> None:
    from dataclasses import fields

    from tamga.monitoring.engine_states import COUNTRIES, COUNTS, FLOATS, TIMES

    kept = {attribute for _, attribute in (*TIMES, *FLOATS, *COUNTS, *COUNTRIES)} | {"open_alarms"}
    assert kept == {f.name for f in fields(MovementState)}
