"""Fixes out of order, late, twice, from the future, for nobody; several movements in one batch."""

from __future__ import annotations

import copy
import random
from datetime import timedelta

from tests.monitoring.both import alarms, batch, run_both
from tests.monitoring.tracks import T0, Road, Trip, plan_for

from tamga.monitoring import engine, reference
from tamga.monitoring.domain import AlarmEvent, EventKind, MovementState, Rule

ZHODZINA = (54.0985, 28.3331)


def detour_trip(movement_id: int = 1) -> Trip:
    plan = plan_for(movement_id)
    trip = Trip(plan, s=Road(plan).where(ZHODZINA) - 20_000, seed=movement_id).drive(10, 80)
    trip.drive(3, 60, offset_to=2000).drive(5, 60).drive(3, 60, offset_to=0).drive(10, 80)
    trip.seal(opened=True).stop(3).seal().drive(5, 80)
    return trip


def by_time(events: list[AlarmEvent]) -> list[tuple[object, ...]]:
    """Events without batch positions, which a reordering changes."""
    return [(e.movement_id, e.rule, e.kind, e.at, tuple(r.time for r in e.evidence)) for e in events]


def test_a_shuffled_batch_gives_what_the_ordered_one_gives() -> None:
    trip = detour_trip()
    fixes = trip.fixes()
    shuffled = fixes[:]
    random.Random(7).shuffle(shuffled)
    now = fixes[-1][1].time
    (ordered_events,) = run_both({1: trip.plan}, [batch(fixes, now)])
    (shuffled_events,) = run_both({1: trip.plan}, [batch(shuffled, now)])
    assert by_time(ordered_events) == by_time(shuffled_events)
    assert [e.rule for e in ordered_events] == [
        Rule.CORRIDOR_DEVIATION,
        Rule.CORRIDOR_DEVIATION,
        Rule.SEAL_OPENED,
        Rule.SEAL_OPENED,
    ]
    # the evidence names the shuffled batch's positions
    opened = shuffled_events[0]
    assert shuffled[opened.evidence[0].index][1].time == opened.at  # type: ignore[index]


def test_a_late_black_box_is_replayed_apart_and_leaves_the_state_alone() -> None:
    trip = detour_trip()
    fixes = trip.fixes()
    live, newest, black_box = fixes[:8], fixes[-1:], fixes[8:-1]
    plans = {1: trip.plan}
    states: dict[int, MovementState] = {}
    reference_states: dict[int, MovementState] = {}
    for part in (live, newest):
        engine.process_batch(plans, states, part, part[-1][1].time)
        reference.process_batch(plans, reference_states, part, part[-1][1].time)
    before = copy.deepcopy(states)
    got = engine.process_batch(plans, states, black_box, newest[0][1].time)
    want = reference.process_batch(plans, reference_states, black_box, newest[0][1].time)
    assert states == before  # nothing a late fix says changes the movement's state
    assert got.late == len(black_box) and got.duplicates == 0
    assert by_time(got.events) == by_time(want.events)
    assert [(e.rule, e.kind, e.details.get("retrospective")) for e in got.events] == [
        (Rule.CORRIDOR_DEVIATION, EventKind.EVENT, True),
        (Rule.SEAL_OPENED, EventKind.EVENT, True),
    ]
    outside = [i for i, s in enumerate(trip.samples) if abs(s.offset_m) > 500]
    assert got.events[0].evidence[0].time == trip.samples[outside[0] + 3].time


def test_the_whole_story_through_both_with_a_late_black_box() -> None:
    trip = detour_trip()
    fixes = trip.fixes()
    now = fixes[-1][1].time
    steps = [batch(fixes[:10], fixes[9][1].time), batch(fixes[-1:], now), batch(fixes[10:-1], now)]
    events = run_both({1: trip.plan}, steps)
    # the newest fix came 25 minutes after the tenth: signal lost and back, seen from the gap
    assert alarms(events[1]) == [
        (Rule.SIGNAL_LOST, EventKind.OPEN, None),
        (Rule.SIGNAL_LOST, EventKind.CLOSE, 0),
    ]


def test_duplicates_are_dropped_and_counted() -> None:
    trip = detour_trip()
    fixes = trip.fixes()
    twice = fixes[:20] + fixes[5:8] + fixes[20:]
    now = fixes[-1][1].time
    got = engine.process_batch({1: trip.plan}, {}, twice, now)
    want = reference.process_batch({1: trip.plan}, {}, twice, now)
    assert got.duplicates == want.duplicates == 3
    assert by_time(got.events) == by_time(engine.process_batch({1: trip.plan}, {}, fixes, now).events)
    assert by_time(got.events) == by_time(want.events)
    # the newest fix again, in a later batch, is a duplicate too
    states: dict[int, MovementState] = {}
    engine.process_batch({1: trip.plan}, states, fixes, now)
    again = engine.process_batch({1: trip.plan}, states, fixes[-1:], now)
    assert (again.duplicates, again.late, again.events) == (1, 0, [])


def test_refused_fixes_are_named_with_their_reason() -> None:
    trip = detour_trip()
    fixes = trip.fixes()[:5]
    now = fixes[-1][1].time
    early = (1, fixes[0][1].__class__(**{**_fields(fixes[0][1]), "time": T0 - timedelta(hours=1)}))
    future = (1, fixes[0][1].__class__(**{**_fields(fixes[0][1]), "time": now + timedelta(minutes=6)}))
    stranger = (99, fixes[1][1])
    mixed = [fixes[0], early, fixes[1], future, stranger, *fixes[2:]]
    for implementation in (engine, reference):
        result = implementation.process_batch({1: trip.plan}, {}, mixed, now)
        assert result.rejected == [
            (1, "dated before the release"),
            (3, "dated in the future"),
            (4, "no plan for the movement"),
        ]
    run_both({1: trip.plan}, [batch(mixed, now)])


def _fields(fix: object) -> dict[str, object]:
    return {name: getattr(fix, name) for name in fix.__slots__}  # type: ignore[attr-defined]


def test_several_movements_in_one_batch_each_as_if_alone() -> None:
    trips = [detour_trip(1), detour_trip(2), Trip(plan_for(3), seed=3).drive(8, 30)]
    plans = {t.plan.movement_id: t.plan for t in trips}
    together = [f for t in trips for f in t.fixes()]
    random.Random(3).shuffle(together)
    now = max(f.time for _, f in together)
    (mixed,) = run_both(plans, [batch(together, now)])
    for trip in trips:
        (alone,) = run_both({trip.plan.movement_id: trip.plan}, [batch(trip.fixes(), now)])
        mine = [e for e in mixed if e.movement_id == trip.plan.movement_id]
        assert by_time(mine) == by_time(alone)
    assert {e.movement_id for e in mixed if e.rule is Rule.BORDER_CROSSING} == {3}


def test_columns_in_give_what_fixes_give_and_an_empty_batch_gives_nothing() -> None:
    trip = detour_trip()
    fixes = trip.fixes()
    now = fixes[-1][1].time
    columns = engine.columns_from_fixes({1: trip.plan}, fixes)
    assert len(columns) == len(fixes) and columns.opened.tolist().count(1) == 3
    from_columns = engine.process_batch({1: trip.plan}, {}, columns, now)
    assert from_columns == engine.process_batch({1: trip.plan}, {}, fixes, now)
    for implementation in (engine, reference):
        assert implementation.process_batch({1: trip.plan}, {}, [], now).events == []
    assert engine.check_time({}, {}, now) == reference.check_time({}, {}, now) == []
