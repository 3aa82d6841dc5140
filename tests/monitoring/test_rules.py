"""Each rule on the M1 (Terespol - Brest - Minsk - Orsha - Smolensk - Moscow): the expected alarm at the
expected fix, nothing more; every scenario runs through the engine and the reference, which must agree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.monitoring.both import alarms, batch, check, crossings, run_both
from tests.monitoring.tracks import (
    KRASNOYE,
    M1,
    MINSK_CUSTOMS,
    REDKI,
    TERESPOL,
    TOLOCHIN_REST_AREA,
    WARSAW_BRIDGE,
    Road,
    Trip,
    border_on_road,
    hypot_m,
    minutes,
    plan_for,
)

from tamga.monitoring.domain import AlarmEvent, EventKind, Rule, Severity, thresholds_for

OPEN, CLOSE, EVENT = EventKind.OPEN, EventKind.CLOSE, EventKind.EVENT
ZHODZINA = (54.0985, 28.3331)
SMOLENSK = (54.77826, 32.05088)


def trip_from(point: tuple[float, float], before_km: float = 0.0, **kwargs: object) -> Trip:
    """A truck on the M1 plan, `before_km` before `point` (a vertex of the road)."""
    plan = plan_for(**kwargs)  # type: ignore[arg-type]
    s = Road(plan).where(point) - before_km * 1000
    return Trip(plan, s=s)


def run(trip: Trip, *, check_after: timedelta | None = None) -> list[AlarmEvent]:
    fixes = trip.fixes()
    now = fixes[-1][1].time
    steps = [batch(fixes, now)]
    if check_after is not None:
        steps.append(check(now + check_after))
    events = run_both({trip.plan.movement_id: trip.plan}, steps)
    return [e for step in events for e in step]


def test_the_clean_run_from_terespol_to_moscow_raises_nothing_but_two_crossings() -> None:
    plan = plan_for()
    trip = Trip(plan, period_s=60)
    road = trip.road
    rest = road.where(TOLOCHIN_REST_AREA) / 1000
    trip.stop(20).drive(rest, 80).stop(120).drive(road.length / 1000 - rest - 1.0, 85).stop(30)
    events = run(trip, check_after=timedelta(seconds=30))
    assert alarms(events) == []
    pl_by, by_ru = crossings(events)
    assert (pl_by.details["from"], pl_by.details["to"], pl_by.details["kind"]) == ("PL", "BY", "external")
    assert pl_by.details["border"] == "BY-PL" and pl_by.severity is Severity.INFO and pl_by.kind is EVENT
    assert (by_ru.details["from"], by_ru.details["to"], by_ru.details["kind"]) == ("BY", "RU", "union_line")
    assert by_ru.details["border"] == "BY-RU"
    for event in (pl_by, by_ru):
        before, after = event.evidence
        assert before.time < event.at < after.time
        assert after.time - before.time == timedelta(seconds=60)


def test_the_crossing_at_terespol_brest_is_on_the_bug_at_the_warsaw_bridge() -> None:
    trip = Trip(plan_for()).stop(5).drive(6, 30)
    (crossing,) = crossings(run(trip))
    where = (crossing.details["lat"], crossing.details["lon"])
    assert TERESPOL[1] < where[1] < WARSAW_BRIDGE[1]  # between the Polish town and the Belarusian post
    assert hypot_m(where, WARSAW_BRIDGE) < 2_000  # Natural Earth 1:10m: the Bug, 1.4 km west of the post
    assert crossing.details["kind"] == "external"


def test_the_crossing_of_the_union_line_is_on_the_m1_past_redki() -> None:
    trip = trip_from(REDKI, before_km=5).drive(30, 70)
    (crossing,) = crossings(run(trip))
    where = (float(crossing.details["lat"]), float(crossing.details["lon"]))
    assert (crossing.details["from"], crossing.details["to"]) == ("BY", "RU")
    assert crossing.details["kind"] == "union_line"
    # Natural Earth 1:10m draws the line about 5 km east of the catalog's estimated Krasnoye point
    assert REDKI[1] < where[1] < SMOLENSK[1]
    assert hypot_m(where, KRASNOYE) < 10_000
    assert abs(where[0] - 54.63) < 0.05


def test_a_single_fix_over_the_line_is_no_crossing() -> None:
    plan = plan_for()
    road = Road(plan)
    line = border_on_road(road, road.where(REDKI), road.where(SMOLENSK))
    trip = Trip(plan, s=line - 5_150).drive(4, 60)
    trip.spoof(ahead_km=2)  # one glitch 0.85 km into Russia, then the queue 1.15 km before the line
    trip.stop(10)
    events = run(trip)
    assert crossings(events) == []
    assert alarms(events) == []
    trip.drive(3, 20)
    (crossing,) = crossings(run(trip))
    into_russia = next(i for i, sample in enumerate(trip.samples) if sample.s > line and not sample.ahead_km)
    assert crossing.evidence[1].index == into_russia  # interpolated from the first fix in Russia on
    assert crossing.evidence[0].index == into_russia - 1


def test_corridor_deviation_opens_after_the_dwell_and_closes_on_return() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(10, 80)
    trip.drive(3, 60, offset_to=2000).drive(5, 60).drive(3, 60, offset_to=0).drive(10, 80)
    outside = [i for i, s in enumerate(trip.samples) if abs(s.offset_m) > 500]
    first_out, back = outside[0], outside[-1] + 1
    events = run(trip)
    # 3 minutes and 3 fixes outside: the fourth fix a minute apart
    assert alarms(events) == [
        (Rule.CORRIDOR_DEVIATION, OPEN, first_out + 3),
        (Rule.CORRIDOR_DEVIATION, CLOSE, back),
    ]
    opened = events[0]
    assert opened.severity is Severity.HIGH
    assert 1000 < float(opened.details["distance_m"]) < 2100
    assert opened.details["outside_fixes"] == 4


def test_gps_noise_and_a_crossing_road_do_not_alarm() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(5, 80)
    trip.spoof(0.8).drive(3, 80)  # one fix 800 m off
    # three fixes down a side road in two minutes: under the dwell
    trip.drive(1, 60, offset_to=700).drive(2, 60).drive(1, 60, offset_to=0).drive(5, 80)
    assert alarms(run(trip)) == []


def test_thresholds_per_goods_category() -> None:
    strict = thresholds_for("tobacco")
    assert strict.deviation_dwell == minutes(1) and strict.deviation_min_fixes == 2
    assert thresholds_for(None) == thresholds_for("furniture") == thresholds_for()
    assert thresholds_for("alcohol", stop_dwell=minutes(5)).stop_dwell == minutes(5)
    trip = trip_from(ZHODZINA, before_km=20, thresholds=strict).drive(5, 80)
    trip.drive(1.5, 60, offset_to=1500).drive(3, 60).drive(1.5, 60, offset_to=0).drive(5, 80)
    first_out = next(i for i, s in enumerate(trip.samples) if abs(s.offset_m) > 500)
    assert alarms(run(trip))[0] == (Rule.CORRIDOR_DEVIATION, OPEN, first_out + 1)


def test_unscheduled_stop_outside_authorised_places() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(10, 80)
    stopped = len(trip.samples)
    trip.stop(45).drive(10, 80)
    events = run(trip)
    assert alarms(events) == [
        (Rule.UNSCHEDULED_STOP, OPEN, stopped + 30),  # 30 minutes after the first stopped fix
        (Rule.UNSCHEDULED_STOP, CLOSE, stopped + 45),
    ]
    assert events[0].details["stopped_since"] == trip.samples[stopped].time.isoformat()


def test_a_long_stop_at_a_declared_rest_area_is_allowed() -> None:
    trip = trip_from(TOLOCHIN_REST_AREA, before_km=5).drive(5, 60).stop(120).drive(10, 80)
    assert alarms(run(trip)) == []


def test_a_short_stop_is_no_alarm() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(10, 80).stop(25).drive(10, 80)
    assert alarms(run(trip)) == []


def test_seal_opened_outside_an_authorised_place_is_critical() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(10, 80).stop(2)
    opened = len(trip.samples)
    trip.seal(opened=True).stop(3).seal().stop(2).drive(5, 80)
    events = run(trip)
    assert alarms(events) == [(Rule.SEAL_OPENED, OPEN, opened), (Rule.SEAL_OPENED, CLOSE, opened + 3)]
    assert events[0].severity is Severity.CRITICAL
    assert events[0].details == {"opened": True, "tampered": False}


def test_a_cut_seal_is_critical() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(10, 80)
    cut = len(trip.samples)
    trip.seal(tampered=True).drive(5, 80)
    events = run(trip)
    assert alarms(events) == [(Rule.SEAL_OPENED, OPEN, cut)]
    assert events[0].details == {"opened": False, "tampered": True}


def test_the_seal_may_be_opened_at_a_customs_office() -> None:
    trip = trip_from(MINSK_CUSTOMS, before_km=3).drive(3, 40).stop(5)
    trip.seal(opened=True).stop(20).seal().stop(5).drive(5, 50)
    assert alarms(run(trip)) == []
    assert hypot_m(M1[9], MINSK_CUSTOMS) < 100


def test_signal_lost_and_back() -> None:
    plan = plan_for()
    trip = Trip(plan, s=Road(plan).where(ZHODZINA) - 20_000).drive(10, 80)
    first = trip.fixes()
    silent_from = first[-1][1].time
    trip.samples.clear()
    trip.gap(30, kmh=80).drive(10, 80)
    second = trip.fixes()
    events = run_both(
        {1: plan},
        [
            batch(first, silent_from),
            check(silent_from + timedelta(seconds=119)),  # within twice the 60 s period
            check(silent_from + minutes(5)),
            check(silent_from + minutes(10)),  # already open: nothing new
            batch(second, second[-1][1].time),
        ],
    )
    assert [alarms(step) for step in events] == [
        [],
        [],
        [(Rule.SIGNAL_LOST, OPEN, None)],
        [],
        [(Rule.SIGNAL_LOST, CLOSE, 0)],
    ]
    lost = events[2][0]
    assert lost.at == silent_from + timedelta(seconds=120)
    assert lost.evidence[0].time == silent_from


def test_a_gap_inside_a_batch_is_recorded_as_lost_and_back() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(5, 80)
    before = len(trip.samples) - 1
    trip.gap(20, kmh=80).drive(5, 80)
    events = run(trip)
    assert alarms(events) == [(Rule.SIGNAL_LOST, OPEN, before), (Rule.SIGNAL_LOST, CLOSE, before + 1)]
    assert events[0].at == trip.samples[before].time + timedelta(seconds=120)


def test_late_when_the_recent_speed_cannot_make_the_time_limit() -> None:
    plan = plan_for(days=7 / 24)  # seven hours from Smolensk to Moscow, about 390 km
    trip = Trip(plan, s=Road(plan).where(SMOLENSK)).drive(80, 80)
    crawl = len(trip.samples)
    trip.drive(25, 20)  # a jam
    fast = len(trip.samples)
    trip.drive(100, 95)
    events = run(trip)
    (late, back) = [e for e in events if e.rule is Rule.LATE]
    assert late.kind is OPEN and back.kind is CLOSE
    assert crawl + 10 <= late.evidence[0].index < crawl + 40
    assert late.evidence[0].index < fast
    assert late.details["eta"] > plan.time_limit.isoformat()
    assert back.evidence[0].index > fast
    assert alarms(events) == [
        (Rule.LATE, OPEN, late.evidence[0].index),
        (Rule.LATE, CLOSE, back.evidence[0].index),
    ]


def test_time_limit_exceeded_by_the_clock_and_by_a_fix() -> None:
    plan = plan_for(days=1 / 24)  # one hour, and the truck is still near Smolensk
    trip = Trip(plan, s=Road(plan).where(SMOLENSK)).drive(20, 80)
    fixes = trip.fixes()
    silent_from = fixes[-1][1].time
    events = run_both({1: plan}, [batch(fixes, silent_from), check(plan.time_limit + minutes(1))])
    assert alarms(events[0]) == [(Rule.LATE, OPEN, 0)]  # 390 km in an hour: late from the start
    assert [(e.rule, e.at) for e in events[1]] == [
        (Rule.SIGNAL_LOST, silent_from + timedelta(seconds=120)),
        (Rule.TIME_LIMIT_EXCEEDED, plan.time_limit),
    ]
    trip.drive(80, 80)
    fixes = trip.fixes()
    over = next(i for i, (_, f) in enumerate(fixes) if f.time > plan.time_limit)
    events = run_both({1: plan}, [batch(fixes, fixes[-1][1].time)])
    assert (Rule.TIME_LIMIT_EXCEEDED, OPEN, over) in alarms(events[0])


def test_implausible_movement_is_a_spoofed_or_jammed_position() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(10, 80)
    spoofed = len(trip.samples)
    trip.spoof(60).drive(10, 80)
    events = run(trip)
    assert alarms(events) == [
        (Rule.IMPLAUSIBLE_MOVEMENT, OPEN, spoofed),
        (Rule.IMPLAUSIBLE_MOVEMENT, CLOSE, spoofed + 2),
    ]
    assert [r.index for r in events[0].evidence] == [spoofed - 1, spoofed]
    assert float(events[0].details["speed_kmh"]) > 3000


def test_low_battery() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(5, 80)
    low = len(trip.samples)
    trip.battery(3400).drive(5, 80)
    ok = len(trip.samples)
    trip.battery(3800).drive(5, 80)
    events = run(trip)
    assert alarms(events) == [(Rule.LOW_BATTERY, OPEN, low), (Rule.LOW_BATTERY, CLOSE, ok)]
    assert events[0].details == {"battery_v": pytest.approx(3.4)}


def test_a_fix_without_position_counts_for_the_signal_only() -> None:
    trip = trip_from(ZHODZINA, before_km=20).drive(5, 80)
    for _ in range(10):
        trip.invalid()
    trip.drive(2, 80)
    assert alarms(run(trip)) == []
