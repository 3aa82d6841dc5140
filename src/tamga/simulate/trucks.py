"""A truck's track along a corridor in time: pure, deterministic from a seed.

Speeds are drawn per few minutes, 70-90 km/h on the open road and 40-55 km/h within a few kilometres of a
town; the driver rests 45 minutes at an authorised rest area after about four hours at the wheel. GPS noise
is a few metres. Incidents are injected where asked, each at a place drawn from the seed:

- `detour`: the truck leaves the corridor by up to 4 km for about 15 km of road, then comes back;
- `field_stop`: it stops 40 minutes half a kilometre off the road, nowhere authorised;
- `night_opening`: it stops at night (00:00-05:00 Moscow time, else late in the trip) and the seal is open
  for 15 minutes;
- `lost_signal`: the device reports nothing at all for 20 minutes (a jammer, a dead antenna);
- `black_box`: 25 minutes without mobile coverage: fixes are recorded and sent later as a black box;
- `late_arrival`: a 3-hour unplanned stop and a slow last stretch, past the expected arrival.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from tamga.ingest.fix import Fix
from tamga.simulate.corridors import Corridor, offset_point

INCIDENTS: Final = frozenset(
    {"detour", "field_stop", "night_opening", "lost_signal", "black_box", "late_arrival"}
)
OFF_CORRIDOR: Final = frozenset({"detour", "field_stop"})
"""Incidents whose fixes are off the corridor; every other fix is on it (within GPS noise)."""

MOTORWAY_KMH: Final = (70.0, 90.0)
TOWN_KMH: Final = (40.0, 55.0)
TOWN_RADIUS_M: Final = 3_000.0
DRIVING_BEFORE_REST_S: Final = 4 * 3600.0
REST_S: Final = 45 * 60.0
GPS_NOISE_M: Final = 4.0
MOSCOW_UTC_OFFSET: Final = timedelta(hours=3)
EXPECTED_KMH: Final = 70.0
"""The average speed a plan expects, rests included, for the expected arrival."""

# Seal inputs of the generic seal profiles (tamga/ingest/profiles.json): opened bit 0, armed bit 2.
OPENED_BIT: Final = 1 << 0
ARMED_BIT: Final = 1 << 2


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """What the device records at one moment. `buffered` fixes are sent later, as a black box."""

    time: datetime
    lat: float
    lon: float
    speed_kmh: float
    course: int
    s_m: float
    opened: bool = False
    buffered: bool = False
    incident: str | None = None
    resting: bool = False


@dataclass(frozen=True)
class Track:
    """A truck's whole trip: its points, when it should arrive, when it did, and where incidents fell."""

    corridor: Corridor
    seed: int
    points: tuple[TrackPoint, ...]
    expected_arrival: datetime
    arrival: datetime
    incidents: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)


@dataclass
class _Window:
    """An incident that starts at `s_m` along the road and lasts `seconds` (or `length_m` of road)."""

    name: str
    s_m: float
    seconds: float = 0.0
    length_m: float = 0.0
    started: datetime | None = None
    ended: datetime | None = None
    elapsed: float = 0.0


def expected_arrival(corridor: Corridor, start: datetime) -> datetime:
    """When a truck leaving at `start` is expected at the corridor's end."""
    return start + timedelta(hours=corridor.length_m / 1000 / EXPECTED_KMH)


def _is_night(moment: datetime) -> bool:
    return 0 <= (moment + MOSCOW_UTC_OFFSET).hour < 5


