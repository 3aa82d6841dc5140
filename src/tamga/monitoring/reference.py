"""The monitoring rules one fix at a time, in plain Python: the specification the engine is held to.

Same API and semantics as `tamga.monitoring.engine` (read `domain` for the rules and `engine` for the
batch policy); written for reading, not speed: loops over the route's segments, a step function per fix,
no numpy. It shares with the engine only what defines a movement's geometry (the densified route and its
frame, `corridor`), the device profiles and the country lookup (`borders.country_of_point`, one point at
a time). The tests and the benchmark compare the two on the same batches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby, pairwise

from tamga.ingest.fix import Fix
from tamga.ingest.profiles import seal_state
from tamga.monitoring import borders
from tamga.monitoring.corridor import Frame, frame_for, full_route, initial_state
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

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
Details = dict[str, float | int | str | bool | None]


@dataclass(slots=True)
class _Geometry:
    frame: Frame
    xy: list[tuple[float, float]]
    along: list[float]  # distance along the route at each vertex
    length: float
    places: list[tuple[float, float, float]]  # x, y, radius

    def locate(self, x: float, y: float) -> tuple[float, float]:
        """Give the distance from (x, y) to the route and the distance along the route of its foot."""
        best, best_along = math.inf, 0.0
        if len(self.xy) == 1:
            ax, ay = self.xy[0]
            return math.hypot(x - ax, y - ay), 0.0
        for i in range(len(self.xy) - 1):
            (ax, ay), (bx, by) = self.xy[i], self.xy[i + 1]
            dx, dy = bx - ax, by - ay
            squared = dx * dx + dy * dy
            t = 0.0 if squared == 0.0 else min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / squared))
            distance = math.hypot(x - (ax + t * dx), y - (ay + t * dy))
            if distance < best:
                best, best_along = distance, self.along[i] + t * math.sqrt(squared)
        return best, best_along

    def in_place(self, x: float, y: float) -> bool:
        return any(math.hypot(x - px, y - py) <= radius for px, py, radius in self.places)


def _geometry(plan: MovementPlan) -> _Geometry:
    route = full_route(plan)
    frame = frame_for(route)
    xy = [frame.project(lat, lon) for lat, lon in route]
    along = [0.0]
    for (ax, ay), (bx, by) in pairwise(xy):
        along.append(along[-1] + math.hypot(bx - ax, by - ay))
    places = [(*frame.project(p.lat, p.lon), p.radius_m) for p in plan.places]
    return _Geometry(frame, xy, along, along[-1], places)


def _us(at: datetime) -> int:
    return (at - EPOCH) // MICROSECOND


def _iso_from_us(us: float) -> str:
    return (EPOCH + timedelta(seconds=round(us / 1e6))).isoformat()


class _Step:
    """Applies the rules to one movement's fixes in time order, emitting into `events`."""

    def __init__(
        self,
        plan: MovementPlan,
        geometry: _Geometry,
        state: MovementState,
        positions: Mapping[datetime, int],
        *,
        retrospective: bool,
    ) -> None:
        self.plan, self.geometry, self.state, self.positions = plan, geometry, state, positions
        self.retrospective = retrospective
        self.events: list[AlarmEvent] = []

    def ref(self, at: datetime) -> FixRef:
        return FixRef(self.positions.get(at), at)

    def emit(
        self, rule: Rule, kind: EventKind, at: datetime, evidence: tuple[FixRef, ...], details: Details
    ) -> None:
        self.events.append(
            AlarmEvent(self.plan.movement_id, rule, kind, SEVERITY[rule], at, evidence, details)
        )
        if kind is EventKind.OPEN:
            self.state.open_alarms.add(rule)
        elif kind is EventKind.CLOSE:
            self.state.open_alarms.discard(rule)

    def is_open(self, rule: Rule) -> bool:
        return rule in self.state.open_alarms

    def fix(self, fix: Fix) -> None:
        plan, s, th = self.plan, self.state, self.plan.thresholds
        t = fix.time
        here = (self.ref(t),)
        seal = seal_state(plan.device_profile, fix)

        # signal: a fix after an open alarm brings the signal back; a gap nobody saw live opens and closes
        since = s.last_time if s.last_time is not None else plan.released_at
        limit = plan.signal_lost_after
        if self.is_open(Rule.SIGNAL_LOST):
            self.emit(Rule.SIGNAL_LOST, EventKind.CLOSE, t, here, {"silent_s": (t - since).total_seconds()})
        elif t - since > limit:
            before = (self.ref(s.last_time),) if s.last_time is not None else ()
            self.emit(
                Rule.SIGNAL_LOST,
                EventKind.OPEN,
                since + limit,
                before,
                {"silent_since": since.isoformat(), "threshold_s": limit.total_seconds()},
            )
            self.emit(Rule.SIGNAL_LOST, EventKind.CLOSE, t, here, {"silent_s": (t - since).total_seconds()})
        s.last_time = t

        if t > plan.time_limit and not self.is_open(Rule.TIME_LIMIT_EXCEEDED):
            self.emit(
                Rule.TIME_LIMIT_EXCEEDED,
                EventKind.OPEN,
                plan.time_limit,
                here,
                {"time_limit": plan.time_limit.isoformat()},
            )

        valid = fix.valid and math.isfinite(fix.lat) and math.isfinite(fix.lon)
        x = y = 0.0
        in_place = False
        if valid:
            x, y = self.geometry.frame.project(fix.lat, fix.lon)
            in_place = self.geometry.in_place(x, y)

        bad = seal.opened is True or seal.tampered is True
        reported = seal.opened is not None or seal.tampered is not None
        if bad and not in_place and not self.is_open(Rule.SEAL_OPENED):
            self.emit(
                Rule.SEAL_OPENED, EventKind.OPEN, t, here, {"opened": seal.opened, "tampered": seal.tampered}
            )
        elif reported and not bad and self.is_open(Rule.SEAL_OPENED):
            self.emit(
                Rule.SEAL_OPENED, EventKind.CLOSE, t, here, {"opened": False, "tampered": seal.tampered}
            )

        if seal.low_battery is True and not self.is_open(Rule.LOW_BATTERY):
            self.emit(Rule.LOW_BATTERY, EventKind.OPEN, t, here, {"battery_v": seal.battery_v})
        elif seal.low_battery is False and self.is_open(Rule.LOW_BATTERY):
            self.emit(Rule.LOW_BATTERY, EventKind.CLOSE, t, here, {"battery_v": seal.battery_v})

        if not valid:
            return
        distance, along = self.geometry.locate(x, y)

        speed = None if fix.speed_kmh is None or math.isnan(fix.speed_kmh) else fix.speed_kmh
        if s.last_pos_time is not None and s.last_lat is not None and s.last_lon is not None:
            px, py = self.geometry.frame.project(s.last_lat, s.last_lon)
            seconds = ((t - s.last_pos_time) // MICROSECOND) / 1e6
            step_m = math.hypot(x - px, y - py)
            implied = step_m / seconds * 3.6
            if implied > th.max_speed_kmh:
                if not self.is_open(Rule.IMPLAUSIBLE_MOVEMENT):
                    self.emit(
                        Rule.IMPLAUSIBLE_MOVEMENT,
                        EventKind.OPEN,
                        t,
                        (self.ref(s.last_pos_time), *here),
                        {"speed_kmh": implied, "distance_m": step_m},
                    )
            elif self.is_open(Rule.IMPLAUSIBLE_MOVEMENT):
                self.emit(Rule.IMPLAUSIBLE_MOVEMENT, EventKind.CLOSE, t, here, {"speed_kmh": implied})
            if th.stop_speed_kmh <= implied <= th.max_speed_kmh:
                keep = math.exp(-seconds / th.speed_smoothing.total_seconds())
                s.speed_kmh = keep * s.speed_kmh + (1.0 - keep) * implied
            if speed is None:
                speed = implied

        if distance > plan.corridor_width_m:
            if s.outside_since is None:
                s.outside_since, s.outside_fixes = t, 1
            else:
                s.outside_fixes += 1
            dwelt = t - s.outside_since >= th.deviation_dwell and s.outside_fixes >= th.deviation_min_fixes
            if dwelt and not self.is_open(Rule.CORRIDOR_DEVIATION):
                self.emit(
                    Rule.CORRIDOR_DEVIATION,
                    EventKind.OPEN,
                    t,
                    here,
                    {
                        "distance_m": distance,
                        "outside_since": s.outside_since.isoformat(),
                        "outside_fixes": s.outside_fixes,
                    },
                )
        else:
            if self.is_open(Rule.CORRIDOR_DEVIATION):
                self.emit(Rule.CORRIDOR_DEVIATION, EventKind.CLOSE, t, here, {"distance_m": distance})
            s.outside_since, s.outside_fixes = None, 0

        if speed is not None:
            if speed < th.stop_speed_kmh and not in_place:
                if s.stopped_since is None:
                    s.stopped_since = t
                if t - s.stopped_since >= th.stop_dwell and not self.is_open(Rule.UNSCHEDULED_STOP):
                    self.emit(
                        Rule.UNSCHEDULED_STOP,
                        EventKind.OPEN,
                        t,
                        here,
                        {"stopped_since": s.stopped_since.isoformat(), "speed_kmh": speed},
                    )
            else:
                s.stopped_since = None
                if self.is_open(Rule.UNSCHEDULED_STOP):
                    self.emit(Rule.UNSCHEDULED_STOP, EventKind.CLOSE, t, here, {"speed_kmh": speed})

        remaining = self.geometry.length - along + distance
        eta = _us(t) + remaining / (s.speed_kmh / 3.6) * 1e6
        limit_us = _us(plan.time_limit)
        late: Details = {"eta": _iso_from_us(eta), "remaining_km": remaining / 1000, "speed_kmh": s.speed_kmh}
        if eta > limit_us and not self.is_open(Rule.LATE):
            self.emit(Rule.LATE, EventKind.OPEN, t, here, late)
        elif eta <= limit_us - th.late_margin // MICROSECOND and self.is_open(Rule.LATE):
            self.emit(Rule.LATE, EventKind.CLOSE, t, here, late)
        s.remaining_m = remaining

        if not self.retrospective:
            self.border(fix)
        s.last_pos_time, s.last_lat, s.last_lon = t, fix.lat, fix.lon

    def border(self, fix: Fix) -> None:
        s, th = self.state, self.plan.thresholds
        country = borders.country_of_point(fix.lat, fix.lon)
        if country is None:
            return
        if s.country is None or country == s.country:
            s.country = country
            s.border_anchor_time, s.border_anchor_lat, s.border_anchor_lon = fix.time, fix.lat, fix.lon
            s.candidate_country, s.candidate_fixes = None, 0
            s.candidate_time = s.candidate_lat = s.candidate_lon = None
            return
        if s.candidate_country == country:
            s.candidate_fixes += 1
        else:
            s.candidate_country, s.candidate_fixes = country, 1
            s.candidate_time, s.candidate_lat, s.candidate_lon = fix.time, fix.lat, fix.lon
        if s.candidate_fixes < th.border_confirm_fixes:
            return
        a_time, a_lat, a_lon = s.border_anchor_time, s.border_anchor_lat, s.border_anchor_lon
        c_time, c_lat, c_lon = s.candidate_time, s.candidate_lat, s.candidate_lon
        assert a_time is not None and a_lat is not None and a_lon is not None
        assert c_time is not None and c_lat is not None and c_lon is not None
        share = borders.crossing_fraction(a_lat, a_lon, c_lat, c_lon, s.country)
        self.emit(
            Rule.BORDER_CROSSING,
            EventKind.EVENT,
            a_time + (c_time - a_time) * share,
            (self.ref(a_time), self.ref(c_time)),
            {
                "from": s.country,
                "to": country,
                "border": borders.border_name(s.country, country),
                "kind": borders.border_kind(s.country, country),
                "lat": a_lat + share * (c_lat - a_lat),
                "lon": a_lon + share * (c_lon - a_lon),
            },
        )
        s.country = country
        s.border_anchor_time, s.border_anchor_lat, s.border_anchor_lon = fix.time, fix.lat, fix.lon
        s.candidate_country, s.candidate_fixes = None, 0
        s.candidate_time = s.candidate_lat = s.candidate_lon = None


def _retrospective(event: AlarmEvent) -> AlarmEvent:
    return AlarmEvent(
        event.movement_id,
        event.rule,
        EventKind.EVENT,
        event.severity,
        event.at,
        event.evidence,
        {**event.details, "retrospective": True},
    )


def process_batch(
    plans: Mapping[int, MovementPlan],
    states: MutableMapping[int, MovementState],
    fixes: Sequence[tuple[int, Fix]],
    now: datetime,
) -> BatchResult:
    """Apply the rules to a batch of (movement id, fix), one fix at a time; update `states` in place."""
    rejected: list[tuple[int, str]] = []
    accepted: list[tuple[int, datetime, int, Fix]] = []
    for position, (movement_id, fix) in enumerate(fixes):
        plan = plans.get(movement_id)
        if plan is None:
            rejected.append((position, "no plan for the movement"))
        elif fix.time > now + FUTURE_TOLERANCE:
            rejected.append((position, "dated in the future"))
        elif fix.time < plan.released_at:
            rejected.append((position, "dated before the release"))
        else:
            accepted.append((movement_id, fix.time, position, fix))
    accepted.sort(key=lambda item: item[:3])
    events: list[AlarmEvent] = []
    duplicates = late_count = 0
    for movement_id, items in groupby(accepted, key=lambda item: item[0]):
        plan = plans[movement_id]
        state = states.get(movement_id)
        if state is None:
            state = states[movement_id] = initial_state(plan)
        newest = state.last_time
        late: list[tuple[int, Fix]] = []
        live: list[tuple[int, Fix]] = []
        previous: datetime | None = None
        for _, at, position, fix in items:
            if at in (previous, newest):
                duplicates += 1
                continue
            previous = at
            (late if newest is not None and at < newest else live).append((position, fix))
        geometry = _geometry(plan)
        if late:
            late_count += len(late)
            scratch = _Step(
                plan,
                geometry,
                initial_state(plan),
                {f.time: p for p, f in late},
                retrospective=True,
            )
            for _, fix in late:
                scratch.fix(fix)
            events.extend(
                _retrospective(e)
                for e in scratch.events
                if e.kind is EventKind.OPEN and e.rule in RETROSPECTIVE_RULES
            )
        step = _Step(plan, geometry, state, {f.time: p for p, f in live}, retrospective=False)
        for _, fix in live:
            step.fix(fix)
        events.extend(step.events)
    return BatchResult(sort_events(events), rejected, duplicates, late_count)


def check_time(
    plans: Mapping[int, MovementPlan], states: MutableMapping[int, MovementState], now: datetime
) -> list[AlarmEvent]:
    """Apply the time rules (signal lost, late, time limit exceeded) at `now`, without new fixes."""
    events: list[AlarmEvent] = []
    for movement_id, plan in plans.items():
        state = states.get(movement_id)
        if state is None:
            state = states[movement_id] = initial_state(plan)
        step = _Step(plan, _NO_GEOMETRY, state, {}, retrospective=False)
        since = state.last_time if state.last_time is not None else plan.released_at
        limit = plan.signal_lost_after
        if now - since > limit and not step.is_open(Rule.SIGNAL_LOST):
            before = (FixRef(None, state.last_time),) if state.last_time is not None else ()
            step.emit(
                Rule.SIGNAL_LOST,
                EventKind.OPEN,
                since + limit,
                before,
                {"silent_since": since.isoformat(), "threshold_s": limit.total_seconds()},
            )
        if now > plan.time_limit and not step.is_open(Rule.TIME_LIMIT_EXCEEDED):
            step.emit(
                Rule.TIME_LIMIT_EXCEEDED,
                EventKind.OPEN,
                plan.time_limit,
                (),
                {"time_limit": plan.time_limit.isoformat()},
            )
        if not step.is_open(Rule.LATE):
            base = state.last_pos_time if state.last_pos_time is not None else plan.released_at
            eta = max(float(_us(now)), _us(base) + state.remaining_m / (state.speed_kmh / 3.6) * 1e6)
            if eta > _us(plan.time_limit):
                step.emit(
                    Rule.LATE,
                    EventKind.OPEN,
                    now,
                    (),
                    {
                        "eta": _iso_from_us(eta),
                        "remaining_km": state.remaining_m / 1000,
                        "speed_kmh": state.speed_kmh,
                    },
                )
        events.extend(step.events)
    return sort_events(events)


_NO_GEOMETRY = _Geometry(Frame(0.0, 0.0, 1.0), [(0.0, 0.0)], [0.0], 0.0, [])