def plan_track(
    corridor: Corridor,
    start: datetime,
    seed: int,
    *,
    incidents: Iterable[str] = (),
    period_s: float = 60.0,
) -> Track:
    """The track of one truck from one end of `corridor` to the other, recorded every `period_s`."""
    wanted = frozenset(incidents)
    if unknown := wanted - INCIDENTS:
        raise ValueError(f"unknown incidents: {sorted(unknown)}")
    rng = random.Random(seed)
    length = corridor.length_m
    windows: dict[str, _Window] = {}
    for name, (lo, hi), seconds, road_m in (
        # Spaced so that they fit one after another on the shortest corridor (~150 km).
        ("detour", (0.10, 0.14), 0.0, 15_000.0),
        ("lost_signal", (0.27, 0.30), 20 * 60.0, 0.0),
        ("field_stop", (0.49, 0.51), 40 * 60.0, 0.0),
        ("black_box", (0.52, 0.55), 25 * 60.0, 0.0),
        ("night_opening", (0.78, 0.82), 25 * 60.0, 0.0),
        ("late_arrival", (0.86, 0.90), 3 * 3600.0, 0.0),
    ):
        if name in wanted:
            windows[name] = _Window(name, rng.uniform(lo, hi) * length, seconds, road_m)
    side = rng.choice((-1.0, 1.0))
    rests = corridor.rest_areas_m()

    points: list[TrackPoint] = []
    t = start
    s = 0.0
    driven_s = 0.0
    cruise = rng.uniform(*MOTORWAY_KMH)
    cruise_left_s = 0.0
    stop_left_s = 0.0
    stop_kind: str | None = None
    stop_offset = (0.0, 0.0)
    rested_at: set[float] = set()
    last_s = 0.0  # where the truck was at its last position fix
    opened_until: datetime | None = None

    def noise() -> tuple[float, float]:
        return rng.gauss(0, GPS_NOISE_M), rng.gauss(0, GPS_NOISE_M)

    while s < length:
        incident: str | None = None
        opened = False
        if stop_left_s > 0:
            (lat, lon), course_f = corridor.at(s)
            east, north = noise()
            lat, lon = offset_point((lat, lon), east + stop_offset[0], north + stop_offset[1])
            speed = 0.0
            incident = stop_kind if stop_kind != "rest" else None
            opened = opened_until is not None and t < opened_until
            stop_left_s -= period_s
            resting = stop_kind == "rest"
            if stop_left_s <= 0 and stop_kind in windows:
                windows[stop_kind].ended = t
        else:
            resting = False
            # Start a stop where one is due: an authorised rest, or an injected incident.
            # Incidents do not overlap, so that each shows in the track as itself.
            due = None if _gap_active(windows) else _due_stop(windows, s, t, length)
            if due is None and driven_s >= DRIVING_BEFORE_REST_S:
                # a rest area passed since the last position: the truck pulled into it instead
                near = [r for r in rests if r not in rested_at and last_s <= r < s]
                if near:
                    rested_at.add(near[0])
                    s = near[0]
                    due = "rest"
            if due is not None:
                stop_kind = due
                stop_left_s = REST_S if due == "rest" else windows[due].seconds
                if due == "rest":
                    driven_s = 0.0
                else:
                    windows[due].started = t
                stop_offset = (0.0, 0.0)
                if due == "field_stop":
                    # Half a kilometre square to the road, whatever its direction.
                    _, course_f = corridor.at(s)
                    angle = math.radians(course_f + 90 * side)
                    stop_offset = (500 * math.sin(angle), 500 * math.cos(angle))
                if due == "night_opening":
                    opened_until = t + timedelta(minutes=15)
                continue
            if cruise_left_s <= 0:
                cruise = rng.uniform(*MOTORWAY_KMH)
                cruise_left_s = rng.uniform(300, 900)
            in_town = corridor.town_distance_m(s) < TOWN_RADIUS_M
            speed = rng.uniform(*TOWN_KMH) if in_town else cruise
            late = windows.get("late_arrival")
            if late is not None and late.started is not None:
                speed = min(speed, rng.uniform(45.0, 55.0))
            detour = windows.get("detour")
            lateral = 0.0
            if detour is not None and detour.s_m <= s < detour.s_m + detour.length_m:
                detour.started = detour.started or t
                speed = min(speed, rng.uniform(45.0, 60.0))
                lateral = 4000.0 * math.sin(math.pi * (s - detour.s_m) / detour.length_m) * side
                incident = "detour"
            elif detour is not None and detour.started is not None and detour.ended is None:
                detour.ended = t
            (lat, lon), course_f = corridor.at(s)
            angle = math.radians(course_f + 90)
            east, north = noise()
            lat, lon = offset_point(
                (lat, lon), east + lateral * math.sin(angle), north + lateral * math.cos(angle)
            )
            last_s = s
            s += speed / 3.6 * period_s
            driven_s += period_s
            cruise_left_s -= period_s
        holding = stop_left_s > 0 and stop_kind in windows
        silent, buffered = _coverage(windows, s, t, period_s, holding)
        if silent:
            incident = "lost_signal"
        if not silent:
            points.append(
                TrackPoint(
                    time=t,
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    speed_kmh=round(speed, 1),
                    course=round(course_f) % 360,
                    s_m=s,
                    opened=opened,
                    buffered=buffered,
                    incident=incident,
                    resting=resting,
                )
            )
        t += timedelta(seconds=period_s)
    end, course_end = corridor.at(length)
    points.append(TrackPoint(t, round(end[0], 6), round(end[1], 6), 0.0, round(course_end) % 360, length))
    windows_out = {w.name: (w.started, w.ended or t) for w in windows.values() if w.started is not None}
    return Track(corridor, seed, tuple(points), expected_arrival(corridor, start), t, windows_out)


def _due_stop(windows: dict[str, _Window], s: float, t: datetime, length: float) -> str | None:
    for name in ("field_stop", "late_arrival"):
        w = windows.get(name)
        if w is not None and w.started is None and s >= w.s_m:
            return name
    w = windows.get("night_opening")
    if w is not None and w.started is None and (_is_night(t) or s >= w.s_m) and s > 0.05 * length:
        return "night_opening"
    return None


def _gap_active(windows: dict[str, _Window]) -> bool:
    return any(
        w.started is not None and w.elapsed < w.seconds
        for name in ("lost_signal", "black_box")
        if (w := windows.get(name)) is not None
    )


def _coverage(
    windows: dict[str, _Window], s: float, t: datetime, period_s: float, holding: bool
) -> tuple[bool, bool]:
    """(silent, buffered) at this step: the lost-signal and black-box windows run in time from their place.

    A gap does not begin while an incident stop is `holding`, nor while the other gap runs.
    """
    flags: list[bool] = []
    for name in ("lost_signal", "black_box"):
        w = windows.get(name)
        active = False
        # One gap at a time: a coverage gap due during a lost signal begins when the signal is back.
        due = w is not None and s >= w.s_m and w.elapsed < w.seconds and not any(flags)
        if w is not None and due and (w.started is not None or not holding):
            w.started = w.started or t
            w.elapsed += period_s
            active = True
            if w.elapsed >= w.seconds:
                w.ended = t
        flags.append(active)
    return flags[0], flags[1]


def battery_v(track: Track, point: TrackPoint) -> float:
    """The seal's battery, running down from 4.1 V to 3.8 V over the trip."""
    span = (track.arrival - track.points[0].time).total_seconds() or 1.0
    return round(4.1 - 0.3 * (point.time - track.points[0].time).total_seconds() / span, 3)


def to_fix(track: Track, point: TrackPoint, device_id: str, record_id: int, battery_scale: float) -> Fix:
    """The fix a generic seal reports for `point`: armed, opened when it is, battery on analog input 1."""
    return Fix(
        device_id=device_id,
        record_id=record_id,
        time=point.time,
        lat=point.lat,
        lon=point.lon,
        speed_kmh=point.speed_kmh,
        course=point.course,
        valid=True,
        from_black_box=point.buffered,
        satellites=9,
        hdop=0.9,
        inputs=ARMED_BIT | (OPENED_BIT if point.opened else 0),
        analog={1: round(battery_v(track, point) / battery_scale, 3)},
    )
